"""The operator's dashboard under ``/dashboard``: server-rendered pages over the same store and dialer as the API.

An account signs in with its seed-002 credentials (account id and ``auth`` secret) and gets a signed,
HttpOnly, SameSite=Lax session cookie scoped to ``/dashboard``. Every page and action reads only that
account's rows: another account's campaign or call answers 404, like one that does not exist.

* :mod:`api.dashboard.signin` — sign-in, sign-out, the session check and the CSRF token of forms;
* :mod:`api.dashboard.data` — what the pages show (campaign progress, achieved rate, live calls, CDR search),
  built on :mod:`dialer.cdr_reports`, :mod:`dialer.attempts` and :func:`dialer.agents.campaign_statistics`;
* :mod:`api.dashboard.views` — the pages and the actions (start/pause/stop through :mod:`dialer.submit`,
  hangup/transfer through :func:`api.livecall.modify`, the CSV export);
* :mod:`api.dashboard.stream` — server-sent events that keep an open page up to date.

The chart is uPlot, vendored from npm under ``static/vendor/`` (see its README): no build toolchain.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import time

from flask import Blueprint, Flask

from config import Settings

bp = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")

URL_PREFIX = "/dashboard"
SECRET_FILE = "dashboard-secret"


def secret_key(cfg: Settings) -> str:
    """DASHBOARD_SECRET_KEY, or the key kept in ``<DATA_DIR>/dashboard-secret`` (made once, atomically).

    Every API worker (and every restart) must sign with the same key, or a cookie signed by one worker
    would be refused by the next: so the random key is written to a file that the first worker creates
    (a complete file linked into place, so no worker reads a half-written one) and the others read.
    """
    if cfg.dashboard_secret_key:
        return cfg.dashboard_secret_key
    path = cfg.path(SECRET_FILE)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    for _ in range(50):
        try:
            with open(path) as fh:
                value = fh.read().strip()
            if value:
                return value
        except FileNotFoundError:
            pass
        tmp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)  # fails if another worker was first: then its key is read above
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
        time.sleep(0.01)
    raise RuntimeError(f"cannot read or create the dashboard's secret key in {path}")


def init_app(app: Flask, cfg: Settings) -> None:
    """Register the dashboard on ``app`` under /dashboard, with its session cookie's settings."""
    from api.dashboard import views  # noqa: F401  (routes are added to bp)

    app.secret_key = secret_key(cfg)
    app.config.update(
        SESSION_COOKIE_NAME="vaani_dashboard",
        SESSION_COOKIE_PATH=URL_PREFIX,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=cfg.base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=cfg.dashboard_session_hours),
    )
    app.register_blueprint(bp, url_prefix=URL_PREFIX)

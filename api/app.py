"""The Flask application factory: ``create_app(settings=None)``.

It opens the store (running migrations unless told not to), connects Redis,
registers the three seeds' blueprints, the recordings route, /openapi.json and
/docs, and the JSON error handlers. Production serves it with gunicorn and
gevent workers (``api.wsgi:app``, see docs/api.md).
"""

from __future__ import annotations

import logging

import redis as redis_lib
from flask import Flask, jsonify

from api import errors
from config import Settings, settings as default_settings

#: Largest request accepted: a CSV import may be large; everything else is small.
MAX_CONTENT_LENGTH = 64 * 1024 * 1024


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> Flask:
    """Build the API for ``settings`` (default: from the environment)."""
    cfg = settings or default_settings()
    app = Flask("vaani")
    app.config["VAANI"] = cfg
    app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    # Above this size, form parts are spooled to disk instead of memory.
    app.config["MAX_FORM_MEMORY_SIZE"] = 1024 * 1024
    app.config["TRUSTED_PROXIES"] = ("127.0.0.1/32", "::1/128")
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    from dialer.store import db

    if migrate:
        engine = db.init_db(cfg.sqlalchemy_url)
    else:
        engine = db.get_engine(cfg.sqlalchemy_url)
    from api import store

    store.tune(engine)
    app.extensions["vaani_redis"] = redis_lib.Redis.from_url(cfg.redis_url, socket_timeout=5,
                                                             socket_connect_timeout=2)

    from api import agents, apps, cpaas, cpaas_admin, cpaas_records, kairos, konnect, openapi, recordings  # noqa: F401

    app.register_blueprint(cpaas.bp, url_prefix="/api")
    app.register_blueprint(agents.bp, url_prefix="/api")
    app.register_blueprint(cpaas.root_bp)
    app.register_blueprint(konnect.bp, url_prefix="/api/v1/Accounts")
    app.register_blueprint(konnect.admin_bp, url_prefix="/admin/api/v1/Accounts")
    from api import konnect_balance, snapcall

    app.register_blueprint(konnect_balance.bp, url_prefix="/api/v1/Accounts")
    app.register_blueprint(snapcall.bp, url_prefix="/api/v1/Accounts")
    app.register_blueprint(snapcall.apps_bp)
    import billing.sms

    billing.sms.install()  # messages accepted here are charged per part (docs/billing.md)
    app.register_blueprint(kairos.bp, url_prefix="/kairos-apis")
    app.register_blueprint(recordings.bp)
    app.register_blueprint(apps.bp)
    app.register_blueprint(openapi.bp)
    from api import konnect_messages

    app.register_blueprint(konnect_messages.bp, url_prefix="/api/v1/Accounts")
    app.register_blueprint(konnect_messages.links_bp)  # the short links of tracked URLs: /l/<code>
    from api import dashboard

    dashboard.init_app(app, cfg)  # the operator's pages under /dashboard

    @app.get("/health")
    def health():
        """Liveness: the process answers (used by `make run` and load balancers)."""
        return jsonify({"status": "ok"})

    errors.install(app)
    from api import metrics

    metrics.install(app, cfg.metrics_enabled)  # requests by URL rule and status, GET /metrics
    logging.getLogger("vaani").setLevel(logging.INFO)
    return app

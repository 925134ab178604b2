"""Fixtures for the API tests: the real app served over real HTTP on a free loopback port.

``api_stack`` (module scope, SQLite and PostgreSQL) starts ``api.app.create_app``
in a gevent ``WSGIServer`` inside the (monkey-patched) test process, on a
fresh database, with the real Redis under a unique key prefix. Tests talk to
it with ``requests`` and create their own accounts, so they stay independent
while sharing one server per module and database.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from dataclasses import dataclass, field

import pytest
import requests

from tests.conftest import free_port, nodelay_listener


@dataclass
class ApiStack:
    """A running API: its base URL, settings and helpers to make accounts and send requests."""

    base: str
    cfg: object
    data_dir: str
    http: requests.Session = field(default_factory=requests.Session)

    def url(self, path: str) -> str:
        """Absolute URL of ``path``."""
        return self.base + path

    def account(self, *, ip_allowlist=("127.0.0.1/32",), **kw):
        """A new account with known secrets (``.account_id``, ``.auth``, ``.api_token``)."""
        from dialer.store import accounts, db

        with db.session_scope(self.cfg.sqlalchemy_url) as s:
            return accounts.create_account(s, "test", ip_allowlist=list(ip_allowlist), **kw)

    def flow(self, account_id: str, app_url: str = "http://127.0.0.1:9/app.xml", **kw):
        """A Kairos flow of ``account_id``: returns (flow_id, security_id)."""
        from dialer.store import accounts, db

        with db.session_scope(self.cfg.sqlalchemy_url) as s:
            flow, security_id = accounts.create_flow(s, account_id, app_url, **kw)
            return flow.id, security_id

    def session(self):
        """A store session on the stack's database."""
        from dialer.store import db

        return db.session_scope(self.cfg.sqlalchemy_url)

    def cpaas(self, method: str, path: str, acct, **kw) -> requests.Response:
        """A seed-002 request with the account's ``account``/``auth`` headers."""
        headers = {"account": acct.account_id, "auth": acct.auth, **kw.pop("headers", {})}
        return self.http.request(method, self.url(path), headers=headers, timeout=30, **kw)

    def konnect(self, method: str, path: str, acct, **kw) -> requests.Response:
        """A Konnect request: account id in the path, token in Authorization."""
        headers = {"Authorization": acct.api_token, **kw.pop("headers", {})}
        return self.http.request(method, self.url(f"/api/v1/Accounts/{acct.account_id}{path}"), headers=headers,
                                 timeout=30, **kw)


def _start(db_url: str, tmp_dir: str, redis_url: str, prefix: str, extra: dict | None = None):
    from gevent.pywsgi import WSGIServer

    from api.app import create_app
    from config import load

    listener = nodelay_listener()
    port = listener.getsockname()[1]
    env = {
        "DATA_DIR": tmp_dir, "DATABASE_URL": db_url, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": prefix,
        "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(port),
        # No FreeSWITCH listens here: the API must never need one to accept a request.
        "FREESWITCH_NODES": f"127.0.0.1:{free_port()}:ClueCon", "KAIROS_CHECKSUM_WINDOW": "300",
        **(extra or {}),
    }
    cfg = load(env)
    app = create_app(cfg)
    server = WSGIServer(listener, app, log=None, error_log=None)
    server.start()
    return ApiStack(base=f"http://127.0.0.1:{port}", cfg=cfg, data_dir=tmp_dir), server


def _cleanup_redis(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    for pattern in (f"{prefix}*", f"rq:*{prefix}*"):
        for key in client.scan_iter(match=pattern, count=1000):
            client.delete(key)
    client.close()


@contextlib.contextmanager
def api_on(request, tmp_path_factory, name: str, extra_env: dict | None = None):
    """The API served on ``request.param``'s database ("sqlite", or "postgresql": a fresh schema), Redis under a
    unique prefix; yields the stack and removes all of it afterwards. Shared by this file's fixtures and others'."""
    import sqlalchemy as sa

    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    tmp = tmp_path_factory.mktemp(name)
    schema = engine = None
    if request.param == "sqlite":
        db_url = f"sqlite:///{tmp / 'vaani.db'}"
    else:
        base = request.getfixturevalue("postgres_url")
        schema = f"t_{uuid.uuid4().hex[:10]}"
        engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        db_url = f"{base}?options=-csearch_path%3D{schema}"
    stack, server = _start(db_url, str(tmp), redis_url, prefix, extra_env)
    try:
        yield stack
    finally:
        server.stop(timeout=1)
        from dialer.store import db

        db.dispose(db_url)
        _cleanup_redis(redis_url, prefix)
        if schema:
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api_stack(request, tmp_path_factory):
    """The API on SQLite and on PostgreSQL (a fresh schema), with Redis under a unique prefix."""
    with api_on(request, tmp_path_factory, "api") as stack:
        yield stack


@pytest.fixture(scope="module")
def sqlite_stack(tmp_path_factory):
    """The API on SQLite only, for tests whose subject is not the database (fuzzing, curl examples)."""
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    tmp = tmp_path_factory.mktemp("api")
    db_url = f"sqlite:///{tmp / 'vaani.db'}"
    stack, server = _start(db_url, str(tmp), redis_url, prefix)
    yield stack
    server.stop(timeout=1)
    from dialer.store import db

    db.dispose(db_url)
    _cleanup_redis(redis_url, prefix)
    shutil.rmtree(tmp, ignore_errors=True)

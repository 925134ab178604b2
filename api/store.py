"""The API's handles on shared state: a SQL session on the app's database, its Redis client and settings.

Views call :func:`session` (a ``dialer.store.db.session_scope`` bound to the
app's ``DATABASE_URL``), :func:`redis` and :func:`cfg` instead of reaching for
globals, so that several apps with different settings can live in one process
(as the tests do).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import redis as redis_lib
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from config import Settings
from dialer.store import db


#: SQLite page cache per connection, in KiB (SQLite's default is 2 MiB). The call_requests and attempts
#: indexes are keyed by random ids, so a batch's inserts touch pages all over them; once the tables
#: outgrow the default cache every insert rereads pages and a 500-call batch costs a third more CPU.
SQLITE_CACHE_KIB = 32768


def _sqlite_cache(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cur.close()


def tune(engine) -> None:
    """Give the API's SQLite connections a larger page cache (no-op on PostgreSQL; once per engine)."""
    if engine.dialect.name != "sqlite" or event.contains(engine, "connect", _sqlite_cache):
        return
    event.listen(engine, "connect", _sqlite_cache)
    # Pooled connections opened before (by the migrations) are closed, so every connection gets it.
    engine.dispose()


def cfg() -> Settings:
    """The settings the current app was created with."""
    return current_app.config["VAANI"]


@contextlib.contextmanager
def session(*, immediate: bool = False) -> Iterator[Session]:
    """A transaction on the app's database (committed at the end of the block)."""
    with db.session_scope(cfg().sqlalchemy_url, immediate=immediate) as s:
        yield s


def redis() -> redis_lib.Redis:
    """The app's Redis client (one connection pool per app)."""
    return current_app.extensions["vaani_redis"]


def key(*parts: str) -> str:
    """A Redis key under this installation's prefix: ``key("kairos", "checksum", h)``."""
    return ":".join((cfg().key_prefix, *parts))

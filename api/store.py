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


def _no_autocheckpoint(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA wal_autocheckpoint=0")
    cur.close()


def start_checkpointer(url: str, interval: float = 1.0) -> bool:
    """Checkpoint this process's SQLite WAL from an OS thread instead of inside requests' commits.

    By default the commit that pushes the WAL past 1000 pages copies them
    into the database file and syncs it, and the request that made that
    commit waits (20-30 ms for a 500-call batch, every few batches). Here
    the process's connections never checkpoint; a real thread (not a
    greenlet: SQLite releases the GIL, so the gevent loop runs on) runs a
    PASSIVE checkpoint every ``interval`` seconds on its own connection.
    Commits are as durable as before: they are in the WAL either way.
    For gunicorn workers (``api.gunicorn_conf``); returns False on PostgreSQL
    or an in-memory database.
    """
    engine = db.get_engine(url)
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        return False
    if not event.contains(engine, "connect", _no_autocheckpoint):
        event.listen(engine, "connect", _no_autocheckpoint)
        engine.dispose()
    from gevent import monkey

    start_thread = monkey.get_original("_thread", "start_new_thread")
    start_thread(_checkpoint_loop, (path, interval, monkey.get_original("time", "sleep")))
    return True


def _checkpoint_loop(path: str, interval: float, sleep) -> None:
    import logging
    import sqlite3

    conn = sqlite3.connect(path, timeout=db.SQLITE_BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.execute("PRAGMA synchronous=NORMAL")
    while True:
        sleep(interval)
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # busy or a vanished file: try again at the next tick
            logging.getLogger("vaani.api").warning("WAL checkpoint failed: %s", exc)


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

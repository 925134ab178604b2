"""Engines and sessions for the durable store: SQLite (WAL) by default, PostgreSQL by ``DATABASE_URL``.

Usage::

    from dialer.store import db
    db.init_db()                      # once at start-up: runs the migrations
    with db.session_scope() as s:     # commits on success, rolls back on error
        s.add(...)
    with db.session_scope(immediate=True) as s:
        ...                           # read-modify-write: takes the write lock first

Engines are cached per URL, so every module of a process shares one pool.

SQLite is opened in WAL mode (readers never wait for the writer) with a busy
timeout (a second writer waits instead of failing at once) and foreign keys
on. ``immediate=True`` starts the transaction with ``BEGIN IMMEDIATE`` on
SQLite, so a read followed by a write cannot be overtaken by another process
between the two; on PostgreSQL it is an ordinary transaction (use row locks,
``FOR UPDATE SKIP LOCKED``, there).

Under gevent, psycopg2 is switched to a wait callback that yields to the hub,
so a slow query blocks only its own greenlet.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Milliseconds a SQLite writer waits for the lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 10000

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_makers: dict[str, sessionmaker] = {}


class StoreError(RuntimeError):
    """The store cannot be opened or migrated (bad URL, unreachable database)."""


def _default_url() -> str:
    from config import settings

    return settings().sqlalchemy_url


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL, or None for an in-memory database."""
    path = sa.engine.make_url(url).database
    return None if not path or path == ":memory:" else path


def _install_gevent_wait_callback() -> None:
    """Make psycopg2 cooperate with gevent when the process is monkey-patched."""
    try:
        from gevent import monkey
    except ImportError:  # gevent is a dependency, but the store does not need it
        return
    if not monkey.is_module_patched("socket"):
        return
    import psycopg2.extensions as ext
    from gevent.socket import wait_read, wait_write

    def wait(conn, timeout=None):
        # psycopg2 calls this whenever a query would block: wait on the socket in the hub instead.
        while True:
            state = conn.poll()
            if state == ext.POLL_OK:
                return
            if state == ext.POLL_READ:
                wait_read(conn.fileno(), timeout=timeout)
            elif state == ext.POLL_WRITE:
                wait_write(conn.fileno(), timeout=timeout)
            else:
                raise ext.OperationalError(f"unexpected psycopg2 poll state {state}")

    if ext.get_wait_callback() is None:
        ext.set_wait_callback(wait)


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC", "BEGIN ")
_HELD = "vaani_write_lock"


def _install_write_lock(engine: Engine) -> None:
    """Hold the process's SQLite write lock from a connection's first write until its commit or rollback."""

    @event.listens_for(engine, "before_cursor_execute")
    def _take(conn, _cursor, statement, _params, _context, _many):
        if conn.info.get(_HELD):
            return
        head = statement.lstrip()[:7].upper()
        if head.startswith(_WRITES):
            _sqlite_write_lock().acquire()
            conn.info[_HELD] = True

    def _give(info) -> None:
        if info.pop(_HELD, False):
            _sqlite_write_lock().release()

    # The transaction's end releases it; a connection going back to the pool is a backstop.
    event.listen(engine, "commit", lambda conn: _give(conn.info))
    event.listen(engine, "rollback", lambda conn: _give(conn.info))
    event.listen(engine.pool, "checkin", lambda _dbapi, record: record is not None and _give(record.info))


def _make_engine(url: str) -> Engine:
    if _is_sqlite(url):
        path = _sqlite_path(url)
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        _install_write_lock(engine)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            if path:
                cur.execute("PRAGMA journal_mode=WAL")
                # NORMAL is durable across process crashes in WAL mode; only a power loss can drop the last commits.
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith("postgresql"):
        _install_gevent_wait_callback()
        return sa.create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    return sa.create_engine(url)


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the configured database)."""
    url = url or _default_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            try:
                engine = _make_engine(url)
            except (sa.exc.ArgumentError, ImportError) as exc:
                raise StoreError(f"cannot open database {url!r}: {exc}") from None
            _engines[url] = engine
            _makers[url] = sessionmaker(engine, expire_on_commit=False)
        return engine


def session_factory(url: str | None = None) -> sessionmaker:
    """The ``sessionmaker`` bound to ``url``'s engine."""
    url = url or _default_url()
    get_engine(url)
    return _makers[url]


@contextlib.contextmanager
def session_scope(url: str | None = None, *, immediate: bool = False) -> Iterator[Session]:
    """A session in one transaction: committed when the block ends, rolled back if it raises.

    ``immediate=True`` takes SQLite's write lock before the first read (see the module docs).
    Objects stay readable after the block (``expire_on_commit=False``).
    """
    session = session_factory(url)()
    try:
        if immediate and session.get_bind().dialect.name == "sqlite":
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_write_lock = None


def _sqlite_write_lock():
    """The process-wide lock held by every SQLite write transaction, from its first write to its end.

    SQLite's busy handler sleeps without yielding to gevent. Without this lock, a
    greenlet waiting for the write lock would freeze the whole process while
    the greenlet holding it (paused on, say, a Redis call) could never finish:
    a deadlock until the busy timeout. With it, greenlets of one process queue
    cooperatively and only other processes meet SQLite's busy handler.
    """
    global _write_lock
    if _write_lock is None:
        with _lock:
            if _write_lock is None:
                _write_lock = _make_rlock()
    return _write_lock


def _make_rlock():
    try:
        from gevent import monkey

        if monkey.is_module_patched("threading"):
            from gevent.lock import RLock

            return RLock()
    except ImportError:
        pass
    return threading.RLock()


@contextlib.contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    """Serialise migrations of one SQLite file across processes (PostgreSQL locks inside env.py)."""
    path = _sqlite_path(url) if _is_sqlite(url) else None
    if not path:
        yield
        return
    with open(path + ".migrate-lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def init_db(url: str | None = None) -> Engine:
    """Create or upgrade the schema at ``url`` to the newest migration; safe to call from many processes."""
    from alembic import command
    from alembic.config import Config

    url = url or _default_url()
    engine = get_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with _migration_lock(url), engine.begin() as conn:
            cfg.attributes["connection"] = conn
            # "heads": features add their migrations as branches off the one they need (SMS, billing,
            # transcripts each off 0004), so every branch's newest revision is applied.
            command.upgrade(cfg, "heads")
    except sa.exc.OperationalError as exc:
        raise StoreError(f"cannot migrate database {url!r}: {exc.orig}") from None
    return engine


def dispose(url: str | None = None) -> None:
    """Close the pooled connections of ``url`` (all engines when None); for tests and forked children."""
    with _lock:
        urls = [url] if url else list(_engines)
        for u in urls:
            engine = _engines.pop(u, None)
            _makers.pop(u, None)
            if engine is not None:
                engine.dispose()


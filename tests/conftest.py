"""Fixtures shared by the whole suite: real Redis, real SQL databases, free ports.

Nothing here is mocked. Redis is the one at ``REDIS_URL`` (default
127.0.0.1:6379); each test gets its own key prefix and its keys are deleted
afterwards. SQL tests run against SQLite and, when one answers at
``TEST_POSTGRES_URL`` (default postgresql+psycopg2://postgres@127.0.0.1:5432/postgres),
against a fresh PostgreSQL database created for the session.
"""

from __future__ import annotations

# gevent must patch the standard library before anything imports socket or ssl:
# the ESL clients, the IVR runtime and the simulator all run on gevent.
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import socket  # noqa: E402
import uuid  # noqa: E402

import pytest  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nodelay_listener(host: str = "127.0.0.1", port: int = 0, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket whose connections send without Nagle's delay (TCP_NODELAY, inherited on accept).

    For the tests' HTTP servers (gevent's WSGIServer takes it in place of an address). Production serves
    HTTP with gunicorn, which sets TCP_NODELAY on its sockets; without it, a response written in two
    pieces on a kept-alive connection waits for the client's delayed ACK: 40 ms a request on Linux.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


@pytest.fixture
def redis_url() -> str:
    """URL of the real Redis the suite runs against."""
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def key_prefix(redis_url):
    """A Redis key prefix unique to this test; its keys are removed afterwards."""
    import redis

    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)
    # RQ keeps its own keys under rq:; queues named with our prefix are covered
    # by scanning for the prefix inside them.
    for key in client.scan_iter(match=f"rq:*{prefix}*", count=1000):
        client.delete(key)
    client.close()


def _postgres_available() -> bool:
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(POSTGRES_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_url():
    """URL of a PostgreSQL database created for this test session, dropped at the end."""
    if not _postgres_available():
        pytest.skip(f"no PostgreSQL answers at {POSTGRES_ADMIN_URL}")
    import sqlalchemy as sa

    name = f"vaani_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": name},
        )
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database URL: SQLite in a temp dir, and PostgreSQL (a fresh schema per test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vaani.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    import sqlalchemy as sa

    # A schema per test keeps tests independent without creating a database each time.
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}?options=-csearch_path%3D{schema}"
    yield url
    from dialer.store import db

    # The test's pool would otherwise keep its connections until the session ends: a suite (or several
    # sharing one PostgreSQL) then runs out of max_connections.
    db.dispose(url)
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "simulator(**options): options for the `simulator` fixture (scenario=dict|path, speed=, max_sessions=, "
        "sps=, inbound_socket=, recordings_dir=)",
    )


@pytest.fixture
def simulator(request):
    """A FreeSWITCH simulator child process on a free port, speed 20 unless told otherwise.

    Yields a ``freeswitch.sim.process.SimulatorProcess`` (``.host``, ``.port``,
    ``.password``, ``.address``). Options come from ``@pytest.mark.simulator(...)``,
    e.g. ``@pytest.mark.simulator(scenario={"defaults": {"outcome": "busy"}}, speed=50)``;
    one call can also be scripted with ``sim_*`` variables in its originate string.
    """
    from freeswitch.sim.process import SimulatorProcess

    marker = request.node.get_closest_marker("simulator")
    options = {"speed": 20.0}
    if marker is not None:
        options.update(marker.kwargs)
    sim = SimulatorProcess(**options)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()

"""gunicorn settings for the API: ``gunicorn -c python:api.gunicorn_conf api.wsgi:app``.

gevent workers: a request mostly waits on SQL and Redis, and one gevent worker
overlaps thousands of such waits. How many workers depends on the store:

* PostgreSQL: one worker per core (``HTTP_WORKERS`` overrides);
* SQLite: one worker. SQLite has one writer at a time, and a second process
  waiting for the write lock sleeps inside the driver, which stalls every
  request of its gevent worker; one worker instead lines its writers up
  cooperatively and commits them together (``api.group_commit``).

The bind address comes from HTTP_HOST / HTTP_PORT. Each worker freezes its
start-up heap out of the garbage collector and, on SQLite, checkpoints the WAL
from a thread of its own instead of inside requests (``post_worker_init``).
"""

import gc
import multiprocessing

from config import settings

_cfg = settings()
_sqlite = _cfg.sqlalchemy_url.startswith("sqlite")

bind = f"{_cfg.http_host}:{_cfg.http_port}"
worker_class = "gevent"
worker_connections = 1000
workers = _cfg.http_workers or (1 if _sqlite else max(1, multiprocessing.cpu_count()))
# Slow clients and long CSV uploads must not be killed mid-request.
timeout = 120
graceful_timeout = 10
keepalive = 5


def post_worker_init(worker):
    """Move everything the app built at start-up out of the garbage collector's sight.

    The worker's heap (SQLAlchemy, phonenumbers' metadata, Flask) holds a few
    hundred thousand long-lived objects; a 500-call batch allocates enough to
    trigger full collections that walked all of them, 100+ ms pauses that were
    most of the batch latency's tail. Frozen, they are never scanned again.
    """
    gc.collect()
    gc.freeze()
    from api.store import start_checkpointer

    start_checkpointer(_cfg.sqlalchemy_url)

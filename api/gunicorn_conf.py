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

Prometheus metrics (METRICS_ENABLED) run in prometheus_client's multiprocess
mode: every worker writes its counts to files in ``PROMETHEUS_MULTIPROC_DIR``
(default ``DATA_DIR/prometheus-api``, emptied when gunicorn starts) and
``/metrics`` sums them; a worker that exits is marked dead (``child_exit``).
The variable is set here, in the master, before any worker imports
prometheus_client, and only for the API: the other processes serve their own.
"""

import gc
import glob
import multiprocessing
import os

from config import settings

_cfg = settings()
_sqlite = _cfg.sqlalchemy_url.startswith("sqlite")
if _cfg.metrics_enabled:
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.abspath(_cfg.path("prometheus-api")))

bind = f"{_cfg.http_host}:{_cfg.http_port}"
worker_class = "gevent"
worker_connections = 1000
workers = _cfg.http_workers or (1 if _sqlite else max(1, multiprocessing.cpu_count()))
# Slow clients and long CSV uploads must not be killed mid-request.
timeout = 120
graceful_timeout = 10
keepalive = 5


def on_starting(server):
    """A fresh multiprocess directory: counts of a previous run's workers must not be summed in."""
    mp_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if mp_dir:
        os.makedirs(mp_dir, exist_ok=True)
        for path in glob.glob(os.path.join(mp_dir, "*.db")):
            os.remove(path)


def child_exit(server, worker):
    """A worker is gone: its live gauges no longer count (its counters' totals stay, as Prometheus expects)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


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

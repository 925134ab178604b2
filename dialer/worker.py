"""A dialer worker process: the dialing engine, plus the RQ jobs of the records and callbacks queues.

The worker model, chosen deliberately (measured in docs/dialer.md):

* **No fork per job.** RQ's default ``Worker`` runs each job in a new child
  process; an inbound ESL connection, its event subscription and the
  in-memory set of launched calls would not survive that, and re-connecting
  and re-subscribing per originate would cost more than the originate. So
  dialing is not an RQ job at all: a long-lived gevent process runs
  :class:`dialer.engine.Dialer`, whose lanes claim due attempts straight from
  SQL (scheduled calls, callbacks and retries are attempts with a
  ``next_try_at``; the claim picks them when due, so no scheduler is needed
  and a lost Redis loses no call).
* **RQ for what is a job.** The same process serves the ``<prefix>-records``
  queue (the IVR runtime's ``dialer.records.ivr_call_finished``) and the
  ``<prefix>-callbacks`` queue (status callbacks) with RQ's ``SimpleWorker``,
  which runs jobs in-process, in a greenlet, next to the engine. RQ's
  scheduler (needed for callback retries) normally forks a process; here a
  greenlet takes the scheduler lock and moves due jobs instead.
* **Housekeeping** in greenlets: records whose second half never came
  (:func:`dialer.records.complete_stale`) and callback jobs lost with Redis
  (:func:`dialer.callbacks.requeue_due`).

Scale by running more processes (``--workers`` or DIALER_WORKERS), on any
number of machines: claims are atomic in SQL and pacing is shared in Redis.
"""

from __future__ import annotations

import logging
import signal

import gevent

from config import Settings, settings
from dialer.engine import Dialer, EngineOptions

log = logging.getLogger(__name__)

QUEUE_SUFFIXES = ("records", "callbacks", "transcripts")  # in priority order: transcripts wait for the rest


def _rq_worker(cfg: Settings, name: str):
    import redis
    from rq import Queue, SimpleWorker

    conn = redis.Redis.from_url(cfg.redis_url)
    queues = [Queue(f"{cfg.key_prefix}-{s}", connection=conn) for s in QUEUE_SUFFIXES]
    worker = SimpleWorker(queues, connection=conn, name=name)
    # The process handles SIGTERM/SIGINT itself (see run); RQ must not take them over.
    worker._install_signal_handlers = lambda: None
    return worker, queues, conn


def _scheduler_loop(queues, conn, every: float = 1.0) -> None:
    """RQ's scheduler without its fork: move due scheduled jobs to their queues."""
    from rq.scheduler import RQScheduler

    sched = RQScheduler(queues, connection=conn)
    while True:
        try:
            if not sched.acquired_locks:
                sched.acquire_locks()
            if sched.acquired_locks:
                sched.enqueue_scheduled_jobs()
                sched.heartbeat()
        except Exception:
            log.warning("RQ scheduler pass failed", exc_info=True)
        gevent.sleep(every)


def _housekeeping(cfg: Settings, every: float = 15.0) -> None:
    from dialer import callbacks, records

    while True:
        gevent.sleep(every)
        for fn in (records.complete_stale, callbacks.requeue_due):
            try:
                fn(cfg)
            except Exception:
                log.warning("%s failed", fn.__name__, exc_info=True)


def run(cfg: Settings | None = None, *, options: EngineOptions | None = None, jobs: bool = True,
        worker_id: str | None = None, metrics_port: int | None = None) -> int:
    """Run one dialer worker until SIGTERM/SIGINT; returns the exit status.

    ``metrics_port``: where its ``/metrics`` is served (None: DIALER_METRICS_PORT; 0: nowhere).
    """
    import prom
    from dialer import metrics as dialer_metrics

    cfg = cfg or settings()
    prom.configure(cfg.metrics_enabled)
    done = gevent.event.Event()

    def _stop(*_):
        done.set()

    # First of all: a SIGTERM during start-up (the supervisor stopping the stack) must still stop cleanly,
    # not kill the process by the signal's default action.
    gevent.signal_handler(signal.SIGTERM, _stop)
    gevent.signal_handler(signal.SIGINT, _stop)
    dialer = Dialer(cfg, options=options, worker_id=worker_id)
    dialer.start()
    greenlets = []
    metrics_server = prom.serve(cfg.metrics_host, cfg.dialer_metrics_port if metrics_port is None else metrics_port,
                                name=f"dialer {dialer.worker_id}", only=dialer_metrics.OWN)
    if prom.ON:
        greenlets.append(gevent.spawn(dialer_metrics.poll_nodes, dialer))
    rq_worker = rq_greenlet = None
    if jobs:
        rq_worker, queues, conn = _rq_worker(cfg, f"dialer-{dialer.worker_id.replace(':', '-')}")
        rq_greenlet = gevent.spawn(rq_worker.work, with_scheduler=False, logging_level="WARNING")
        greenlets += [gevent.spawn(_scheduler_loop, queues, conn), gevent.spawn(_housekeeping, cfg)]
    log.info("dialer worker %s started (nodes: %s)", dialer.worker_id, ", ".join(dialer.nodes.nodes))
    done.wait()
    log.info("dialer worker %s stopping", dialer.worker_id)
    if rq_worker is not None:
        _stop_rq_worker(rq_worker, rq_greenlet)
    dialer.stop()
    gevent.killall(greenlets, timeout=3)
    if metrics_server is not None:
        metrics_server.stop(timeout=1)
    log.info("dialer worker %s stopped", dialer.worker_id)
    return 0


def _stop_rq_worker(worker, greenlet: gevent.Greenlet, grace: float = 3.0) -> None:
    """Stop the in-process RQ worker the way RQ stops itself: after its current job, quietly.

    RQ checks for a stop request between jobs, but an idle worker sits in a blocking BLPOP for minutes. It
    is interrupted with RQ's own ``StopRequested``, which its loop takes as a stop (and then deregisters
    the worker); ``GreenletExit`` there is "an unhandled exception", logged with a traceback.
    """
    from rq.exceptions import StopRequested
    from rq.worker import WorkerStatus

    worker._stop_requested = True
    if worker.get_state() == WorkerStatus.BUSY:
        greenlet.join(grace)  # the job in hand finishes; the loop then sees the request and returns
    if not greenlet.dead:
        greenlet.kill(StopRequested(), timeout=grace)


def run_many(n: int, argv: list[str], metrics_port: int = 0) -> int:
    """Start ``n`` worker processes (``python -m dialer worker``) and wait for them; SIGTERM reaches all.

    Worker i (from 0) serves ``/metrics`` on ``metrics_port + i`` (none when ``metrics_port`` is 0).
    """
    import subprocess
    import sys

    procs = [subprocess.Popen([sys.executable, "-m", "dialer", "worker", *argv,
                               "--metrics-port", str(metrics_port + i if metrics_port else 0)]) for i in range(n)]

    def _forward(signum, _frame):
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    return max(p.wait() for p in procs)

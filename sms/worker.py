"""An SMS worker process: one SMPP bind, the RQ jobs of ``<prefix>-sms`` (and callbacks), heartbeat and sweep.

Like the dialer's worker (dialer/worker.py) it runs RQ's ``SimpleWorker``
in-process on gevent, because the bind (a TCP session with its window and its
reader) must outlive every job: a dispatch job claims its message and hands it
to a pool of sender greenlets that share the bind, then returns. The pool's
size bounds what one worker holds claimed (``2 × SMPP_WINDOW``). The worker
also serves ``<prefix>-callbacks`` (so SMS reports flow without a dialer) and
moves RQ's scheduled jobs (retries after a temporary refusal) with the
dialer's scheduler loop.

Greenlets: the bind's reader and keep-alive; the RQ loop; the scheduler; a
heartbeat (``<prefix>:sms:worker:<id>``, TTL ``SMS_WORKER_TIMEOUT``) and the sweep that recovers
dead workers' messages (:func:`sms.sender.sweep`, every third of the timeout, one
worker at a time under a Redis lock).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import uuid

import gevent
import gevent.event
import gevent.local
from gevent.pool import Pool

from config import Settings, settings
from sms import messages, receiver, sender
from sms.smpp import Bind, BindConfig

log = logging.getLogger(__name__)

_current = gevent.local.local()


class SmsWorker:
    """One worker: ``start()``, then ``stop()``. Several may run in one process (tests, benchmarks)."""

    def __init__(self, cfg: Settings, *, worker_id: str | None = None, bind_config: BindConfig | None = None,
                 sweep_every: float | None = None, scheduler_every: float = 1.0):
        import redis

        self.cfg = cfg
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.redis = redis.Redis.from_url(cfg.redis_url)
        self.bind = Bind(bind_config or BindConfig.from_settings(cfg), self._on_deliver)
        self.ctx = sender.Context(cfg, self.bind, self.redis, self.id)
        self.pool = Pool(max(2, 2 * cfg.smpp_window))
        # Often enough that a dead worker's messages wait little longer than SMS_WORKER_TIMEOUT.
        self.sweep_every = sweep_every or max(0.2, cfg.sms_worker_timeout / 3)
        self.scheduler_every = scheduler_every
        self.greenlets: list[gevent.Greenlet] = []
        self.rq_worker = None
        self.sent = 0

    # -- jobs ------------------------------------------------------------------------

    def dispatch(self, message_ids: list[str] | str) -> dict:
        """Claim each message when a sender greenlet is free for it, and give it one.

        Claiming one at a time (not the whole chunk at once) keeps what this worker holds to what it is
        sending, so other workers take the rest of a backlog.
        """
        ids = [message_ids] if isinstance(message_ids, str) else list(message_ids)
        dispatched = skipped = 0
        for message_id in ids:
            self.pool.wait_available()
            msg = sender.claim(self.cfg, message_id, self.id)
            if msg is None:
                skipped += 1
                continue
            self.pool.spawn(self._send, msg)
            dispatched += 1
        return {"dispatched": dispatched, "skipped": skipped}

    def _send(self, msg) -> None:
        try:
            status = sender.send(self.ctx, msg)
            if status == "sent":
                self.sent += 1
        except sender.Fenced:
            self._rename()
        except Exception:  # noqa: BLE001 - the message stays claimed; the sweep recovers it if we die
            log.exception("sending SMS %s failed", msg.id)

    def _on_deliver(self, pdu) -> int:
        return receiver.handle(self.cfg, self.redis, pdu)

    # -- life ------------------------------------------------------------------------

    def start(self) -> "SmsWorker":
        """Bind, start the jobs and the housekeeping."""
        from rq import Queue, SimpleWorker

        from dialer import callbacks
        from dialer.worker import _scheduler_loop

        self._beat()
        self.redis.set(sender.epoch_key(self.cfg.key_prefix), "1", nx=True)
        self.bind.start()
        # Callbacks first: their jobs only hand the HTTP try to a greenlet, and an 'accepted' should not wait
        # behind the sends it announces.
        queues = [Queue(f"{self.cfg.key_prefix}-{callbacks.QUEUE_SUFFIX}", connection=self.redis),
                  Queue(messages.queue_name(self.cfg), connection=self.redis)]
        self.rq_worker = SimpleWorker(queues, connection=self.redis, name=f"sms-{self.id.replace(':', '-')}")
        self.rq_worker._install_signal_handlers = lambda: None

        def work():
            _current.worker = self
            self.rq_worker.work(with_scheduler=False, logging_level="WARNING")

        self.greenlets = [gevent.spawn(work), gevent.spawn(_scheduler_loop, queues, self.redis, self.scheduler_every),
                          gevent.spawn(self._heartbeat), gevent.spawn(self._sweeper)]
        return self

    def stop(self, grace: float = 3.0) -> None:
        """Stop taking jobs, let the senders in hand finish, unbind."""
        from dialer.worker import _stop_rq_worker

        if self.rq_worker is not None:
            _stop_rq_worker(self.rq_worker, self.greenlets[0], grace)
        self.pool.join(timeout=grace)
        gevent.killall(self.greenlets[1:], timeout=2)
        self.bind.stop()
        self.redis.delete(sender.heartbeat_key(self.cfg.key_prefix, self.id))

    def _rename(self) -> None:
        """Taken for dead (its heartbeat lapsed) and fenced: go on under a new identity, holding nothing."""
        if self.redis.exists(sender.fence_key(self.cfg.key_prefix, self.id)):
            old, self.id = self.id, f"{self.id.rsplit('~', 1)[0]}~{uuid.uuid4().hex[:6]}"
            self.ctx.worker_id = self.id
            log.error("SMS worker %s was fenced (its heartbeat lapsed); now %s", old, self.id)
            self._beat()

    def _beat(self) -> None:
        self.redis.set(sender.heartbeat_key(self.cfg.key_prefix, self.id), "1",
                       px=max(1000, int(self.cfg.sms_worker_timeout * 1000)))

    def _heartbeat(self) -> None:
        while True:
            try:
                self._rename()
                self._beat()
            except Exception:  # noqa: BLE001
                log.warning("SMS worker heartbeat failed", exc_info=True)
            gevent.sleep(self.cfg.sms_worker_timeout / 4)

    def _sweeper(self) -> None:
        lock_key = f"{self.cfg.key_prefix}:sms:sweep"
        while True:
            gevent.sleep(self.sweep_every)
            try:
                if self.redis.set(lock_key, self.id, nx=True, px=max(100, int(self.sweep_every * 900))):
                    sender.sweep(self.cfg, self.redis)
            except Exception:  # noqa: BLE001
                log.warning("SMS sweep failed", exc_info=True)


def current() -> SmsWorker:
    """The worker whose RQ loop runs the calling job."""
    worker = getattr(_current, "worker", None)
    if worker is None:
        raise RuntimeError("SMS jobs run in an SMS worker (python -m sms worker)")
    return worker


def run(cfg: Settings | None = None) -> int:
    """Run one SMS worker until SIGTERM/SIGINT; the exit status."""
    cfg = cfg or settings()
    done = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, done.set)
    gevent.signal_handler(signal.SIGINT, done.set)
    from dialer.store import db

    db.init_db(cfg.sqlalchemy_url)
    worker = SmsWorker(cfg).start()
    log.info("SMS worker %s started; SMSC %s:%s as %s, %g submit_sm/s shared", worker.id, cfg.smpp_host,
             cfg.smpp_port, cfg.smpp_system_id, cfg.smpp_tps)
    done.wait()
    log.info("SMS worker %s stopping", worker.id)
    worker.stop()
    return 0

"""The dialing engine of one dialer process: campaigns and call requests in, paced originates out.

One :class:`Dialer` per process holds one long-lived inbound ESL connection
per FreeSWITCH node (:mod:`freeswitch.inbound`), the event :mod:`listener
<dialer.listener>`, and greenlets that do the work:

* **lanes**: per running campaign (and one for single call requests), a few
  greenlets each repeat *claim → check → reserve → wait → gate → originate*:

  1. pick a node (least loaded with room) and claim the next due attempt in
     one SQL statement (:func:`dialer.attempts.claim_next`), reserving the
     channel uuid;
  2. DND (campaign's or account's list → never dialed, DND CDR), calling
     hours (→ back to the queue until the next opening), concurrency caps
     (campaign, account; → back to the queue);
  3. reserve the next instant allowed by every rate that applies (campaign
     calls_per_minute, capped by what its concurrency can carry at the
     learned answer rate; account; node sps; gateway cps) and sleep until it;
  4. pass the campaign's pause/stop gate (:class:`dialer.campaigns.Control`)
     and send ``bgapi originate`` with ``Job-UUID`` = the call uuid.

* **refresh**: every ``refresh`` seconds, moves campaigns scheduled → running
  at their start date, running → completed at their end date or when every
  attempt is final, and starts/stops lanes;
* **heartbeat + recovery**: this worker's liveness in Redis; attempts claimed
  by workers that stopped beating are re-queued (never launched) or
  reconciled with FreeSWITCH (launched) — see :mod:`dialer.listener`.

The engine's parts live in modules of their own, each a mixin of :class:`Dialer`:
:mod:`dialer.lanes` (the claiming loop), :mod:`dialer.call_building` (settling a batch and building its
originates), :mod:`dialer.sending` (slots, rates, gate, ``bgapi``), :mod:`dialer.prepaid_hooks`
(balance reservations), :mod:`dialer.outcomes` (attempts not placed) and :mod:`dialer.listener_hooks`
(what the listener asks of the engine). This module holds the process: lifecycle, liveness and the
campaign lifecycle.

Nothing here forks; everything is greenlets, so the ESL connection lives as
long as the process (see docs/dialer.md, "Worker model").
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid as _uuid
from dataclasses import dataclass

import gevent
import redis as _redis
import sqlalchemy as sa

from config import Settings, settings
from freeswitch.inbound import InboundClient

from dialer import agent_dialing as _agent_dialing
from dialer import attempts as _attempts
from dialer import campaigns as _campaigns
from dialer import metrics as _metrics
from dialer import nailed as _nailed
from dialer import pacing as _pacing
from dialer import preview as _preview
from dialer.call_building import AGENT_RETRY_SECONDS, CallBuilding
from dialer.lanes import Lanes
from dialer.listener import EVENTS, Listener
from dialer.listener_hooks import ListenerHooks
from dialer.outcomes import Outcomes
from dialer.prepaid_hooks import BILLING_SWEEP_EVERY, BILLING_SWEEP_GRACE, PrepaidHooks
from dialer.reconcile import Reconciler
from dialer.nodes import NodePool, parse_nodes
from dialer.sending import Sending
from dialer.store import db
from dialer.store.models import Account, Campaign, Contact, utcnow

__all__ = ["AGENT_RETRY_SECONDS", "BILLING_SWEEP_EVERY", "BILLING_SWEEP_GRACE", "BILLING_WAIT_SECONDS",
           "Dialer", "EngineOptions"]
# AGENT_RETRY_SECONDS and BILLING_SWEEP_* moved with their code; importable from here as before.

log = logging.getLogger(__name__)

#: Seconds a call its account cannot pay yet waits while other calls' reservations are still held
#: (here, not in dialer.prepaid_hooks, so that setting ``dialer.engine.BILLING_WAIT_SECONDS`` takes effect).
BILLING_WAIT_SECONDS = 2.0


@dataclass
class EngineOptions:
    """Tunables of a dialer process (defaults suit production; tests shorten the timers)."""

    gateway: str | None = None  # None: DIALER_GATEWAY
    gateway_cps: float | None = None  # None: DIALER_GATEWAY_CPS (0: no gateway cap)
    originate_timeout: int | None = None  # None: ORIGINATE_TIMEOUT
    max_call_seconds: int = 3600  # slot expiry for a call whose end was never seen
    lanes_per_campaign: int = 4
    horizon: float = 0.5  # how far ahead a lane may reserve its next call
    refresh: float = 0.25
    heartbeat: float = 0.5
    heartbeat_ttl: float = 2.0
    recovery_every: float = 1.0
    recovery_grace: float = 3.0
    foreign_delay: float = 1.0
    send_timeout: float = 5.0


class Dialer(Lanes, CallBuilding, Sending, PrepaidHooks, Outcomes, ListenerHooks):
    """One dialer process's engine (see the module docs). ``start()``, then ``stop()``."""

    def __init__(self, cfg: Settings | None = None, *, options: EngineOptions | None = None,
                 worker_id: str | None = None, db_url: str | None = None):
        self.cfg = cfg or settings()
        self.opts = options or EngineOptions()
        if self.opts.gateway is None:
            self.opts.gateway = self.cfg.dialer_gateway
        if self.opts.gateway_cps is None:
            self.opts.gateway_cps = self.cfg.dialer_gateway_cps
        if self.opts.originate_timeout is None:
            self.opts.originate_timeout = self.cfg.originate_timeout
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{_uuid.uuid4().hex[:6]}"
        self.db_url = db_url or self.cfg.sqlalchemy_url
        self.key_prefix = self.cfg.key_prefix
        self.redis = _redis.Redis.from_url(self.cfg.redis_url)
        self.pacer = _pacing.Pacer(self.redis, self.key_prefix)
        self.control = _campaigns.Control(self.redis, self.key_prefix)
        self.nodes = NodePool(parse_nodes(self.cfg.freeswitch_nodes), self.pacer)
        self.agent_dialing = _agent_dialing.AgentDialing(self.redis, self.key_prefix, self.db_url, self.worker_id)
        self.previewer = _preview.Previewer(self.redis, self.key_prefix, self.agent_dialing.acd)
        self.reserved_agents: dict[str, str] = {}  # call uuid -> agent reserved for it before dialing
        self.nailed = _nailed.Nailed(self)  # persistent agents' channels
        self.listener = Listener(self, foreign_delay=self.opts.foreign_delay)
        self.reconciler = Reconciler(self, self.listener, grace=self.opts.recovery_grace)
        self.launched: set[str] = set()  # call uuids this process sent (bgapi accepted)
        self.billed: set[str] = set()  # call uuids holding a balance reservation made here
        self._billing_swept = 0.0
        self._balance_pauses: set[str] = set()  # campaigns to pause when their lane's batch is out
        self._live_cache: set[str] = set()
        self.originates_sent = 0
        self._last_send = 0.0  # monotonic time of the last originate written (see dialing_now)
        self._lanes: dict[str | None, list[gevent.Greenlet]] = {}
        self._campaigns: dict[str, Campaign] = {}
        self._accounts: dict[str, tuple[float, Account | None]] = {}
        self._greenlets: list[gevent.Greenlet] = []
        self._running = False
        _metrics.track(self)

    # ------------------------------------------------------------------ lifecycle
    def start(self, wait_connected: float = 10.0) -> "Dialer":
        """Connect to every node, then start the listener, lanes and housekeeping greenlets."""
        db.init_db(self.db_url)
        self._running = True
        self.listener.start()
        for node in self.nodes.nodes.values():
            client = InboundClient(
                node.host, node.port, node.password, events=EVENTS,
                filters=[("variable_vaani_prefix", self.key_prefix), ("Event-Name", "BACKGROUND_JOB")],
                on_event=self.listener.on_event, on_connect=self._on_connect(node.name),
                send_timeout=self.opts.send_timeout, name=node.name,
                event_format="json")  # JSON events: no URL decoding, several times cheaper to read
            self.nodes.clients[node.name] = client
            client.start()
        for client in self.nodes.clients.values():
            client.wait_connected(wait_connected)
        self._beat()
        self._greenlets = [gevent.spawn(self._heartbeat_loop), gevent.spawn(self._refresh_loop),
                           gevent.spawn(self._recovery_loop), gevent.spawn(self.nailed.run)]
        self._ensure_lane(None)
        return self

    def stop(self) -> None:
        """Stop dialing; live calls keep going on FreeSWITCH and are followed by the other workers."""
        self._running = False
        for lanes in self._lanes.values():
            gevent.killall(lanes, timeout=2)
        self._lanes.clear()
        gevent.killall(self._greenlets, timeout=2)
        self.listener.stop()
        for client in self.nodes.clients.values():
            client.stop()
        self.redis.zrem(self._workers_key, self.worker_id)

    @property
    def running(self) -> bool:
        """Whether the engine is started and not stopping."""
        return self._running

    def campaign(self, campaign_id: str | None) -> Campaign | None:
        """An active campaign's row as the lanes see it (refreshed four times a second), or None."""
        return self._campaigns.get(campaign_id) if campaign_id else None

    def run_forever(self) -> None:
        """Block until the process is told to stop (SIGTERM/SIGINT handled by the caller)."""
        while self._running:
            gevent.sleep(1.0)

    def _on_connect(self, node_name: str):
        def reconcile(client: InboundClient) -> None:
            if client.generation > 1:
                _metrics.reconnected(node_name)
                n = self.reconciler.node_reconnected(node_name, client)
                log.info("reconnected to %s; settled %d calls that ended unseen", node_name, n)
        return reconcile

    # ------------------------------------------------------------------ liveness
    @property
    def _workers_key(self) -> str:
        return f"{self.key_prefix}:dialer_workers"

    def _beat(self) -> None:
        self.redis.zadd(self._workers_key, {self.worker_id: time.time()})

    def live_workers(self) -> set[str]:
        """Workers whose heartbeat is fresh (including this one)."""
        cutoff = time.time() - self.opts.heartbeat_ttl
        return {w.decode() for w in self.redis.zrangebyscore(self._workers_key, cutoff, "+inf")}

    def live_workers_cached(self) -> set[str]:
        """:meth:`live_workers` as of the last heartbeat (at most ``heartbeat`` seconds old)."""
        return self._live_cache

    def _heartbeat_loop(self) -> None:
        while self._running:
            try:
                self._beat()
                self._live_cache = self.live_workers()
            except Exception:
                log.warning("heartbeat failed", exc_info=True)
            gevent.sleep(self.opts.heartbeat)

    def _recovery_loop(self) -> None:
        while self._running:
            gevent.sleep(self.opts.recovery_every)
            lock = f"{self.key_prefix}:recovery_lock"
            try:
                if self.redis.set(lock, self.worker_id, nx=True, px=int(self.opts.recovery_every * 3000)):
                    try:
                        self.reconciler.recover_dead_workers()
                        self._sweep_billing()
                    finally:
                        if self.redis.get(lock) == self.worker_id.encode():
                            self.redis.delete(lock)
            except Exception:
                log.warning("recovery pass failed", exc_info=True)

    # ------------------------------------------------------------------ campaigns
    def campaign_row(self, session, campaign_id: str) -> Campaign | None:
        """The campaign row inside ``session``."""
        return session.get(Campaign, campaign_id)

    def _refresh_loop(self) -> None:
        while self._running:
            try:
                self.refresh_campaigns()
            except Exception:
                log.warning("campaign refresh failed", exc_info=True)
            gevent.sleep(self.opts.refresh)

    def refresh_campaigns(self) -> None:
        """Apply the lifecycle (start/end dates, completion) and keep one lane set per running campaign."""
        now = utcnow()
        with db.session_scope(self.db_url) as s:
            rows = s.execute(sa.select(Campaign).where(Campaign.status.in_(("scheduled", "running", "paused")))).scalars().all()
        active: dict[str, Campaign] = {}
        for camp in rows:
            if camp.status == "scheduled" and _campaigns.in_date_window(camp, now):
                self._move(camp.id, ["scheduled"], "running")
                camp.status = "running"
            if camp.status in ("running", "paused") and camp.end_at is not None and now >= camp.end_at:
                self.complete_campaign(camp.id, ["running", "paused"])
                continue
            if camp.status == "running":
                if self.control.state(camp.id) is None:
                    self.control.set_state(camp.id, "running")
                active[camp.id] = camp
        self._campaigns = active
        for cid in list(self._lanes):
            if cid is not None and cid not in active:
                # Lanes leave by themselves at their next turn; killing one could cut a launch in half.
                self._lanes.pop(cid)
        for cid, camp in active.items():
            self._ensure_lane(cid)
            self._maybe_complete(camp)

    def _move(self, campaign_id: str, from_states: list[str], to_state: str) -> bool:
        with db.session_scope(self.db_url) as s:
            res = s.execute(sa.update(Campaign).where(Campaign.id == campaign_id, Campaign.status.in_(from_states))
                            .values(status=to_state, updated_at=utcnow()))
        if res.rowcount:
            self.control.set_state(campaign_id, to_state, wait=0)
        return bool(res.rowcount)

    def complete_campaign(self, campaign_id: str, from_states: list[str]) -> bool:
        """Mark a campaign completed (and cancel what is still queued)."""
        if not self._move(campaign_id, from_states, "completed"):
            return False
        with db.session_scope(self.db_url) as s:
            _attempts.cancel_queued(s, campaign_id=campaign_id)
        return True

    def _maybe_complete(self, camp: Campaign) -> None:
        with db.session_scope(self.db_url) as s:
            c = _attempts.counts(s, camp.id)
            if not c:
                # No attempt at all: either an empty list, or contacts not loaded yet (the API creates the
                # row, then calls start_campaign); only the first is finished.
                has_contacts = s.execute(sa.select(Contact.id).where(Contact.list_id == camp.list_id).limit(1)).first()
                if has_contacts:
                    return
        if not any(c.get(k) for k in ("queued",) + _attempts.LIVE_STATES):
            if self.complete_campaign(camp.id, ["running"]):
                log.info("campaign %s completed", camp.id)

    def _billing_wait(self) -> float:
        """Seconds a call its account cannot pay yet waits for other calls' reservations (see prepaid_hooks)."""
        return BILLING_WAIT_SECONDS

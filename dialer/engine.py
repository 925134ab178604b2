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
from datetime import timedelta

import gevent
import redis as _redis
import sqlalchemy as sa

from config import Settings, settings
from freeswitch.inbound import ESLError, InboundClient

from dialer import agent_dialing as _agent_dialing
from dialer import attempts as _attempts
from dialer import campaigns as _campaigns
from dialer import metrics as _metrics
from dialer import nailed as _nailed
from dialer import pacing as _pacing
from dialer import preview as _preview
from dialer import preview_lane as _preview_lane
from dialer.listener import EVENTS, Listener
from dialer.reconcile import Reconciler
from dialer.nodes import NodePool, parse_nodes
from dialer.originate import Originate, OriginateError
from dialer.store import db
from dialer.store.models import Account, Attempt, CallRequest, Campaign, Contact, DndList, DndNumber, utcnow
from billing import calls as _billing_calls

log = logging.getLogger(__name__)

#: An agent campaign's contact that must go straight to an agent (abandoned within 72 hours) and found none
#: free is tried again this many seconds later.
AGENT_RETRY_SECONDS = 15
#: Seconds between sweeps of stale balance reservations, and how long past its talk time plus ringing a
#: reservation may stay held before its call is taken to be over.
BILLING_SWEEP_EVERY = 30.0
#: Seconds a call its account cannot pay yet waits while other calls' reservations are still held.
BILLING_WAIT_SECONDS = 2.0
BILLING_SWEEP_GRACE = 300.0


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


@dataclass
class _Prefetch:
    """What a lane read once for its claimed batch: contacts by id and the numbers on a DND list."""

    account_id: str
    contacts: dict
    dnd: set


class Dialer:
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

    # ------------------------------------------------------------------ lanes
    def _ensure_lane(self, campaign_id: str | None) -> None:
        lanes = self._lanes.get(campaign_id)
        if lanes and all(not g.dead for g in lanes):
            return
        # An agent campaign has one lane: the controller answers "how many more calls now", and lanes asking
        # side by side would each launch that many.
        camp = self._campaigns.get(campaign_id) if campaign_id else None
        n = 1 if _agent_dialing.is_agent_campaign(camp) else max(1, self.opts.lanes_per_campaign)
        self._lanes[campaign_id] = [gevent.spawn(self._lane, campaign_id) for _ in range(n)]

    def _lane(self, campaign_id: str | None) -> None:
        camp = self._campaigns.get(campaign_id) if campaign_id else None
        if camp is not None and camp.dial_mode == "preview":
            return _preview_lane.run(self, campaign_id)
        buffer: list[Attempt] = []  # claimed, neither launched nor settled yet
        try:
            while self._running and (campaign_id is None or campaign_id in self._campaigns):
                try:
                    buffer[:] = self._claim(campaign_id)
                    if not buffer:
                        gevent.sleep(0.1 if campaign_id is None else 0.05)
                        continue
                    camp = self._campaigns.get(campaign_id) if campaign_id else None
                    if campaign_id is not None and camp is None:
                        # Paused or stopped since the claim: its attempts are not requests to dial without it.
                        self.give_back_many(buffer, cancel=self._stopped_id(campaign_id))
                        buffer.clear()
                        continue
                    if not self._dial_batch(buffer, camp):
                        gevent.sleep(0.05)
                except Exception:
                    log.exception("dialing lane %s failed; continuing", campaign_id)
                    self.give_back_many(buffer)
                    buffer.clear()
                    gevent.sleep(0.1)
        finally:
            # Claimed but not launched (paused, stopped, shutting down): back to the queue.
            stopped = campaign_id is not None and self.control.state(campaign_id) == "stopped"
            try:
                self.give_back_many(buffer, cancel=stopped)
            except Exception:
                log.warning("could not give back attempts %s", [a.id for a in buffer], exc_info=True)

    def _batch_size(self, camp: Campaign | None) -> int:
        """How many attempts a lane claims at once: about what it dials in half a second (1 to 128).

        A claim is one transaction (and, on SQLite, a turn of the one write lock the event listener also
        needs); at high rates a bigger batch spreads it over more calls (measured: 32 → 128 took one
        worker from ~290 to ~420 originates/s), while at low rates a lane holds no more than it dials
        before its next claim.
        """
        if camp is None:
            return 2
        if _agent_dialing.is_agent_campaign(camp):
            return 64  # bounded by the controller's quota (see _claim)
        per_lane = float(camp.calls_per_minute or 10) / 60.0 / max(1, self.opts.lanes_per_campaign)
        return max(1, min(128, int(per_lane * 0.5)))

    def _account(self, account_id: str) -> Account | None:
        hit = self._accounts.get(account_id)
        if hit is not None and time.monotonic() - hit[0] < 5.0:
            return hit[1]
        with db.session_scope(self.db_url) as s:
            acc = s.get(Account, account_id)
        self._accounts[account_id] = (time.monotonic(), acc)
        return acc

    def _prefetch(self, batch: list[Attempt], camp: Campaign) -> "_Prefetch":
        """Contacts and DND hits of a freshly claimed batch, read in one transaction instead of one per call."""
        numbers = {a.number for a in batch}
        ids = {a.contact_id for a in batch if a.contact_id is not None}
        cond = [DndList.scope == "account", DndList.account_id == camp.account_id]
        with db.session_scope(self.db_url) as s:
            contacts = {c.id: c for c in s.execute(sa.select(Contact).where(Contact.id.in_(ids))).scalars()} \
                if ids else {}
            where = sa.or_(sa.and_(*cond), DndList.id == camp.dnd_list_id) if camp.dnd_list_id else sa.and_(*cond)
            dnd = set(s.execute(sa.select(DndNumber.number).join(DndList, DndList.id == DndNumber.dnd_list_id)
                                .where(DndNumber.number.in_(numbers)).where(where)).scalars())
        return _Prefetch(account_id=camp.account_id, contacts=contacts, dnd=dnd)

    def _claim(self, campaign_id: str | None) -> list[Attempt]:
        """Claim the lane's next attempts (reserving their channel uuids) on the least-loaded node."""
        camp = self._campaigns.get(campaign_id) if campaign_id else None
        if campaign_id is not None:
            if camp is None or self.control.state(campaign_id) not in (None, "running"):
                return []
            if camp.max_concurrent and self.pacer.slots_in_use(self._camp_slots(campaign_id)) >= camp.max_concurrent:
                return []
        size = self._batch_size(camp)
        if _agent_dialing.is_agent_campaign(camp):
            size = min(size, self.agent_dialing.quota(camp))
            if size <= 0:
                return []
        node = self.nodes.pick()
        if node is None:
            return []
        uuids = [str(_uuid.uuid4()) for _ in range(size)]
        started = time.perf_counter()
        with db.session_scope(self.db_url) as s:
            got = _attempts.claim_batch(s, self.worker_id, uuids, node.name,
                                        campaign_id=campaign_id, requests=campaign_id is None)
        _metrics.claimed(campaign_id is not None, len(got), time.perf_counter() - started)
        return got

    # ------------------------------------------------------------------ one claimed batch
    def _dial_batch(self, buffer: list[Attempt], camp: Campaign | None) -> bool:
        """Settle, pace, gate and originate the claimed attempts in ``buffer`` (emptied as they go).

        Per batch, not per call: one read of contacts and DND (or call requests), one Redis script that
        holds the slots and reserves the grants of as many calls as the caps allow, one gate per group
        of calls due together. False when a concurrency cap is full (the rest went back to the queue).
        """
        ready = self.prepare(buffer, camp)
        try:
            for key, group in _groups(ready):
                if not self.admit_and_send(group, camp, buffer):
                    self.give_back_many(buffer)
                    buffer.clear()
                    return False
            return True
        finally:
            if camp is not None and camp.id in self._balance_pauses:
                self._pause_for_balance(camp)

    def prepare(self, buffer: list[Attempt], camp: Campaign | None) -> list["_Call"]:
        """Settle what needs no call (DND, outside calling hours, undialable) and build the originates."""
        ready: list[_Call] = []
        dnd: list[tuple[Attempt, object]] = []
        later: list[tuple[Attempt, object]] = []
        reqs: dict = {}
        pre = self._prefetch(buffer, camp) if camp is not None else None
        blocked = self._abandoned_recently(buffer, camp)
        if camp is None:
            ids = {a.request_id for a in buffer if a.request_id}
            if ids:
                with db.session_scope(self.db_url) as s:
                    reqs = {r.id: r for r in s.execute(sa.select(CallRequest).where(CallRequest.id.in_(ids))).scalars()}
        now = utcnow()
        todo: list[tuple[Attempt, object, str | None]] = []
        for a in list(buffer):
            contact = None
            if pre is not None:
                contact = pre.contacts.get(a.contact_id) if a.contact_id is not None else None
                if a.number in pre.dnd:
                    dnd.append((a, contact))
                    continue
                opening = _campaigns.next_opening(camp, a.number, now, contact)
                if opening is not None:
                    later.append((a, opening))
                    continue
            agent_id = self.reserved_agents.pop(a.origination_uuid, None)
            if agent_id is None and a.number in blocked:
                # Abandoned within 72 hours: called again only straight to an agent, reserved before dialing.
                agent = self.agent_dialing.acd.reserve(camp.id, a.origination_uuid)
                if agent is None:
                    later.append((a, now + timedelta(seconds=AGENT_RETRY_SECONDS)))
                    continue
                agent_id = agent.agent_id
            todo.append((a, contact, agent_id))
        # Prepaid accounts: each call holds its talk time before it is built (docs/billing.md).
        grants = self._billing_grants(todo)
        for a, contact, agent_id in todo:
            grant = grants.get(a.origination_uuid)
            if grant is not None and not grant.ok:
                self._out_of_balance(a, camp, grant, buffer, later)
                continue
            node = self.nodes.nodes.get(a.fs_node or "")
            try:
                command = self._originate(a, camp, contact, reqs.get(a.request_id), node,
                                          reserved_agent=agent_id,
                                          talk_limit=grant.seconds if grant is not None else None).command()
            except (OriginateError, _campaigns.CampaignError, ValueError) as exc:
                buffer.remove(a)
                self._fail_before_send(a, "INVALID_NUMBER_FORMAT", str(exc))
                continue
            ready.append(_Call(a, command, node))
        if dnd:
            with db.session_scope(self.db_url) as s:
                for a, contact in dnd:
                    self._finish_dnd(s, a, camp, contact)
        for a, opening in later:
            self.give_back(a, next_try_at=opening)
        settled = {id(a) for a, _ in dnd} | {id(a) for a, _ in later}
        buffer[:] = [a for a in buffer if id(a) not in settled]
        if not ready and camp is not None and camp.id in self._balance_pauses:
            self._pause_for_balance(camp)  # nothing of this batch was paid for: nothing to let go out first
        return ready

    def admit_and_send(self, calls: list["_Call"], camp: Campaign | None, buffer: list[Attempt]) -> bool:
        """Calls of one account on one node: hold their slots, reserve their instants, send them on time."""
        first = calls[0]
        node = first.node
        if node is None:
            return False
        slot_ttl = self.opts.originate_timeout + self.opts.max_call_seconds
        account = self._account(first.attempt.account_id)
        slots = [_pacing.Slots(self.nodes.slots_key(node), node.max_sessions)]
        if camp is not None and camp.max_concurrent:
            slots.append(_pacing.Slots(self._camp_slots(camp.id), camp.max_concurrent))
        if account is not None and account.max_concurrent_calls:
            slots.append(_pacing.Slots(self.pacer.slots_key("account", account.id), account.max_concurrent_calls))
        rates = self._rates(camp, account, node)
        pending = list(calls)
        while pending:
            if not self._still_dialable(camp):
                self.give_back_many([c.attempt for c in pending], cancel=self._stopped(camp))
                _drop(buffer, pending)
                return True
            adm = self.pacer.admit([c.uuid for c in pending], slots, rates, ttl=slot_ttl, horizon=self.opts.horizon)
            admitted, pending = pending[:len(adm.times)], pending[len(adm.times):]
            if admitted:
                self._send_on_time(admitted, adm, camp, slots, buffer)
            if pending and adm.full:
                return False
            if pending and not admitted:
                gevent.sleep(min(adm.wait, 0.25))
        return True

    def _send_on_time(self, calls: list["_Call"], adm: _pacing.Admission, camp: Campaign | None,
                      slots: list[_pacing.Slots], buffer: list[Attempt]) -> None:
        """Send each admitted call at its granted instant; calls already due go out together."""
        campaign_id = camp.id if camp is not None else None
        # Grants are in Redis's clock; map them onto this process's clock once.
        offset = time.monotonic() - adm.now
        i = 0
        while i < len(calls):
            delay = adm.times[i] + offset - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            now = time.monotonic()
            j = i + 1
            while j < len(calls) and adm.times[j] + offset <= now:
                j += 1
            group = calls[i:j]
            if not self.control.gate_many(campaign_id, [c.uuid for c in group]):
                rest = calls[i:]
                self._release_slots(slots, [c.uuid for c in rest])
                self.give_back_many([c.attempt for c in rest], cancel=self._stopped(camp))
                _drop(buffer, rest)
                return
            i = j
            _drop(buffer, group)
            if _agent_dialing.is_agent_campaign(camp):
                self.agent_dialing.launched(camp.id, [c.uuid for c in group])
            try:
                self._send(group)
            finally:
                self.control.done_many(campaign_id, [c.uuid for c in group])

    def _send(self, group: list["_Call"]) -> None:
        """Write the group's originates (concurrently on the node's connection; replies come in order)."""
        client = self.nodes.client(group[0].node.name)
        self._last_send = time.monotonic()
        for c in group:
            self.launched.add(c.uuid)  # the slots now belong to the call; its end releases them
        if len(group) == 1:
            results = [_try(client.bgapi, group[0].command, group[0].uuid)]
        else:
            jobs = [gevent.spawn(_try, client.bgapi, c.command, c.uuid) for c in group]
            gevent.joinall(jobs)
            results = [j.value for j in jobs]
        for c, exc in zip(group, results):
            if exc is None or "not connected" not in str(exc):
                self.billed.discard(c.uuid)  # the call's record settles its reservation now
            if exc is None:
                self.originates_sent += 1
            elif "not connected" in str(exc):
                # Nothing was written: the call was not placed.
                self.launched.discard(c.uuid)
                self.give_back(c.attempt)
                self.release_call(c.attempt)
                _metrics.send_failed(c.node.name, "not_connected")
            else:
                # Written but unanswered: the node may have it; the reconciler decides after reconnecting.
                log.warning("originate %s: %s", c.uuid, exc)
                _metrics.send_failed(c.node.name, "no_reply")
        _metrics.sent(group[0].node.name, group[0].attempt.campaign_id, results.count(None))

    def dialing_now(self, within: float = 0.05) -> bool:
        """Whether a lane wrote an originate in the last ``within`` seconds (the listener gives way then)."""
        return time.monotonic() - self._last_send < within

    def _release_slots(self, slots: list[_pacing.Slots], uuids: list[str]) -> None:
        if not uuids:
            return
        pipe = self.redis.pipeline(transaction=False)
        for s in slots:
            pipe.zrem(s.key, *uuids)
        pipe.execute()

    def _camp_slots(self, campaign_id: str) -> str:
        return self.pacer.slots_key("campaign", campaign_id)

    def _stopped(self, camp: Campaign | None) -> bool:
        return camp is not None and self._stopped_id(camp.id)

    def _stopped_id(self, campaign_id: str) -> bool:
        return self.control.state(campaign_id) == "stopped"


    def _still_dialable(self, camp: Campaign | None) -> bool:
        return self._running and (camp is None or self.control.state(camp.id) in (None, "running"))

    def _rates(self, camp: Campaign | None, account: Account | None, node) -> list[_pacing.Rate]:
        rates = [self.nodes.rate(node)]
        if self.opts.gateway_cps:
            rates.append(_pacing.Rate.per_second(self.pacer.rate_key("gateway", self.opts.gateway),
                                                 self.opts.gateway_cps))
        if camp is not None:
            cpm = float(camp.calls_per_minute or 10)
            if camp.max_concurrent:
                stats = _pacing.load_stats(self.redis, self.key_prefix, camp.id)
                cpm = min(cpm, _pacing.sustainable_cpm(camp.max_concurrent, stats))
            _metrics.paced(camp.id, cpm)
            rates.append(_pacing.Rate.per_minute(self.pacer.rate_key("campaign", camp.id), cpm))
        if account is not None and account.max_calls_per_minute:
            rates.append(_pacing.Rate.per_minute(self.pacer.rate_key("account", account.id),
                                                 account.max_calls_per_minute))
        return rates

    def _abandoned_recently(self, buffer: list[Attempt], camp: Campaign | None) -> set[str]:
        """Numbers of an agent campaign's batch abandoned within 72 hours (the redial rule; empty otherwise)."""
        if not _agent_dialing.is_agent_campaign(camp) or not buffer:
            return set()
        return self.agent_dialing.recently_abandoned(camp, {a.number for a in buffer})

    def _originate(self, a: Attempt, camp: Campaign | None, contact, req, node,
                   reserved_agent: str | None = None, talk_limit: int | None = None) -> Originate:
        if camp is not None:
            spec = _campaigns.call_spec(camp, contact, a.number, a.id)
            if reserved_agent and spec.agent is not None:
                spec.agent.reserved_agent_id = reserved_agent
            caller_id = camp.caller_id
            timeout = self.opts.originate_timeout
        else:
            from dialer.submit import request_spec

            spec = request_spec(req, a) if req is not None else None
            if spec is None:
                raise ValueError(f"attempt {a.id} has no call request")
            caller_id = spec.caller_id
            timeout = int((req.parameters or {}).get("originate_timeout") or self.opts.originate_timeout)
        return Originate(call_uuid=a.origination_uuid, number=a.number, gateway=self.opts.gateway,
                         caller_id=caller_id, spec=spec, ivr_address=self.cfg.ivr_address,
                         originate_timeout=timeout, key_prefix=self.key_prefix, worker_id=self.worker_id,
                         number_format=self.cfg.dialer_number_format, region=self.cfg.default_region,
                         extra_vars=_billing_calls.limit_vars(talk_limit))

    # ------------------------------------------------------------------ outcomes without a call
    def give_back(self, a: Attempt, *, next_try_at=None, cancel: bool = False) -> None:
        with db.session_scope(self.db_url) as s:
            _attempts.release(s, a.id, self.worker_id, cancel=cancel, next_try_at=next_try_at)
        self.unreserve_agents([a])
        self._release_billing([a])

    def give_back_many(self, attempts: list[Attempt], *, cancel: bool = False) -> None:
        if not attempts:
            return
        with db.session_scope(self.db_url) as s:
            for a in attempts:
                _attempts.release(s, a.id, self.worker_id, cancel=cancel)
        self.unreserve_agents(attempts)
        self._release_billing(attempts)

    # ------------------------------------------------------------------ prepaid balances (docs/billing.md)
    def _billing_grants(self, todo: list) -> dict:
        """Reserve talk time for the batch's calls of prepaid accounts (one read when none is prepaid)."""
        if not todo:
            return {}
        grants = _billing_calls.reserve_attempts(
            self.db_url, [(a.account_id, a.origination_uuid, a.number) for a, _, _ in todo],
            self.cfg.billing_reserve_seconds)
        self.billed.update(u for u, g in grants.items() if g.ok and g.amount)
        return grants

    def _pause_for_balance(self, camp: Campaign) -> None:
        """Pause a campaign whose account cannot pay its next call, with a hold that a top-up releases
        (status and hold in one transaction: a paused campaign is never seen without its reason)."""
        from billing import holds

        self._balance_pauses.discard(camp.id)
        with db.session_scope(self.db_url, immediate=True) as s:
            moved = s.execute(sa.update(Campaign).where(Campaign.id == camp.id, Campaign.status == "running")
                              .values(status="paused", updated_at=utcnow())).rowcount
            if moved:
                holds.hold(s, camp.id, camp.account_id)
        if moved:
            self.control.set_state(camp.id, "paused", wait=0)
            log.info("campaign %s paused: account %s is out of balance", camp.id, camp.account_id)

    def _sweep_billing(self) -> None:
        """Every BILLING_SWEEP_EVERY seconds, free reservations whose calls must be over (lost records, dead workers)."""
        now = time.monotonic()
        if now - self._billing_swept < BILLING_SWEEP_EVERY:
            return
        self._billing_swept = now
        _billing_calls.sweep(self.db_url, self.opts.originate_timeout + BILLING_SWEEP_GRACE)

    def _release_billing(self, attempts: list[Attempt]) -> None:
        """Attempts going back to the queue give back what they reserved (their next claim reserves anew)."""
        uuids = [a.origination_uuid for a in attempts if a.origination_uuid in self.billed]
        if uuids:
            self.billed.difference_update(uuids)
            try:
                _billing_calls.release_uuids(self.db_url, uuids)
            except Exception:  # the stale sweep gives them back later
                log.warning("could not release reservations %s", uuids, exc_info=True)

    def _out_of_balance(self, a: Attempt, camp: Campaign | None, grant, buffer: list[Attempt],
                        later: list) -> None:
        """A call its account cannot pay: while calls in progress hold reservations it waits for them to
        settle; once nothing is held a campaign is paused (not failed) until a top-up and a single request
        fails as a barred call; a destination without a rate fails either way."""
        if grant.reason == "wait":
            later.append((a, utcnow() + timedelta(seconds=BILLING_WAIT_SECONDS)))
            return
        if camp is not None and grant.reason == "balance":
            later.append((a, None))
            self._balance_pauses.add(camp.id)  # once the batch's paid calls are out (_dial_batch)
            return
        buffer.remove(a)
        why = "insufficient balance" if grant.reason == "balance" else f"no rate for {a.number}"
        self._fail_before_send(a, "OUTGOING_CALL_BARRED", why)

    def unreserve_agents(self, attempts: list[Attempt]) -> None:
        """An agent reserved for a call that is not placed after all (72-hour rule, preview) is free again."""
        for a in attempts:
            if a.origination_uuid and _agent_dialing.is_agent_campaign(self.campaign(a.campaign_id)):
                self.agent_dialing.release_agent(a.origination_uuid, 0)

    def _finish_dnd(self, s, a: Attempt, camp: Campaign, contact) -> None:
        done = _attempts.finish_without_channel(s, a.id, "cancelled", dial_status="DND", origination_uuid=None,
                                                job_uuid=None, ended_at=utcnow())
        if done is None:
            return
        _metrics.dnd_skipped()
        from dialer import records

        res = records.record_dnd(s, account_id=a.account_id, number=a.number, campaign_id=camp.id,
                                 list_id=camp.list_id, contact_id=a.contact_id, caller_id=camp.caller_id)
        s.flush()
        # Queued after commit by the caller's scope ending; a DND record's callback is rare enough to send here.
        gevent.spawn_later(0.05, self.enqueue_callbacks, list(res.deliveries))

    def _fail_before_send(self, a: Attempt, cause: str, message: str) -> None:
        log.warning("attempt %s cannot be dialed: %s", a.id, message)
        deliveries: list[int] = []
        with db.session_scope(self.db_url, immediate=True) as s:
            done = _attempts.transition(s, a.origination_uuid, ["dialing"], "failed", dial_status="CHANUNAVAIL",
                                        hangup_cause=cause, error=message[:500], ended_at=utcnow())
            if done is not None:
                deliveries += self.record_failure(s, done, cause)
                _metrics.not_dialled(a.call_type, cause, "CHANUNAVAIL")
        self.enqueue_callbacks(deliveries)

    # ------------------------------------------------------------------ hooks used by the listener
    def record_hangup(self, s, headers: dict, attempt: Attempt | None = None) -> list[int]:
        """CDR upsert from a CHANNEL_HANGUP_COMPLETE (returns callback deliveries to enqueue after commit).

        ``attempt``: the call's attempt when the caller has it already (it is not read again).
        """
        from dialer import records

        return list(records.record_channel_hangup(s, headers, attempt=attempt).deliveries)

    def record_failure(self, s, a: Attempt, cause: str) -> list[int]:
        """CDR of an originate that failed without a channel."""
        from dialer import records

        return list(records.record_originate_failure(s, a.id, cause, origination_uuid=a.origination_uuid,
                                                     node=a.fs_node, attempt=a).deliveries)

    def enqueue_callbacks(self, deliveries: list[int]) -> None:
        """Hand committed callback deliveries to their RQ jobs."""
        if not deliveries:
            return
        try:
            from dialer import callbacks

            callbacks.enqueue(deliveries, cfg=self.cfg)
        except Exception:
            log.warning("could not enqueue callbacks %s", deliveries, exc_info=True)

    def release_call(self, a: Attempt, pipe=None) -> None:
        """Free every slot a finished call held (on ``pipe`` when given: the caller sends it)."""
        u = a.origination_uuid
        if not u:
            return
        keys = [self.pacer.slots_key("account", a.account_id)]
        node = self.nodes.nodes.get(a.fs_node or "")
        if node is not None:
            keys.append(self.nodes.slots_key(node))
        if a.campaign_id:
            keys.append(self._camp_slots(a.campaign_id))
        own = pipe is None
        if own:
            pipe = self.redis.pipeline(transaction=False)  # one round trip for the call's slots
        for key in keys:
            pipe.zrem(key, u)
        if own:
            pipe.execute()
        self.launched.discard(u)

    def agent_call_answered(self, a: Attempt, pipe) -> None:
        """An agent campaign's call was answered (queued on the listener's pipeline)."""
        self.agent_dialing.call_answered(self.campaign(a.campaign_id), a, pipe)

    def agent_channel_event(self, name: str, headers: dict, body: str) -> bool:
        """A nailed-up agent's channel event (see :mod:`dialer.nailed`); True when it was one (not a call's)."""
        return self.nailed.on_event(name, headers, body)

    def agent_call_ended(self, a: Attempt, answered: bool, pipe) -> None:
        """An agent campaign's call ended (see :meth:`dialer.agent_dialing.AgentDialing.call_ended`)."""
        self.agent_dialing.call_ended(self.campaign(a.campaign_id), a, answered, pipe)

    def live_change(self, a: Attempt, delta: int, pipe=None) -> None:
        """Live-call counters per call type (seed 002's live statistics); idempotent per channel uuid.

        With ``pipe`` the change is only queued there (the caller sends it and handles its errors).
        """
        from dialer import live

        if pipe is not None:
            if delta > 0:
                live.queue_answered(pipe, self.key_prefix, a.origination_uuid, a.call_type, a.account_id)
            else:
                live.queue_ended(pipe, self.key_prefix, a.origination_uuid or "")
            return
        try:
            if delta > 0:
                live.call_started(a.call_type, self.cfg, uuid=a.origination_uuid, account_id=a.account_id)
            else:
                live.call_ended(a.origination_uuid, self.cfg)
        except Exception:
            log.warning("live counter update failed", exc_info=True)


@dataclass
class _Call:
    """A claimed attempt ready to dial: its originate command and its node."""

    attempt: Attempt
    command: str
    node: object

    @property
    def uuid(self) -> str:
        return self.attempt.origination_uuid


def _groups(calls: list[_Call]):
    """Consecutive calls of one account on one node (they share every slot set and rate)."""
    out: list[tuple[tuple, list[_Call]]] = []
    for c in calls:
        key = (c.attempt.account_id, c.attempt.fs_node)
        if out and out[-1][0] == key:
            out[-1][1].append(c)
        else:
            out.append((key, [c]))
    return out


def _drop(buffer: list[Attempt], calls: list[_Call]) -> None:
    """Remove calls from a lane's buffer (they were launched or settled)."""
    gone = {id(c.attempt) for c in calls}
    buffer[:] = [a for a in buffer if id(a) not in gone]


def _try(fn, *args) -> Exception | None:
    """Run ``fn``; the ESLError it raised, or None."""
    try:
        fn(*args)
        return None
    except ESLError as exc:
        return exc

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

import gevent
import redis as _redis
import sqlalchemy as sa

from config import Settings, settings
from freeswitch.inbound import ESLError, InboundClient

from dialer import attempts as _attempts
from dialer import campaigns as _campaigns
from dialer import pacing as _pacing
from dialer.listener import EVENTS, Listener, Reconciler
from dialer.nodes import NodePool, parse_nodes
from dialer.originate import Originate, OriginateError
from dialer.store import db
from dialer.store.models import Account, Attempt, CallRequest, Campaign, Contact, DndList, DndNumber, utcnow

log = logging.getLogger(__name__)


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
        self.listener = Listener(self, foreign_delay=self.opts.foreign_delay)
        self.reconciler = Reconciler(self, self.listener, grace=self.opts.recovery_grace)
        self.launched: set[str] = set()  # call uuids this process sent (bgapi accepted)
        self._live_cache: set[str] = set()
        self.originates_sent = 0
        self._lanes: dict[str | None, list[gevent.Greenlet]] = {}
        self._campaigns: dict[str, Campaign] = {}
        self._accounts: dict[str, tuple[float, Account | None]] = {}
        self._greenlets: list[gevent.Greenlet] = []
        self._running = False

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
                send_timeout=self.opts.send_timeout, name=node.name)
            self.nodes.clients[node.name] = client
            client.start()
        for client in self.nodes.clients.values():
            client.wait_connected(wait_connected)
        self._beat()
        self._greenlets = [gevent.spawn(self._heartbeat_loop), gevent.spawn(self._refresh_loop),
                           gevent.spawn(self._recovery_loop)]
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

    def run_forever(self) -> None:
        """Block until the process is told to stop (SIGTERM/SIGINT handled by the caller)."""
        while self._running:
            gevent.sleep(1.0)

    def _on_connect(self, node_name: str):
        def reconcile(client: InboundClient) -> None:
            if client.generation > 1:
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
        self._lanes[campaign_id] = [gevent.spawn(self._lane, campaign_id)
                                    for _ in range(max(1, self.opts.lanes_per_campaign))]

    def _lane(self, campaign_id: str | None) -> None:
        buffer: list[Attempt] = []
        pre: _Prefetch | None = None
        try:
            while self._running and (campaign_id is None or campaign_id in self._campaigns):
                try:
                    if not buffer:
                        buffer = self._claim(campaign_id)
                        if not buffer:
                            gevent.sleep(0.1 if campaign_id is None else 0.05)
                            continue
                        camp = self._campaigns.get(campaign_id) if campaign_id else None
                        pre = self._prefetch(buffer, camp) if camp is not None else None
                    a = buffer.pop(0)
                    if not self._launch(a, self._campaigns.get(campaign_id) if campaign_id else None, pre):
                        gevent.sleep(0.05)
                except Exception:
                    log.exception("dialing lane %s failed; continuing", campaign_id)
                    gevent.sleep(0.1)
        finally:
            # Claimed but not launched (paused, stopped, shutting down): back to the queue.
            stopped = campaign_id is not None and self.control.state(campaign_id) == "stopped"
            for a in buffer:
                try:
                    self._give_back(a, cancel=stopped)
                except Exception:
                    log.warning("could not give back attempt %s", a.id, exc_info=True)

    def _batch_size(self, camp: Campaign | None) -> int:
        """How many attempts a lane claims at once: about what it dials in half a second (1 to 32).

        A claim is one transaction; at high rates a bigger batch spreads it over more calls, while at
        low rates a lane holds no more than it dials before its next claim.
        """
        if camp is None:
            return 2
        per_lane = float(camp.calls_per_minute or 10) / 60.0 / max(1, self.opts.lanes_per_campaign)
        return max(1, min(32, int(per_lane * 0.5)))

    def _account(self, account_id: str) -> Account | None:
        hit = self._accounts.get(account_id)
        if hit is not None and time.monotonic() - hit[0] < 5.0:
            return hit[1]
        with db.session_scope(self.db_url) as s:
            acc = s.get(Account, account_id)
        self._accounts[account_id] = (time.monotonic(), acc)
        return acc

    def _is_dnd(self, s, account_id: str, dnd_list_id: str | None, number: str) -> bool:
        cond = [DndList.scope == "account", DndList.account_id == account_id]
        q = (sa.select(DndNumber.id).join(DndList, DndList.id == DndNumber.dnd_list_id)
             .where(DndNumber.number == number)
             .where(sa.or_(sa.and_(*cond), DndList.id == dnd_list_id) if dnd_list_id else sa.and_(*cond)).limit(1))
        return s.execute(q).first() is not None

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
        node = self.nodes.pick()
        if node is None:
            return []
        uuids = [str(_uuid.uuid4()) for _ in range(self._batch_size(camp))]
        with db.session_scope(self.db_url) as s:
            return _attempts.claim_batch(s, self.worker_id, uuids, node.name,
                                         campaign_id=campaign_id, requests=campaign_id is None)

    def dial_one(self, campaign_id: str | None) -> bool:
        """Claim and launch one attempt (a lane's turn without its batching); True when one was handled."""
        batch = self._claim(campaign_id)
        for a in batch[1:]:
            self._give_back(a)
        return bool(batch) and self._launch(batch[0], self._campaigns.get(campaign_id) if campaign_id else None)

    def _launch(self, a: Attempt, camp: Campaign | None, pre: "_Prefetch | None" = None) -> bool:
        """Check, pace, gate and originate one claimed attempt; False when a cap is full (it went back)."""
        slot_ttl = self.opts.originate_timeout + self.opts.max_call_seconds
        held: list[str] = []
        try:
            return self._launch_held(a, camp, held, slot_ttl, pre)
        finally:
            for key in held:  # a launch that did not happen gives its slots back
                self.pacer.release_slot(key, a.origination_uuid)

    def _launch_held(self, a: Attempt, camp: Campaign | None, held: list[str], slot_ttl: float,
                     pre: "_Prefetch | None" = None) -> bool:
        call_uuid = a.origination_uuid
        contact = None
        req = None
        if camp is not None and pre is not None and pre.account_id == a.account_id:
            contact = pre.contacts.get(a.contact_id) if a.contact_id is not None else None
            if a.number in pre.dnd:
                with db.session_scope(self.db_url) as s:
                    self._finish_dnd(s, a, camp, contact)
                return True
        else:
            with db.session_scope(self.db_url) as s:
                if camp is not None:
                    contact = s.get(Contact, a.contact_id) if a.contact_id is not None else None
                    if self._is_dnd(s, a.account_id, camp.dnd_list_id, a.number):
                        self._finish_dnd(s, a, camp, contact)
                        return True
                elif a.request_id:
                    req = s.get(CallRequest, a.request_id)
        now = utcnow()
        if camp is not None:
            opening = _campaigns.next_opening(camp, a.number, now, contact)
            if opening is not None:
                self._give_back(a, next_try_at=opening)
                return True
            if camp.max_concurrent:
                key = self._camp_slots(camp.id)
                if not self.pacer.acquire_slot(key, call_uuid, camp.max_concurrent, slot_ttl):
                    self._give_back(a)
                    return False
                held.append(key)
        node = self.nodes.nodes.get(a.fs_node or "")
        if node is None or not self.pacer.acquire_slot(self.nodes.slots_key(node), call_uuid, node.max_sessions,
                                                       slot_ttl):
            self._give_back(a)
            return False
        held.append(self.nodes.slots_key(node))
        account = self._account(a.account_id)
        if account is not None and account.max_concurrent_calls:
            key = self.pacer.slots_key("account", a.account_id)
            if not self.pacer.acquire_slot(key, call_uuid, account.max_concurrent_calls, slot_ttl):
                self._give_back(a)
                return False
            held.append(key)
        try:
            command = self._originate(a, camp, contact, req, node).command()
        except (OriginateError, _campaigns.CampaignError, ValueError) as exc:
            self._fail_before_send(a, f"INVALID_NUMBER_FORMAT", str(exc))
            return True
        rates = self._rates(a, camp, account, node)
        while True:
            grant = self.pacer.reserve(rates, horizon=self.opts.horizon)
            if grant.ok:
                break
            gevent.sleep(min(grant.wait, 0.25))
            if not self._still_dialable(camp):
                self._give_back(a, cancel=self._stopped(camp))
                return True
        if grant.wait > 0:
            gevent.sleep(grant.wait)
        campaign_id = camp.id if camp is not None else None
        if not self.control.gate(campaign_id, call_uuid):
            self._give_back(a, cancel=self._stopped(camp))
            return True
        client = self.nodes.client(node.name)
        try:
            self.launched.add(call_uuid)
            held.clear()  # the slots now belong to the call; its end releases them
            client.bgapi(command, job_uuid=call_uuid)
            self.originates_sent += 1
        except ESLError as exc:
            if "not connected" in str(exc):
                # Nothing was written: the call was not placed.
                self.launched.discard(call_uuid)
                self._give_back(a)
                self.release_call(a)
            else:
                # Written but unanswered: the node may have it; the reconciler decides after reconnecting.
                log.warning("originate %s: %s", call_uuid, exc)
        finally:
            self.control.done(campaign_id, call_uuid)
        return True

    def _camp_slots(self, campaign_id: str) -> str:
        return self.pacer.slots_key("campaign", campaign_id)

    def _stopped(self, camp: Campaign | None) -> bool:
        return camp is not None and self.control.state(camp.id) == "stopped"


    def _still_dialable(self, camp: Campaign | None) -> bool:
        return self._running and (camp is None or self.control.state(camp.id) in (None, "running"))

    def _rates(self, a: Attempt, camp: Campaign | None, account: Account | None, node) -> list[_pacing.Rate]:
        rates = [self.nodes.rate(node)]
        if self.opts.gateway_cps:
            rates.append(_pacing.Rate.per_second(self.pacer.rate_key("gateway", self.opts.gateway),
                                                 self.opts.gateway_cps))
        if camp is not None:
            cpm = float(camp.calls_per_minute or 10)
            if camp.max_concurrent:
                stats = _pacing.load_stats(self.redis, self.key_prefix, camp.id)
                cpm = min(cpm, _pacing.sustainable_cpm(camp.max_concurrent, stats))
            rates.append(_pacing.Rate.per_minute(self.pacer.rate_key("campaign", camp.id), cpm))
        if account is not None and account.max_calls_per_minute:
            rates.append(_pacing.Rate.per_minute(self.pacer.rate_key("account", account.id),
                                                 account.max_calls_per_minute))
        return rates

    def _originate(self, a: Attempt, camp: Campaign | None, contact, req, node) -> Originate:
        if camp is not None:
            spec = _campaigns.call_spec(camp, contact, a.number, a.id)
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
                         originate_timeout=timeout, key_prefix=self.key_prefix, worker_id=self.worker_id)

    # ------------------------------------------------------------------ outcomes without a call
    def _give_back(self, a: Attempt, *, next_try_at=None, cancel: bool = False) -> None:
        with db.session_scope(self.db_url) as s:
            _attempts.release(s, a.id, self.worker_id, cancel=cancel, next_try_at=next_try_at)

    def _finish_dnd(self, s, a: Attempt, camp: Campaign, contact) -> None:
        done = _attempts.finish_without_channel(s, a.id, "cancelled", dial_status="DND", origination_uuid=None,
                                                job_uuid=None, ended_at=utcnow())
        if done is None:
            return
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
        self.enqueue_callbacks(deliveries)

    # ------------------------------------------------------------------ hooks used by the listener
    def record_hangup(self, s, headers: dict) -> list[int]:
        """CDR upsert from a CHANNEL_HANGUP_COMPLETE (returns callback deliveries to enqueue after commit)."""
        from dialer import records

        return list(records.record_channel_hangup(s, headers).deliveries)

    def record_failure(self, s, a: Attempt, cause: str) -> list[int]:
        """CDR of an originate that failed without a channel."""
        from dialer import records

        return list(records.record_originate_failure(s, a.id, cause, origination_uuid=a.origination_uuid,
                                                     node=a.fs_node).deliveries)

    def enqueue_callbacks(self, deliveries: list[int]) -> None:
        """Hand committed callback deliveries to their RQ jobs."""
        if not deliveries:
            return
        try:
            from dialer import callbacks

            callbacks.enqueue(deliveries, cfg=self.cfg)
        except Exception:
            log.warning("could not enqueue callbacks %s", deliveries, exc_info=True)

    def release_call(self, a: Attempt) -> None:
        """Free every slot a finished call held."""
        u = a.origination_uuid
        if not u:
            return
        keys = [self.pacer.slots_key("account", a.account_id)]
        node = self.nodes.nodes.get(a.fs_node or "")
        if node is not None:
            keys.append(self.nodes.slots_key(node))
        if a.campaign_id:
            keys.append(self._camp_slots(a.campaign_id))
        pipe = self.redis.pipeline(transaction=False)  # one round trip for the call's slots
        for key in keys:
            pipe.zrem(key, u)
        pipe.execute()
        self.launched.discard(u)

    def live_change(self, a: Attempt, delta: int) -> None:
        """Live-call counters per call type (seed 002's live statistics); idempotent per channel uuid."""
        try:
            from dialer import live

            if delta > 0:
                live.call_started(a.call_type, self.cfg, uuid=a.origination_uuid, account_id=a.account_id)
            else:
                live.call_ended(a.origination_uuid, self.cfg)
        except Exception:
            log.warning("live counter update failed", exc_info=True)

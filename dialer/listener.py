"""Channel events → attempt states, CDRs and live counters; and reconciliation after events were missed.

Every dialer process subscribes (on each node's inbound connection, as JSON
events: no URL decoding to pay for) to
BACKGROUND_JOB, CHANNEL_PROGRESS, CHANNEL_PROGRESS_MEDIA, CHANNEL_ANSWER,
CHANNEL_HANGUP_COMPLETE and DTMF (nailed-up agents' digits, :mod:`dialer.nailed`), filtered to this installation's calls
(``variable_vaani_prefix``; BACKGROUND_JOB carries no channel variables, so it
passes a filter on its name and is matched by its Job-UUID, which the dialer
sets to the call's uuid).

So every process sees every call's events, not only its own: a call whose
launcher died is still followed. The launcher applies an event at once;
the others apply it after ``foreign_delay`` seconds, when the launcher has
normally done so already and their attempt ``UPDATE ... WHERE state IN``
changes nothing. Application is idempotent in any case:

* a transition is a conditional UPDATE (a duplicate moves nothing);
* CDRs are upserts keyed by the channel uuid (``dialer.records``);
* side effects (retry rows, live counters, slot release, learning) happen only
  for the caller whose transition changed the row.

Events of one call are applied in order (one shard greenlet per call uuid).

After a reconnect (or when a dead worker's calls are recovered) the
:class:`dialer.reconcile.Reconciler` asks FreeSWITCH which of our live attempts still have a
channel (``show channels as json`` / ``uuid_exists``): those that do are
followed again, those that do not ended while nobody listened and get their
final state and CDR from what is known.
"""

from __future__ import annotations

import logging
import time
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

import gevent
import gevent.queue

from dialer import attempts as _attempts
from dialer import campaigns as _campaigns
from dialer import lua as _lua
from dialer import metrics as _metrics
from dialer import pacing as _pacing
from dialer.store import db
from dialer.dial_status import dial_status_for
from dialer.store.models import CallRequest, Contact, utcnow



class Host(Protocol):
    """What the listener and the reconciler need of the dialing engine (:class:`dialer.engine.Dialer` is one).

    A protocol rather than an import, so the engine (which builds the listener) and the listener do not
    import each other.
    """

    cfg: Any
    opts: Any
    redis: Any
    nodes: Any
    control: Any
    db_url: str
    key_prefix: str
    worker_id: str
    launched: set[str]

    def campaign_row(self, session, campaign_id: str) -> Any: ...
    def dialing_now(self, within: float = 0.05) -> bool: ...
    def live_workers(self) -> set[str]: ...
    def live_workers_cached(self) -> set[str]: ...
    def record_hangup(self, s, headers: dict, attempt: Any = None) -> list[int]: ...
    def record_failure(self, s, a: Any, cause: str) -> list[int]: ...
    def enqueue_callbacks(self, deliveries: list[int]) -> None: ...
    def release_call(self, a: Any, pipe=None) -> None: ...
    def live_change(self, a: Any, delta: int, pipe=None) -> None: ...
    def agent_call_answered(self, a: Any, pipe) -> None: ...
    def agent_call_ended(self, a: Any, answered: bool, pipe) -> None: ...
    def agent_channel_event(self, name: str, headers: dict, body: str) -> bool: ...
    def unreserve_agents(self, attempts: list) -> None: ...


#: ``-ERR`` causes of an originate the switch could not place at all, before it made a channel (only then
#: does this listener see an ``-ERR`` unsettled): FreeSWITCH 1.10's switch_core_session_request_uuid returns
#: no session over ``sessions-per-second`` ("Throttle Error!") or ``max-sessions`` ("Over Session Limit!"),
#: which the endpoint reports as DESTINATION_OUT_OF_ORDER; a switch starting up answers on its event socket
#: before mod_sofia is loaded (CHAN_NOT_IMPLEMENTED) and its gateways exist (INVALID_GATEWAY); one shutting
#: down refuses with SYSTEM_SHUTDOWN. None of them says anything about the number.
SWITCH_REFUSALS = frozenset({"DESTINATION_OUT_OF_ORDER", "CHAN_NOT_IMPLEMENTED", "INVALID_GATEWAY", "SYSTEM_SHUTDOWN"})
#: Seconds before a refused attempt is dialled again, times the refusals so far (at most 10 s): the pacer
#: spaces it further under every cap, and a restarting switch has time to come back.
REFUSAL_BACKOFF = 1.0
#: Refusals of one attempt after which it is failed after all (a switch refusing for another reason).
MAX_REFUSALS = 30


def is_inbound_call(headers: dict) -> bool:
    """A caller's call to one of our numbers: its channel has no call spec and FreeSWITCH says inbound.

    Outbound calls carry ``vaani_call``; the events of an inbound one reach this listener because the
    shipped dialplan (and the IVR runtime, on connect) mark its channel with ``vaani_prefix``.
    """
    return (not headers.get("variable_vaani_call") and not headers.get("variable_vaani_attempt_id")
            and (headers.get("Call-Direction") or "").lower() == "inbound")

log = logging.getLogger(__name__)

_WORKER_RE = __import__("re").compile(r"vaani_worker=([^,}]+)")

#: DTMF for nailed-up agents' channels (dialer.nailed): only those carry channel variables on DTMF events
#: (verbose_events), so only theirs pass the filter on ``variable_vaani_prefix``.
EVENTS = ("BACKGROUND_JOB", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER",
          "CHANNEL_HANGUP_COMPLETE", "DTMF")

def _put(q: gevent.queue.Queue, item: tuple) -> None:
    """Queue an event for its shard with the instant it arrived (the event-lag metric; 0 when metrics are off)."""
    q.put((item, time.monotonic() if _metrics.prom.ON else 0.0))


def _event_time(headers: dict, name: str) -> datetime | None:
    raw = headers.get(name)
    try:
        us = int(raw)
    except (TypeError, ValueError):
        return None
    if us <= 0:
        return None
    return datetime.fromtimestamp(us / 1e6, timezone.utc).replace(tzinfo=None)


def _known_states(s) -> dict[str, str]:
    """Attempt states this transaction set, by channel uuid (kept in the session's ``info``)."""
    return s.info.setdefault("attempt_states", {})


def _known_state(s, call_uuid: str) -> str | None:
    return _known_states(s).get(call_uuid)


def _move(s, call_uuid: str, from_states: tuple[str, ...], to_state: str, **values):
    """:func:`dialer.attempts.transition`, skipped when this transaction already moved the attempt elsewhere.

    A row this transaction changed stays as it left it until the commit (SQLite's write lock, a row lock
    on PostgreSQL), so an UPDATE from states it is no longer in would match nothing: e.g. a
    BACKGROUND_JOB ``+OK`` applied in the same batch after its call's CHANNEL_ANSWER.
    """
    state = _known_state(s, call_uuid)
    if state is not None and state not in from_states:
        return None
    a = _attempts.transition(s, call_uuid, from_states, to_state, **values)
    if a is not None:
        _known_states(s)[call_uuid] = a.state
    return a


def coalesce(items: list[tuple[str, str, dict, str]]) -> list[tuple[str, str, dict, str]]:
    """Drop the events of a call that its own hangup, later in the same batch, makes moot.

    Progress (→ ringing), answer (→ answered, live counter +1) and the originate's ``+OK`` are states the
    hangup moves past in the same transaction: its one conditional UPDATE takes the call from any live
    state to its final one, with the answer time from its own ``Caller-Channel-Answered-Time``, and a
    live counter that would go +1 then −1 is simply not touched. An answer is dropped only when the
    hangup carries that time (otherwise the answer is the only witness that the call was answered).
    Batches hold whole calls often (events wait while the lanes dial), so this saves two or three
    statements a call. Order of what is kept is unchanged.
    """
    hangups: dict[str, int] = {}
    for i, (name, call_uuid, _, _) in enumerate(items):
        if name == "CHANNEL_HANGUP_COMPLETE":
            hangups.setdefault(call_uuid, i)
    if not hangups:
        return items
    out = []
    for i, item in enumerate(items):
        name, call_uuid, _, body = item
        j = hangups.get(call_uuid)
        if j is not None and i < j:
            if name in ("CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA"):
                continue
            if name == "BACKGROUND_JOB" and body.lstrip().startswith("+OK"):
                continue
            if name == "CHANNEL_ANSWER" and _event_time(items[j][2], "Caller-Channel-Answered-Time") is not None:
                continue
        out.append(item)
    return out


class Listener:
    """Applies channel events for one dialer process (see the module docs)."""

    def __init__(self, dialer: Host, shards: int = 4, foreign_delay: float = 1.0, max_defer: float = 0.5,
                 max_backlog: int = 500):
        self.d = dialer
        self.foreign_delay = foreign_delay
        self.max_defer = max_defer
        self.max_backlog = max_backlog
        self._queues = [gevent.queue.Queue() for _ in range(shards)]
        self._workers: list[gevent.Greenlet] = []
        self.applied = 0

    def start(self) -> None:
        """Start the shard greenlets."""
        self._workers = [gevent.spawn(self._drain, q) for q in self._queues]

    def stop(self) -> None:
        """Stop applying events."""
        gevent.killall(self._workers, timeout=2)

    # -- intake ----------------------------------------------------------------
    def on_event(self, event) -> None:
        """Entry point for the ESL client: route one event to its call's shard."""
        h = event.headers
        name = h.get("Event-Name", "")
        if name == "BACKGROUND_JOB":
            arg = h.get("Job-Command-Arg", "")
            if f"vaani_prefix={self.d.key_prefix}," not in arg and f"vaani_prefix={self.d.key_prefix}}}" not in arg:
                return
            call_uuid = h.get("Job-UUID", "")
        else:
            if h.get("variable_vaani_prefix") != self.d.key_prefix:
                return
            call_uuid = h.get("Unique-ID", "")
        if not call_uuid:
            return
        if self.d.agent_channel_event(name, h, event.body):
            return  # a nailed-up agent's own channel, not a call attempt
        mine = call_uuid in self.d.launched
        if not mine:
            # Another worker launched it: while that worker is alive it applies its own events (a worker whose
            # connection dropped reconciles on reconnect). Only a dead launcher's calls are followed here.
            if name == "BACKGROUND_JOB":
                m = _WORKER_RE.search(h.get("Job-Command-Arg", ""))
                launcher = m.group(1) if m else None
            else:
                launcher = h.get("variable_vaani_worker")
            if launcher and launcher in self.d.live_workers_cached():
                # Look again once a dead launcher would have stopped beating: apply only if it did.
                gevent.spawn_later(self.d.opts.heartbeat_ttl + self.d.opts.heartbeat + self.foreign_delay,
                                   self._if_orphaned, launcher, name, call_uuid, dict(h), event.body)
                return
        if name == "BACKGROUND_JOB" and event.body.startswith("-ERR"):
            # A failed originate that had a channel also sends CHANNEL_HANGUP_COMPLETE, the richer
            # record; give it a head start so the job's -ERR only records calls that had none.
            delay = 0.3 if mine else self.foreign_delay + 0.3
        else:
            delay = 0.0 if mine else self.foreign_delay
        item = (name, call_uuid, h, event.body)  # the parser made this dict for this event alone: no copy
        q = self._queues[zlib.crc32(call_uuid.encode()) % len(self._queues)]
        if delay:
            gevent.spawn_later(delay, _put, q, item)
        else:
            _put(q, item)

    def _if_orphaned(self, launcher: str, name: str, call_uuid: str, headers: dict, body: str) -> None:
        if launcher in self.d.live_workers():
            return
        q = self._queues[zlib.crc32(call_uuid.encode()) % len(self._queues)]
        _put(q, (name, call_uuid, headers, body))

    def _drain(self, q: gevent.queue.Queue, batch: int = 32) -> None:
        # Whatever has queued up meanwhile is applied at once, in one transaction: at high call rates
        # the per-transaction cost (SQLite's BEGIN IMMEDIATE, commit) otherwise dominates. Order within
        # a shard, hence per call, is kept.
        while True:
            entries = [q.get()]
            self._yield_to_dialing(q)
            while len(entries) < batch and not q.empty():
                entries.append(q.get_nowait())
            items = [it for it, _ in entries]
            needed = [it for it in items if self._own(it[0], it[1]) or self._safe_needed(*it)]
            if not needed:
                continue
            try:
                self.apply_many(needed)
                self.applied += len(needed)
                _metrics.events_applied([t for _, t in entries])
            except Exception:
                # One bad event must not take the others with it: apply them one by one.
                log.warning("applying %d events together failed; one by one", len(needed), exc_info=True)
                for name, call_uuid, headers, body in needed:
                    try:
                        self.apply_many([(name, call_uuid, headers, body)])
                        self.applied += 1
                    except Exception:
                        log.exception("applying %s of %s failed", name, call_uuid)

    def _yield_to_dialing(self, q: gevent.queue.Queue) -> None:
        """Dialing first: while this process's lanes are sending originates, let events wait a little.

        Greenlets share one interpreter, and applying a batch of events (SQL, no yield) delays every
        lane's timer: originates would leave late and bunched. A lane sends on time, then events are
        applied in bigger batches, which also costs less per event. Bounded: an event waits at most
        ``max_defer`` seconds and a shard at most ``max_backlog`` events, so bookkeeping (slots, CDRs,
        live counters) never falls far behind; a lagging slot release only under-dials, never over.
        """
        deadline = time.monotonic() + self.max_defer
        while self.d.dialing_now() and q.qsize() < self.max_backlog and time.monotonic() < deadline:
            gevent.sleep(0.01)

    def _own(self, name: str, call_uuid: str) -> bool:
        """Events of our own launches skip the read-only pre-check.

        They are first deliveries, their transitions are conditional anyway (a BACKGROUND_JOB +OK after
        CHANNEL_ANSWER moves nothing), a hangup reads the row itself, and they are applied inside a shard's
        batch transaction, which takes the write lock regardless: the pre-check would only add a read.
        """
        return call_uuid in self.d.launched

    def _safe_needed(self, name: str, call_uuid: str, headers: dict, body: str) -> bool:
        try:
            return self._needed(name, call_uuid, body, headers)
        except Exception:
            log.exception("reading the attempt of %s failed", call_uuid)
            return False

    # -- application -----------------------------------------------------------
    def _needed(self, name: str, call_uuid: str, body: str, headers: dict | None = None) -> bool:
        """A read-only look: would this event still change the attempt? (Saves a write lock per duplicate.)

        An inbound call has no attempt: its hangup is always needed, it is the half of its CDR that
        only this event can give (the CDR upsert makes duplicates harmless).
        """
        if name == "CHANNEL_HANGUP_COMPLETE" and headers is not None and is_inbound_call(headers):
            return True
        import sqlalchemy as sa

        from dialer.store.models import Attempt

        with db.session_scope(self.d.db_url) as s:
            state = s.execute(sa.select(Attempt.state).where(Attempt.origination_uuid == call_uuid)).scalar()
        if state is None:
            return False  # not one of ours (or an attempt re-queued under a new uuid)
        if name in ("CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA"):
            return state == "dialing"
        if name == "CHANNEL_ANSWER" or (name == "BACKGROUND_JOB" and body.lstrip().startswith("+OK")):
            return state in ("dialing", "ringing")
        if name == "BACKGROUND_JOB":
            return state in ("dialing", "ringing")
        # CHANNEL_HANGUP_COMPLETE: the launcher also merges a hangup into a CDR an -ERR job wrote first.
        return state not in _attempts.FINAL_STATES or call_uuid in self.d.launched

    def apply(self, name: str, call_uuid: str, headers: dict, body: str = "") -> None:
        """Apply one event (idempotent)."""
        if self._own(name, call_uuid) or self._needed(name, call_uuid, body, headers):
            self.apply_many([(name, call_uuid, headers, body)])

    def apply_many(self, items: list[tuple[str, str, dict, str]]) -> None:
        """Apply events ``(name, call_uuid, headers, body)`` in order in one transaction (all or none).

        Side effects outside the database (slots, live counters, learning, callback jobs) run after the
        commit, and only for the events whose transition changed a row.
        """
        deliveries: list[int] = []
        effects: list[tuple] = []
        items = coalesce(items)
        with db.session_scope(self.d.db_url, immediate=True) as s:
            for name, call_uuid, headers, body in items:
                self._apply_in(s, name, call_uuid, headers, body, deliveries, effects)
        self.d.enqueue_callbacks(deliveries)
        self._side_effects(effects)

    def _apply_in(self, s, name: str, call_uuid: str, headers: dict, body: str, deliveries: list[int],
                  effects: list[tuple]) -> None:
        # ``effects`` collects what to do outside the database once the transaction committed:
        # ("answered", attempt) or ("final", attempt, answered).
        if name in ("CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA"):
            _move(s, call_uuid, ("dialing",), "ringing")
        elif name == "CHANNEL_ANSWER":
            a = _move(s, call_uuid, ("dialing", "ringing"), "answered",
                      answered_at=_event_time(headers, "Caller-Channel-Answered-Time") or utcnow())
            if a is not None:
                effects.append(("answered", a))
        elif name == "CHANNEL_HANGUP_COMPLETE":
            changed = self._finish_in(s, call_uuid, headers, False, deliveries)
            if changed is not None:
                effects.append(("final", *changed))
        elif name == "BACKGROUND_JOB":
            text = body.strip()
            if text.startswith("-ERR"):
                cause = text[4:].strip().split()[0] if text[4:].strip() else "NORMAL_TEMPORARY_FAILURE"
                if cause in SWITCH_REFUSALS:
                    a = self._requeue_refused_in(s, call_uuid, cause)
                    if a is not None:
                        effects.append(("refused", a, cause))
                        return
                a = self._fail_in(s, call_uuid, cause, deliveries)
                if a is not None:
                    effects.append(("final", a, False))
            elif text.startswith("+OK"):
                a = _move(s, call_uuid, ("dialing", "ringing"), "answered", answered_at=utcnow())
                if a is not None:
                    effects.append(("answered", a))

    def finish(self, call_uuid: str, headers: dict, reconciled: bool = False) -> bool:
        """A call's channel is gone: final state, CDR, follow-up attempt. True when this call made the change.

        ``reconciled`` marks headers synthesised for a call that ended unseen.
        """
        deliveries: list[int] = []
        with db.session_scope(self.d.db_url, immediate=True) as s:
            changed = self._finish_in(s, call_uuid, headers, reconciled, deliveries)
        self.d.enqueue_callbacks(deliveries)
        if changed is None:
            return False
        self._side_effects([("final", *changed)])
        return True

    def fail_without_channel(self, call_uuid: str, cause: str) -> bool:
        """An originate that failed (``-ERR``) with no CHANNEL_HANGUP_COMPLETE before it."""
        deliveries: list[int] = []
        with db.session_scope(self.d.db_url, immediate=True) as s:
            a = self._fail_in(s, call_uuid, cause, deliveries)
        if a is None:
            return False
        self.d.enqueue_callbacks(deliveries)
        self._side_effects([("final", a, False)])
        return True

    def _requeue_refused_in(self, s, call_uuid: str, cause: str):
        """The switch refused the originate before making a channel: back to the queue, not a failed try.

        Reached only for an ``-ERR`` that no CHANNEL_HANGUP_COMPLETE settled first (it is applied after a head
        start for that event), i.e. a call that never had a channel. Bounded per attempt, so that a switch that
        refuses for another reason with the same cause ends the attempt instead of redialling it for ever.
        """
        a = _attempts.by_uuid(s, call_uuid)
        if a is None or a.state not in ("dialing", "ringing"):
            return None
        key = f"{self.d.key_prefix}:refused:{a.id}"
        try:
            refusals = self.d.redis.incr(key)
            self.d.redis.expire(key, 3600)
        except Exception:  # noqa: BLE001 - without Redis, count nothing: fail the try as before
            log.warning("cannot count switch refusals of attempt %s", a.id, exc_info=True)
            return None
        if refusals > MAX_REFUSALS:
            log.warning("attempt %s: the switch refused it %d times; failing it", a.id, refusals - 1)
            return None
        log.info("attempt %s: the switch could not place it (%s); dialled again shortly", a.id, cause)
        delay = min(10.0, REFUSAL_BACKOFF * refusals)
        return _attempts.requeue_refused(s, call_uuid, utcnow() + timedelta(seconds=delay))

    def _fail_in(self, s, call_uuid: str, cause: str, deliveries: list[int]):
        status = dial_status_for(cause, False)
        a = _move(s, call_uuid, ("dialing", "ringing"), "failed", dial_status=status, hangup_cause=cause,
                  ended_at=utcnow())
        if a is None:
            return None
        deliveries += self.d.record_failure(s, a, cause)
        self._follow_up(s, a, status)
        return a

    def _finish_in(self, s, call_uuid: str, headers: dict, reconciled: bool, deliveries: list[int]):
        cause = headers.get("Hangup-Cause") or headers.get("variable_hangup_cause") or "NORMAL_CLEARING"
        # One conditional UPDATE decides completed/failed from the row as it is (no read first).
        a = None
        if _known_state(s, call_uuid) in (None, *_attempts.LIVE_STATES):
            a = _attempts.finish_live(s, call_uuid, hangup_cause=cause,
                                      unanswered_status=dial_status_for(cause, False),
                                      answered_at=_event_time(headers, "Caller-Channel-Answered-Time"),
                                      ended_at=_event_time(headers, "Caller-Channel-Hangup-Time"))
        if a is None:
            # Not live: an inbound call (no attempt), or finished earlier by a -ERR job or a reconciliation.
            # The real hangup event then merges into the same CDR row (upsert by uuid) and its times win.
            if not reconciled and (is_inbound_call(headers) or _attempts.by_uuid(s, call_uuid) is not None):
                deliveries += self.d.record_hangup(s, headers)
            return None
        _known_states(s)[call_uuid] = a.state
        deliveries += self.d.record_hangup(s, headers, a)
        self._follow_up(s, a, a.dial_status)
        return (a, a.state == "completed")

    def _follow_up(self, s, a, status: str) -> None:
        """Create the next alternate number or retry for a failed attempt (inside the final transition's transaction)."""
        if status == "ANSWER":
            return
        if a.campaign_id:
            camp = self.d.campaign_row(s, a.campaign_id)
            if camp is None or camp.status in ("stopped", "completed"):
                return
            contact = s.get(Contact, a.contact_id) if a.contact_id is not None else None
            nums = _campaigns.alternates(contact, a.number)
            _attempts.next_attempt(s, a, status, nums, camp.max_retries or 0, camp.retry_time or 0,
                                   camp.retry_on_statuses or [])
        elif a.request_id:
            req = s.get(CallRequest, a.request_id)
            if req is None or req.status == "cancelled":
                return
            from dialer.submit import request_numbers

            groups = request_numbers(req)
            nums = next((g for g in groups if len(g) > a.number_index and g[a.number_index] == a.number), [a.number])
            p = req.parameters or {}
            _attempts.next_attempt(s, a, status, nums, int(p.get("max_retries") or 0),
                                   int(p.get("retry_time") or 0), p.get("retry_on_statuses") or [])

    def _side_effects(self, effects: list[tuple]) -> None:
        """After the commit: slots, live counters and learning of every changed attempt, in ONE Redis round trip.

        The commands run in the events' order (a call answered and ended in one batch is counted, then
        uncounted). Each is idempotent or applies to the one caller whose transition changed the row, so
        a failure here is logged and not retried by re-applying the events (their rows are already final).
        """
        if not effects:
            return
        pipe = self.d.redis.pipeline(transaction=False)
        for effect in effects:
            try:
                if effect[0] == "answered":
                    self.d.live_change(effect[1], +1, pipe)
                    self.d.agent_call_answered(effect[1], pipe)
                    _metrics.call_answered(effect[1])
                elif effect[0] == "refused":
                    self.d.release_call(effect[1], pipe)  # its slots; it was never live, nor counted
                    _metrics.refused(effect[1], effect[2])
                else:
                    self._queue_final(pipe, *effect[1:])
                    _metrics.call_ended(*effect[1:])
            except Exception:
                log.warning("side effects of attempt %s not queued", getattr(effect[1], "id", "?"), exc_info=True)
        try:
            _lua.execute(pipe)
        except Exception:
            log.warning("side effects of %d changed attempts failed", len(effects), exc_info=True)

    def _queue_final(self, pipe, a, answered: bool) -> None:
        """A call's end: free its slots, uncount it, and (campaign calls) learn its ring/talk times."""
        self.d.release_call(a, pipe)
        self.d.live_change(a, -1, pipe)  # harmless for a call never counted
        self.d.agent_call_ended(a, answered, pipe)
        if a.campaign_id:
            ring = talk = 0.0
            if a.claimed_at and a.ended_at:
                total = (a.ended_at - a.claimed_at).total_seconds()
                if a.answered_at:
                    ring = max(0.0, (a.answered_at - a.claimed_at).total_seconds())
                    talk = max(0.0, (a.ended_at - a.answered_at).total_seconds())
                else:
                    ring = max(0.0, total)
            _pacing.queue_learn(pipe, self.d.key_prefix, a.campaign_id, answered, ring, talk)

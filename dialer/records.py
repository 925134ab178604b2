"""Call detail records: written from FreeSWITCH's hangup event and the IVR runtime's call facts.

A call's record has two halves that arrive in either order, possibly twice:

* the **hangup half**, from the ESL listener's ``CHANNEL_HANGUP_COMPLETE``
  (:func:`record_channel_hangup`) or from an originate that failed
  (:func:`record_originate_failure`): times, billsec, hangup cause, dial status;
* the **IVR half**, from the runtime's RQ job :func:`ivr_call_finished`
  (contract 3 in docs/architecture.md): DTMF, recordings, media duration,
  dial results, app errors.

Every write is an upsert keyed by the channel UUID (``uniqueid``; the attempt
id or a ``record_key`` for records without a channel), so any order and any
duplicate give one row with the same content. The write that completes the
record (both halves in, or the hangup half of a call that never reached the
IVR) queues the status callback in the same transaction (an outbox row in
``callback_deliveries``); the RQ job is enqueued after the commit.

The mapping from FreeSWITCH causes to seed 002's dial statuses is
:data:`DIAL_STATUS_BY_CAUSE`, documented in docs/cdr.md.

Run the ``record_*`` functions inside ``db.session_scope(url, immediate=True)``
(or use the ``handle_*`` wrappers that do): on SQLite that serialises the
read-merge-write; on PostgreSQL the row is locked ``FOR UPDATE``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from dialer import callbacks
from dialer.store import db
from dialer.store.models import AgentEvent, Attempt, Campaign, Cdr, InboundNumber, utcnow
from ivr.call_spec import CallFacts, CallSpec, CallSpecError
from dialer.dial_status import (CALL_STATUS_BY_DIAL_STATUS, CONTEXT_BY_CALL_TYPE,  # noqa: F401 (re-read by callers)
                                 DEFAULT_UNANSWERED_STATUS, DIAL_STATUS_BY_CAUSE, DIAL_STATUSES, dial_status_for)

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- results


@dataclass
class Recorded:
    """What a ``record_*`` call did: the row, whether this write completed it, callbacks to enqueue."""

    cdr_id: int
    uniqueid: str | None
    completed: bool = False
    deliveries: list[int] = field(default_factory=list)
    #: IVR facts only: these were the first facts of their call (a duplicate job must not be learned twice).
    first_facts: bool = False
    #: IVR facts only: a recording of the call asks for a transcript, newly pending (dialer/transcripts.py).
    transcribe: bool = False


# ---------------------------------------------------------------- the upsert


def _dialect_insert(session: Session):
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"unsupported database {name}")
    return dialect_insert


def locked_row(
    session: Session, *, uniqueid: str | None, attempt_id: str | None, record_key: str | None, account_id: str
) -> Cdr:
    """The CDR for these keys, created empty if absent, locked for this transaction."""
    keys = {k: v for k, v in (("uniqueid", uniqueid), ("attempt_id", attempt_id), ("record_key", record_key)) if v}
    if not keys:
        raise ValueError("a CDR needs a channel uuid, an attempt id or a record key")
    insert, lock = _locking_stmts(session, tuple(keys))
    params = {f"_k_{k}": v for k, v in keys.items()}
    # Insert-if-absent first: the insert takes SQLite's write lock, and on PostgreSQL
    # a concurrent twin waits on the unique index instead of creating a second row.
    session.execute(insert, {**params, "_k_account_id": account_id or "", "_k_call_date": utcnow()})
    row = session.scalars(lock, params).first()
    for k, v in keys.items():
        if getattr(row, k) is None:
            setattr(row, k, v)
    return row


# Every hangup runs these two statements: built once per dialect and key set (bound parameters), they
# are compiled once by SQLAlchemy instead of being rebuilt and cache-keyed on every call. The insert is a
# Core statement on the table (column defaults apply as with the ORM; no ORM bulk-insert machinery).
_LOCKING_STMTS: dict[tuple, tuple] = {}


def _locking_stmts(session: Session, keys: tuple[str, ...]) -> tuple:
    cache_key = (session.get_bind().dialect.name, keys)
    stmts = _LOCKING_STMTS.get(cache_key)
    if stmts is None:
        t = Cdr.__table__
        insert = _dialect_insert(session)(t).values(
            {c: bindparam(f"_k_{c}", type_=t.c[c].type) for c in ("account_id", "call_date", *keys)}
        ).on_conflict_do_nothing()
        conds = [getattr(Cdr, k) == bindparam(f"_k_{k}", type_=t.c[k].type) for k in keys]
        lock = (select(Cdr).where(or_(*conds)).order_by(Cdr.id).with_for_update()
                .execution_options(populate_existing=True))
        stmts = _LOCKING_STMTS[cache_key] = (insert, lock)
    return stmts


def _fill(row: Cdr, **values: Any) -> None:
    """Set fields that are still empty; never overwrite what the other half already knows."""
    for key, value in values.items():
        if value in (None, ""):
            continue
        if getattr(row, key) in (None, "", 0):
            setattr(row, key, value)


def _epoch(value: Any, scale: float = 1.0) -> datetime | None:
    try:
        number = float(value) / scale
    except (TypeError, ValueError):
        return None
    if number <= 0:
        return None
    return datetime.fromtimestamp(number, timezone.utc).replace(tzinfo=None)


def _time(headers: Mapping[str, str], name: str) -> datetime | None:
    """``variable_<name>_uepoch`` (µs) or ``variable_<name>_epoch`` (s) as naive UTC."""
    return _epoch(headers.get(f"variable_{name}_uepoch"), 1e6) or _epoch(headers.get(f"variable_{name}_epoch"))


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _context_for(call_type: str, campaign: Campaign | None) -> tuple[str, str]:
    if call_type == "campaign":
        kind = campaign.campaign_type if campaign is not None else 0
        return "outbound-campaign", f"local_call_campaign_type_{kind}"
    return CONTEXT_BY_CALL_TYPE.get(call_type, ("outbound-api", "local_call"))


def _identity(session: Session, row: Cdr, spec: CallSpec | None, attempt: Attempt | None) -> None:
    """Fill who/what the call was from the call spec, the attempt row and the campaign."""
    call_type = (spec and spec.call_type) or (attempt and attempt.call_type) or row.call_type or ""
    _fill(
        row,
        call_type=call_type,
        account_id=(spec and spec.account_id) or (attempt and attempt.account_id),
        request_id=(spec and spec.request_id) or (attempt and attempt.request_id),
        attempt_id=(spec and spec.attempt_id) or (attempt and attempt.id),
        campaign_id=(spec and spec.campaign_id) or (attempt and attempt.campaign_id),
        contact_id=(spec and _int(spec.contact_id)) or (attempt and attempt.contact_id),
        caller_id=spec and spec.caller_id,
        dialed_number=(spec and spec.called_number) or (attempt and attempt.number),
    )
    # No autoflush for this read: the row's pending changes are written once, with the rest, later.
    with session.no_autoflush:
        campaign = session.get(Campaign, row.campaign_id) if row.campaign_id else None
    if campaign is not None:
        _fill(row, list_id=campaign.list_id, caller_id=campaign.caller_id)
    direction, context = _context_for(row.call_type, campaign)
    _fill(row, call_direction=direction, destination_context=context)
    if row.call_type in ("click2call", "callback"):
        _fill(row, agent_number=row.dialed_number)
        if spec is not None and spec.click2call is not None:
            _fill(row, customer_number=spec.click2call.destination)
    elif row.call_type == "inbound":
        _fill(row, customer_number=row.caller_id)  # the caller; dialed_number is our inbound number
    elif row.call_type in ("otp", "konnect", "kairos"):
        _fill(row, customer_number=row.dialed_number)
    elif row.call_type == "campaign":
        # The customer is the contact called; the request behind the call is the campaign (docs/cdr.md).
        _fill(row, customer_number=row.dialed_number, request_id=row.campaign_id)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _complete_if_ready(session: Session, row: Cdr, result: Recorded) -> None:
    answered = row.answer is not None or row.dial_status == "ANSWER"
    ready = row.hangup_recorded and (row.ivr_recorded or not answered or row.is_dnd)
    if not ready or row.callback_queued:
        return
    row.callback_queued = True
    result.completed = True
    session.flush()
    from billing.records import settle_cdr
    from dialer import snapcall

    # The call's price is settled with the record it is billed from (docs/billing.md).
    delivery = callbacks.queue_status_callback(session, row, billing=settle_cdr(session, row))
    if delivery is not None:
        result.deliveries.append(delivery)
    result.deliveries += snapcall.on_record(session, row)


# ---------------------------------------------------------------- the hangup half


def record_channel_hangup(session: Session, headers: Mapping[str, str], *, node: str | None = None,
                          attempt: Attempt | None = None) -> Recorded:
    """Upsert the CDR of a channel from its ``CHANNEL_HANGUP_COMPLETE`` event headers (URL-decoded).

    Uses ``Unique-ID``, ``Hangup-Cause``, ``variable_{start,answer,end}_uepoch``,
    ``variable_billmsec``/``billsec``, ``variable_mduration``/``duration`` and our
    ``variable_vaani_call``/``vaani_request_id``/``vaani_attempt_id``.
    Inbound calls (no call spec) are matched to their account by the called number.
    ``attempt``: the call's attempt row when the caller holds it already (used if its id matches).
    """
    uniqueid = headers.get("Unique-ID") or headers.get("variable_uuid")
    if not uniqueid:
        raise ValueError("CHANNEL_HANGUP_COMPLETE without Unique-ID")
    spec = None
    if headers.get("variable_vaani_call"):
        try:
            spec = CallSpec.decode(headers["variable_vaani_call"])
        except CallSpecError as exc:
            log.warning("channel %s: %s", uniqueid, exc)
    attempt_id = headers.get("variable_vaani_attempt_id") or (spec and spec.attempt_id) or None
    if attempt is None or attempt.id != attempt_id:
        attempt = session.get(Attempt, attempt_id) if attempt_id else None
    inbound = None
    if spec is None and attempt is None and (headers.get("Call-Direction") or "").lower() == "inbound":
        inbound = session.get(InboundNumber, _plus(headers.get("Caller-Destination-Number")))
    account_id = (spec and spec.account_id) or (attempt and attempt.account_id) or (inbound and inbound.account_id)
    row = locked_row(session, uniqueid=uniqueid, attempt_id=attempt_id, record_key=None, account_id=account_id or "")
    if inbound is not None:
        _fill(
            row,
            call_type="inbound",
            dialed_number=inbound.number,
            customer_number=_plus(headers.get("Caller-Caller-ID-Number")),
            caller_id=_plus(headers.get("Caller-Caller-ID-Number")),
        )
    _identity(session, row, spec, attempt)
    _fill(
        row,
        request_id=headers.get("variable_vaani_request_id"),
        dialed_number=_plus(headers.get("Caller-Destination-Number")),
        caller_id=_plus(headers.get("variable_origination_caller_id_number") or headers.get("Caller-Caller-ID-Number")),
    )
    start = _time(headers, "start") or _epoch(headers.get("Caller-Channel-Created-Time"), 1e6)
    answer = _time(headers, "answer")
    end = _time(headers, "end") or _epoch(headers.get("Event-Date-Timestamp"), 1e6)
    billmsec = _float(headers.get("variable_billmsec"))
    billsec = billmsec / 1000 if billmsec is not None else _float(headers.get("variable_billsec"))
    mduration = _float(headers.get("variable_mduration"))
    duration = mduration / 1000 if mduration is not None else _float(headers.get("variable_duration"))
    cause = headers.get("Hangup-Cause") or headers.get("variable_hangup_cause")
    dial_status = dial_status_for(cause, answer is not None)
    # The hangup event is the authority on times and outcome: it overwrites an earlier failure guess.
    # seed 002's call_date is the moment the call ended (its samples show call_date == end).
    row.started_at = start
    row.call_date = end or start or row.call_date
    row.answer, row.end = answer, end
    row.billsec = billsec if answer is not None else 0.0
    row.call_duration = duration
    row.hangup_cause = cause
    row.dial_status = dial_status
    row.call_status = CALL_STATUS_BY_DIAL_STATUS[dial_status]
    row.fs_node = node or headers.get("FreeSWITCH-Switchname") or row.fs_node
    row.hangup_recorded = True
    result = Recorded(cdr_id=row.id, uniqueid=row.uniqueid)
    _complete_if_ready(session, row, result)
    return result


def _plus(number: str | None) -> str | None:
    """Numbers from FreeSWITCH headers as E.164 when they look international (digits, 8+ long)."""
    if not number:
        return None
    number = number.strip()
    if number.startswith("+"):
        return number
    return "+" + number if number.isdigit() and len(number) >= 8 else number


def record_originate_failure(
    session: Session,
    attempt_id: str,
    cause: str,
    *,
    origination_uuid: str | None = None,
    node: str | None = None,
    at: datetime | None = None,
    attempt: Attempt | None = None,
) -> Recorded:
    """Record an originate that failed (``-ERR <CAUSE>`` in BACKGROUND_JOB, or refused before sending).

    When FreeSWITCH created a channel before failing, its hangup event merges
    into the same row (same origination uuid / attempt id) and wins.
    ``attempt``: the attempt row when the caller holds it already (used if its id matches).
    """
    if attempt is None or attempt.id != attempt_id:
        attempt = session.get(Attempt, attempt_id)
    if attempt is None:
        raise ValueError(f"unknown attempt {attempt_id!r}")
    uniqueid = origination_uuid or attempt.origination_uuid
    row = locked_row(session, uniqueid=uniqueid, attempt_id=attempt_id, record_key=None, account_id=attempt.account_id)
    _identity(session, row, None, attempt)
    cause = (cause or "").strip()
    if cause.upper().startswith("-ERR"):
        cause = cause[4:].strip()
    if not row.hangup_recorded:
        status = dial_status_for(cause, False)
        row.hangup_cause = cause.upper() or None
        row.dial_status = status
        row.call_status = CALL_STATUS_BY_DIAL_STATUS[status]
        row.started_at = attempt.claimed_at
        row.end = at or utcnow()
        row.call_date = row.end
        row.billsec, row.call_duration = 0.0, 0.0
        row.fs_node = node or attempt.fs_node
        row.hangup_recorded = True
    result = Recorded(cdr_id=row.id, uniqueid=row.uniqueid)
    _complete_if_ready(session, row, result)
    return result


def record_dnd(
    session: Session,
    *,
    account_id: str,
    number: str,
    campaign_id: str | None = None,
    list_id: str | None = None,
    contact_id: int | None = None,
    caller_id: str | None = None,
    request_id: str | None = None,
) -> Recorded:
    """Record a contact that was not dialed because it is on a DND list (seed 002: ``dial_status`` DND).

    Idempotent per campaign (or request) and number: loading a campaign twice records it once.
    """
    scope = campaign_id or request_id or "account"
    row = locked_row(
        session, uniqueid=None, attempt_id=None, record_key=f"dnd:{scope}:{number}", account_id=account_id
    )
    campaign = session.get(Campaign, campaign_id) if campaign_id else None
    call_type = "campaign" if campaign_id else "otp"
    direction, context = _context_for(call_type, campaign)
    _fill(
        row,
        call_type=call_type,
        campaign_id=campaign_id,
        request_id=request_id or campaign_id,
        list_id=list_id or (campaign and campaign.list_id),
        contact_id=contact_id,
        dialed_number=number,
        customer_number=number,
        caller_id=caller_id or (campaign and campaign.caller_id),
        call_direction=direction,
        destination_context=context,
    )
    row.dial_status = "DND"
    row.call_status = None
    row.is_dnd = True
    row.hangup_recorded = True
    result = Recorded(cdr_id=row.id, uniqueid=None)
    _complete_if_ready(session, row, result)
    return result


# ---------------------------------------------------------------- the IVR half


def record_ivr_facts(session: Session, facts: CallFacts) -> Recorded:
    """Merge the runtime's :class:`CallFacts` into the call's CDR (upsert by channel uuid)."""
    if not facts.uuid:
        raise ValueError("call facts without a channel uuid")
    attempt = session.get(Attempt, facts.attempt_id) if facts.attempt_id else None
    row = locked_row(
        session,
        uniqueid=facts.uuid,
        attempt_id=facts.attempt_id or None,
        record_key=None,
        account_id=facts.account_id or (attempt and attempt.account_id) or "",
    )
    inbound = facts.call_type == "inbound" or facts.direction == "inbound"
    # An inbound call's numbers come from FreeSWITCH as the carrier wrote them: stored as the hangup half
    # stores them (E.164), so that the row still finds its inbound number (and that number's callback URL).
    spec = CallSpec(
        call_type=facts.call_type,
        request_id=facts.request_id,
        attempt_id=facts.attempt_id,
        account_id=facts.account_id,
        campaign_id=facts.campaign_id,
        caller_id=_plus(facts.caller_id) if inbound else facts.caller_id,
        called_number=_plus(facts.called_number) if inbound else facts.called_number,
    )
    _identity(session, row, spec, attempt)
    if inbound:
        _fill(row, call_direction="inbound", destination_context="inbound_ivr", customer_number=spec.caller_id)
    row.dtmf_inputs = ",".join(str(d) for d in facts.dtmf_inputs)
    row.recordings = list(facts.recordings)
    row.recording_name = ",".join(str(r.get("name") or r.get("url") or "") for r in facts.recordings)
    row.media_duration = float(facts.media_duration or 0.0)
    row.dial_results = list(facts.dial_results)
    row.app_errors = list(facts.app_errors)
    row.final_status = facts.final_status
    first = not row.ivr_recorded
    _agent_fields(session, row, facts, first)
    if not row.hangup_recorded:
        # Provisional until the hangup event (the authority on times) arrives.
        _fill(row, answer=_epoch(facts.answered_at), end=_epoch(facts.ended_at), hangup_cause=facts.hangup_cause)
        if facts.ended_at:
            row.call_date = _epoch(facts.ended_at) or row.call_date
    row.ivr_recorded = True
    result = Recorded(cdr_id=row.id, uniqueid=row.uniqueid, first_facts=first)
    if not row.transcript_status and any(isinstance(r, dict) and r.get("transcribe") for r in facts.recordings):
        row.transcript_status = "pending"
        result.transcribe = True
    _complete_if_ready(session, row, result)
    return result


def _agent_fields(session: Session, row: Cdr, facts: CallFacts, first: bool) -> None:
    """An agent campaign's call: who took it, how long it waited and talked, abandoned, the AMD verdict.

    The agent's on-call and wrap-up spells are also written to ``agent_events`` (at the times the runtime
    saw), once per call: the facts may come twice, the CDR row says whether they were already merged.
    """
    if not (facts.agent_id or facts.abandoned or facts.amd_result):
        return
    row.amd_result = facts.amd_result or row.amd_result or ""
    row.abandoned = bool(facts.abandoned)
    if facts.queue_wait_ms is not None:
        row.queue_wait_ms = int(facts.queue_wait_ms)
    if not facts.agent_id:
        return
    row.agent_id = facts.agent_id
    connected, ended = facts.agent_connected_at, facts.agent_ended_at or facts.ended_at
    if connected and ended:
        row.talk_seconds = round(max(0.0, ended - connected), 3)
    row.wrap_up_seconds = float(facts.wrap_up_seconds or 0)
    if first and connected:
        account = row.account_id
        campaigns = [facts.campaign_id] if facts.campaign_id else []
        session.add(AgentEvent(agent_id=facts.agent_id, account_id=account, at=_epoch(connected), state="on_call",
                               campaign_ids=campaigns, call_uuid=facts.uuid))
        if ended:
            session.add(AgentEvent(agent_id=facts.agent_id, account_id=account, at=_epoch(ended), state="wrap_up",
                                   reason=f"{row.wrap_up_seconds:g} s", campaign_ids=campaigns, call_uuid=facts.uuid))


def _launch_time(session: Session, facts: CallFacts) -> float | None:
    """When an agent campaign's answered call was launched (its attempt's claim), for learning; None otherwise.

    Read in the facts' own transaction (the attempt is already loaded there), so learning needs no second one.
    """
    if not facts.campaign_id or facts.direction == "inbound":
        return None
    camp = session.get(Campaign, facts.campaign_id)
    if camp is None or not camp.dial_mode:
        return None
    attempt = session.get(Attempt, facts.attempt_id) if facts.attempt_id else None
    if attempt is None or not attempt.claimed_at:
        return 0.0
    return attempt.claimed_at.replace(tzinfo=timezone.utc).timestamp()


def _learn(facts: CallFacts, launched: float, cfg) -> None:
    """An answered call of an agent campaign teaches its controller (live or machine, talk and wrap-up times)."""
    try:
        from dialer.agent_dialing import AgentDialing

        learner = AgentDialing(callbacks.shared_redis(cfg.redis_url), cfg.key_prefix, cfg.sqlalchemy_url, "records")
        ring = max(0.0, facts.answered_at - launched) if facts.answered_at and launched else 0.0
        learner.observe_attempt(facts.campaign_id, facts.amd_result != "machine", ring)
        if facts.agent_id and facts.agent_connected_at:
            ended = facts.agent_ended_at or facts.ended_at or facts.agent_connected_at
            learner.observe_handle(facts.campaign_id, ended - facts.agent_connected_at,
                                   float(facts.wrap_up_seconds or 0))
    except Exception:  # noqa: BLE001 - learning is best effort; the CDR is written
        log.warning("could not learn from call %s", facts.uuid, exc_info=True)


def _enqueue(result: Recorded, cfg) -> Recorded:
    if result.deliveries:
        callbacks.enqueue(result.deliveries, cfg=cfg)
    return result


def ivr_call_finished(facts: dict, cfg=None) -> dict:
    """RQ job (contract 3): the IVR runtime reports an answered call's facts when it ends.

    Returns a small summary (kept by RQ as the job result).
    """
    cfg = cfg or _settings()
    parsed = CallFacts.from_dict(facts or {})
    with db.session_scope(cfg.sqlalchemy_url, immediate=True) as session:
        result = record_ivr_facts(session, parsed)
        launched = _launch_time(session, parsed) if result.first_facts else None
    _enqueue(result, cfg)
    if result.transcribe:
        from dialer import transcripts

        transcripts.enqueue(result.uniqueid, cfg=cfg)
    if launched is not None:
        _learn(parsed, launched, cfg)
    return {"cdr_id": result.cdr_id, "completed": result.completed}


def handle_channel_hangup(headers: Mapping[str, str], *, cfg=None, node: str | None = None) -> Recorded:
    """:func:`record_channel_hangup` in its own transaction, then enqueue any status callback."""
    cfg = cfg or _settings()
    with db.session_scope(cfg.sqlalchemy_url, immediate=True) as session:
        result = record_channel_hangup(session, headers, node=node)
    return _enqueue(result, cfg)


def handle_originate_failure(attempt_id: str, cause: str, *, cfg=None, **kwargs) -> Recorded:
    """:func:`record_originate_failure` in its own transaction, then enqueue any status callback."""
    cfg = cfg or _settings()
    with db.session_scope(cfg.sqlalchemy_url, immediate=True) as session:
        result = record_originate_failure(session, attempt_id, cause, **kwargs)
    return _enqueue(result, cfg)


def complete_stale(cfg=None, *, older_than: float = 120.0) -> int:
    """Complete records whose other half never came (a lost event, a runtime that died).

    An answered call's hangup half without IVR facts after ``older_than``
    seconds, or IVR facts without a hangup half, is completed as it is and its
    callback queued. Returns how many were completed. The dialer runs this
    periodically.
    """
    cfg = cfg or _settings()
    cutoff = utcnow() - timedelta(seconds=older_than)
    done: list[Recorded] = []
    with db.session_scope(cfg.sqlalchemy_url, immediate=True) as session:
        rows = session.scalars(
            select(Cdr)
            .where(Cdr.callback_queued.is_(False), Cdr.updated_at < cutoff)
            .where(or_(Cdr.hangup_recorded.is_(True), Cdr.ivr_recorded.is_(True)))
            .with_for_update(skip_locked=True)
            .limit(500)
        ).all()
        for row in rows:
            if not row.hangup_recorded:
                row.hangup_recorded = True
                answered = row.answer is not None
                row.dial_status = row.dial_status or dial_status_for(row.hangup_cause, answered)
                row.call_status = row.call_status or CALL_STATUS_BY_DIAL_STATUS[row.dial_status]
                if row.answer and row.end:
                    row.billsec = (row.end - row.answer).total_seconds()
            else:
                row.ivr_recorded = True
            result = Recorded(cdr_id=row.id, uniqueid=row.uniqueid)
            _complete_if_ready(session, row, result)
            done.append(result)
    for result in done:
        _enqueue(result, cfg)
    return len(done)


def _settings():
    from config import settings

    return settings()

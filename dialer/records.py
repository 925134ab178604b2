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

The parts: :mod:`dialer.cdr_upsert` (the locked upsert and merge both halves use, completion and
the callback outbox), :mod:`dialer.ivr_facts` (the IVR half and its RQ job); this module holds the
hangup half, DND records, the ``handle_*`` wrappers and :func:`complete_stale`, and re-exports the
others' public names (``dialer.records.ivr_call_finished`` stays the job's name).

Run the ``record_*`` functions inside ``db.session_scope(url, immediate=True)``
(or use the ``handle_*`` wrappers that do): on SQLite that serialises the
read-merge-write; on PostgreSQL the row is locked ``FOR UPDATE``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Mapping

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dialer.cdr_upsert import (Recorded, _complete_if_ready, _context_for, _enqueue, _epoch, _fill, _float,
                               _identity, _plus, _settings, _time, locked_row)
from dialer.ivr_facts import ivr_call_finished, record_ivr_facts
from dialer.store import db
from dialer.store.models import Attempt, Campaign, Cdr, InboundNumber, utcnow
from ivr.call_spec import CallSpec, CallSpecError
from dialer.dial_status import (CALL_STATUS_BY_DIAL_STATUS, CONTEXT_BY_CALL_TYPE,  # noqa: F401 (re-read by callers)
                                 DEFAULT_UNANSWERED_STATUS, DIAL_STATUS_BY_CAUSE, DIAL_STATUSES, dial_status_for)

__all__ = ["Recorded", "complete_stale", "handle_channel_hangup", "handle_originate_failure",
           "ivr_call_finished", "locked_row", "record_channel_hangup", "record_dnd", "record_ivr_facts",
           "record_originate_failure"]

log = logging.getLogger(__name__)

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

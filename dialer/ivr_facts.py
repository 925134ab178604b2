"""The IVR half of a call's record: the runtime's call facts merged into its CDR (contract 3).

:func:`ivr_call_finished` is the RQ job the IVR runtime enqueues when an answered call ends (named
``dialer.records.ivr_call_finished``, re-exported there); :func:`record_ivr_facts` merges the facts
(DTMF, recordings, media duration, dial results, app errors, an agent campaign's agent, waits and AMD
verdict) through :mod:`dialer.cdr_upsert`, and an agent campaign's answered call teaches its
controller.
"""

from __future__ import annotations

import logging
from datetime import timezone

from sqlalchemy.orm import Session

from dialer import callbacks
from dialer.cdr_upsert import Recorded, _complete_if_ready, _enqueue, _epoch, _fill, _identity, _plus, _settings, locked_row
from dialer.store import db
from dialer.store.models import AgentEvent, Attempt, Campaign, Cdr
from ivr.call_spec import CallFacts, CallSpec

log = logging.getLogger("dialer.records")  # the records' logger: its lines keep their name

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

"""CDRs read back: seed 002's CDR JSON shape and its queries (by date, request, campaign; statistics).

The writes are :mod:`dialer.records`; this module only reads.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dialer.numbers import seed_style
from dialer.store.models import Cdr

_EPOCH0 = "Thu, 01 Jan 1970 00:00:00 GMT"


def http_date(value: datetime | None) -> str:
    """A time as seed 002 shows it: ``"Fri, 07 Jul 2023 06:08:16 GMT"``; no time → the Unix epoch, as the seed does."""
    if value is None:
        return _EPOCH0
    return value.strftime("%a, %d %b %Y %H:%M:%S GMT")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 5)


def to_seed(row: Cdr) -> dict[str, Any]:
    """A CDR in seed 002's JSON shape (campaign CDRs also carry ``is_dnd`` and ``list_id``)."""
    out: dict[str, Any] = {
        "account_id": row.account_id,
        "agent_number": seed_style(row.agent_number or ""),
        "answer": http_date(row.answer),
        "billsec": None if row.is_dnd else _round(row.billsec),
        "call_date": http_date(row.call_date),
        "call_direction": row.call_direction,
        "call_duration": None if row.is_dnd else _round(row.call_duration),
        "call_status": row.call_status,
        "caller_id": seed_style(row.caller_id or ""),
        "customer_number": seed_style(row.customer_number or ""),
        "destination_context": row.destination_context,
        "dial_status": row.dial_status,
        "dialed_number": seed_style(row.dialed_number or ""),
        "dtmf_inputs": row.dtmf_inputs or "",
        "end": http_date(row.end),
        "id": row.id,
        "recording_name": row.recording_name or "",
        "request_id": row.request_id or "",
        "uniqueid": row.uniqueid or "",
    }
    if row.transcript_status:
        # Asked for (seed 002 click2call transcript=on, TwiML transcribe): ours, beside recording_name.
        out["transcript"] = row.transcript or ""
        out["transcript_status"] = row.transcript_status
    if row.campaign_id:
        out["is_dnd"] = "1" if row.is_dnd else "0"
        out["list_id"] = row.list_id or ""
    if row.agent_id or row.abandoned or row.amd_result or row.disposition:
        # An agent campaign's call (ours, docs/agents.md): who took it, how long, abandoned, the AMD verdict.
        out.update({
            "agent_id": row.agent_id or "", "queue_wait_ms": row.queue_wait_ms,
            "talk_seconds": _round(row.talk_seconds), "wrap_up_seconds": _round(row.wrap_up_seconds),
            "abandoned": "1" if row.abandoned else "0", "amd_result": row.amd_result or "",
            "disposition": row.disposition or ""})
    return out


def _as_date(value: date | str, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.strptime(str(value).strip(), "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"{name} must be a date as YYYY-MM-DD, got {value!r}") from None


def _count(value: Any, name: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if number < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return number


def get_cdr_by_date(
    session: Session,
    account_id: str,
    start_call_date: date | str,
    end_call_date: date | str,
    record_count: int = 1000,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Seed 002 ``get_cdr_by_date``: the account's CDRs with ``call_date`` on or between the two dates (UTC)."""
    start = _as_date(start_call_date, "start_call_date")
    end = _as_date(end_call_date, "end_call_date")
    if end < start:
        raise ValueError("end_call_date is before start_call_date")
    record_count, offset = _count(record_count, "record_count"), _count(offset, "offset")
    lo = datetime.combine(start, datetime.min.time())
    hi = datetime.combine(end + timedelta(days=1), datetime.min.time())
    rows = session.scalars(
        select(Cdr)
        .where(Cdr.account_id == account_id, Cdr.call_date >= lo, Cdr.call_date < hi)
        .order_by(Cdr.id)
        .offset(offset)
        .limit(record_count)
    )
    return [to_seed(r) for r in rows]


def get_cdr_by_request_id(session: Session, account_id: str, request_id: str) -> list[dict[str, Any]]:
    """Seed 002 ``get_cdr_by_request_id``: the CDRs of one request of this account."""
    rows = session.scalars(
        select(Cdr).where(Cdr.account_id == account_id, Cdr.request_id == request_id).order_by(Cdr.id)
    )
    return [to_seed(r) for r in rows]


def get_cdr_by_campaign_id(
    session: Session, account_id: str, campaign_id: str, record_count: int | None = None, offset: int = 0
) -> list[dict[str, Any]]:
    """Seed 002 ``get_cdr_by_campaign_id``: the CDRs of one campaign of this account."""
    query = (
        select(Cdr)
        .where(Cdr.account_id == account_id, Cdr.campaign_id == campaign_id)
        .order_by(Cdr.id)
        .offset(_count(offset, "offset"))
    )
    if record_count is not None:
        query = query.limit(_count(record_count, "record_count"))
    return [to_seed(r) for r in session.scalars(query)]


_STAT_KEYS = (
    ("ANSWER", "answer_calls"),
    ("BUSY", "busy_calls"),
    ("CANCEL", "cancel_calls"),
    ("CHANUNAVAIL", "chanunavail_calls"),
    ("CONGESTION", "congestion_calls"),
)


def _statistics(session: Session, *conditions, dnd: bool) -> dict[str, list[int]]:
    counts = dict(session.execute(select(Cdr.dial_status, func.count()).where(*conditions).group_by(Cdr.dial_status)).all())
    out = {key: [int(counts.get(status, 0))] for status, key in _STAT_KEYS}
    if dnd:
        out["dnd_calls"] = [int(counts.get("DND", 0))]
    out["noanswer_calls"] = [int(counts.get("NOANSWER", 0))]
    out["total_calls"] = [int(sum(counts.values()))]
    return out


def get_cdr_statistics(session: Session, account_id: str) -> dict[str, list[int]]:
    """Seed 002 ``get_cdr_statistics``: counts per dial status of the account's CDRs, each in a one-item list."""
    return _statistics(session, Cdr.account_id == account_id, dnd=False)


def get_campaign_cdr_statistics(session: Session, account_id: str, campaign_id: str) -> dict[str, list[int]]:
    """Seed 002 ``get_campaign_cdr_statistics``: as :func:`get_cdr_statistics` for one campaign, with ``dnd_calls``."""
    return _statistics(session, Cdr.account_id == account_id, Cdr.campaign_id == campaign_id, dnd=True)


def cdrs_for_uuids(session: Session, uuids: Iterable[str]) -> dict[str, Cdr]:
    """The CDRs of these channel uuids (for reconciliation after an ESL reconnect)."""
    uuids = list(uuids)
    if not uuids:
        return {}
    return {r.uniqueid: r for r in session.scalars(select(Cdr).where(Cdr.uniqueid.in_(uuids)))}


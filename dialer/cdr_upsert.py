"""The CDR upsert both halves of a call's record go through (see :mod:`dialer.records`).

:func:`locked_row` finds or creates the row for a channel uuid, attempt id or record key and locks it
for the transaction; :func:`_fill` merges a half's fields without overwriting the other's;
:func:`_identity` fills who and what the call was; :func:`_complete_if_ready` queues the status
callback (and settles the call's price) in the write that completes the record. Also the small
header parsers the halves share and :class:`Recorded`, what a ``record_*`` call did.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from dialer import callbacks
from dialer.store.models import Attempt, Campaign, Cdr, utcnow
from ivr.call_spec import CallSpec
from dialer.dial_status import CONTEXT_BY_CALL_TYPE

log = logging.getLogger("dialer.records")  # the records' logger: its lines keep their name

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

def _plus(number: str | None) -> str | None:
    """Numbers from FreeSWITCH headers as E.164 when they look international (digits, 8+ long)."""
    if not number:
        return None
    number = number.strip()
    if number.startswith("+"):
        return number
    return "+" + number if number.isdigit() and len(number) >= 8 else number


def _enqueue(result: Recorded, cfg) -> Recorded:
    if result.deliveries:
        callbacks.enqueue(result.deliveries, cfg=cfg)
    return result


def _settings():
    from config import settings

    return settings()

"""Attempt state in SQL: atomic claims, conditional transitions, retries and the recovery of dead workers' claims.

An attempt is one dial of one number. Its states (``dialer.store.models.ATTEMPT_STATES``)::

    queued ──claim──► dialing ──progress──► ringing ──answer──► answered ──hangup──► completed
       ▲                 │  └──────────────────────────────────hangup / -ERR──────► failed
       └──release────────┘ (claimed but not launched: pause, calling hours, full, dead worker;
                            refused by the switch before it made a channel: over sps or max-sessions)
    queued ──stop / cancel──► cancelled

Every change is one conditional ``UPDATE ... WHERE state IN (...)``: two
workers (or one event delivered twice) cannot both move the same attempt,
and the side effects of a transition (a retry row, live counters, slot
release) happen only for the caller whose update changed the row.

The claim picks the next due attempt and makes it ``dialing`` in one
statement. On PostgreSQL the candidate row is chosen with
``FOR UPDATE SKIP LOCKED``, so concurrent workers take different rows
without waiting; on SQLite the statement runs under the database's single
write lock, and the ``state = 'queued'`` guard on the outer UPDATE makes a
lost race claim nothing. The claim also reserves the channel uuid
(``origination_uuid``) and records the node, so the attempt is findable on
FreeSWITCH before the originate is even sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dialer.store.models import Attempt, Campaign, utcnow

FINAL_STATES = ("completed", "failed", "cancelled")
LIVE_STATES = ("dialing", "ringing", "answered")


def _attempt_columns():
    return [c for c in Attempt.__table__.columns]


def _row_to_attempt(row) -> Attempt:
    data = dict(row._mapping)
    a = Attempt()
    for k, v in data.items():
        setattr(a, k, v)
    return a


def claim_next(session: Session, worker_id: str, call_uuid: str, node: str | None, *,
               campaign_id: str | None = None, requests: bool = False,
               now: datetime | None = None) -> Attempt | None:
    """Claim the next due queued attempt of a campaign (or of single call requests) for ``worker_id``.

    Returns the claimed attempt (state ``dialing``, ``origination_uuid`` =
    ``call_uuid``, ``fs_node`` = ``node``) or None when nothing is due.
    Commit the session to make the claim durable.
    """
    now = now or utcnow()
    t = Attempt.__table__
    cond = [t.c.state == "queued", sa.or_(t.c.next_try_at.is_(None), t.c.next_try_at <= now)]
    if campaign_id is not None:
        cond.append(t.c.campaign_id == campaign_id)
    elif requests:
        cond.append(t.c.campaign_id.is_(None))
    pick = (sa.select(t.c.id).where(*cond).order_by(t.c.next_try_at, t.c.created_at).limit(1)
            .with_for_update(skip_locked=True).scalar_subquery())
    stmt = (sa.update(t).where(t.c.id == pick, t.c.state == "queued")
            .values(state="dialing", claimed_by=worker_id, claimed_at=now, origination_uuid=call_uuid,
                    fs_node=node, job_uuid=call_uuid, updated_at=now)
            .returning(*_attempt_columns()))
    row = session.execute(stmt).first()
    return _row_to_attempt(row) if row is not None else None


def claim_batch(session: Session, worker_id: str, call_uuids: list[str], node: str | None, *,
                campaign_id: str | None = None, requests: bool = False,
                now: datetime | None = None) -> list[Attempt]:
    """Claim up to ``len(call_uuids)`` due attempts at once (one transaction), one reserved uuid each.

    The same atomic claim as :func:`claim_next` (``FOR UPDATE SKIP LOCKED`` /
    guarded UPDATE), for a lane that dials faster than one SQL round trip per
    call allows. Attempts claimed here and never launched are given back, or
    re-queued by the recovery when the worker dies.
    """
    if not call_uuids:
        return []
    now = now or utcnow()
    t = Attempt.__table__
    cond = [t.c.state == "queued", sa.or_(t.c.next_try_at.is_(None), t.c.next_try_at <= now)]
    if campaign_id is not None:
        cond.append(t.c.campaign_id == campaign_id)
    elif requests:
        cond.append(t.c.campaign_id.is_(None))
    # Two statements in one transaction: PostgreSQL may evaluate an ``IN (SELECT ... LIMIT n FOR UPDATE)``
    # subquery more than once and claim more than n rows. The SELECT locks its rows (SKIP LOCKED: other
    # workers take others); on SQLite it does not, and the UPDATE's state guard drops what a racing
    # worker took first (RETURNING says which rows are ours).
    picked = session.execute(sa.select(t.c.id).where(*cond).order_by(t.c.next_try_at, t.c.created_at)
                             .limit(len(call_uuids)).with_for_update(skip_locked=True)).scalars().all()
    if not picked:
        return []
    ids = session.execute(sa.update(t).where(t.c.id.in_(picked), t.c.state == "queued")
                          .values(state="dialing", claimed_by=worker_id, claimed_at=now, fs_node=node,
                                  updated_at=now).returning(t.c.id)).scalars().all()
    if not ids:
        return []
    # One executemany for the batch's uuids rather than a statement per attempt.
    session.execute(sa.update(t).where(t.c.id == sa.bindparam("attempt_id"))
                    .values(origination_uuid=sa.bindparam("call_uuid"), job_uuid=sa.bindparam("call_uuid")),
                    [{"attempt_id": i, "call_uuid": u} for i, u in zip(ids, call_uuids)])
    rows = session.execute(sa.select(*_attempt_columns()).where(t.c.id.in_(ids))).all()
    order = {i: n for n, i in enumerate(ids)}
    return sorted((_row_to_attempt(r) for r in rows), key=lambda a: order[a.id])


def release(session: Session, attempt_id: str, worker_id: str, *, cancel: bool = False,
            next_try_at: datetime | None = None, dial_status: str | None = None) -> bool:
    """Give back a claimed, never-launched attempt: queued again (or cancelled). True when it was ours."""
    t = Attempt.__table__
    values: dict = {"claimed_by": None, "claimed_at": None, "origination_uuid": None, "job_uuid": None,
                    "fs_node": None, "updated_at": utcnow()}
    if cancel:
        values.update(state="cancelled", dial_status=dial_status)
    else:
        values.update(state="queued")
        if next_try_at is not None:
            values["next_try_at"] = next_try_at
    res = session.execute(sa.update(t).where(t.c.id == attempt_id, t.c.state == "dialing",
                                             t.c.claimed_by == worker_id).values(**values))
    return res.rowcount == 1


def transition(session: Session, call_uuid: str, from_states: Iterable[str], to_state: str,
               **values) -> Attempt | None:
    """Move the attempt of channel ``call_uuid`` from one of ``from_states`` to ``to_state``.

    Returns the updated attempt (not attached to the session), or None when it was not in one of those
    states (already moved: a duplicate event, another process was first).
    """
    values.setdefault("updated_at", utcnow())
    values["state"] = to_state
    from_states = tuple(from_states)
    params = {f"_v_{k}": v for k, v in values.items()}
    params["_uuid"] = call_uuid
    params.update((f"_from{i}", state) for i, state in enumerate(from_states))
    row = session.execute(_transition_stmt(tuple(sorted(values)), len(from_states)), params).first()
    return _returned_attempt(row) if row is not None else None


# The listener makes several transitions per call: building and cache-keying a fresh UPDATE each time
# cost more than running it. One statement per shape (which columns are set, how many from-states),
# built once with bound parameters, is compiled once by SQLAlchemy and reused.
_TRANSITION_STMTS: dict[tuple, sa.Update] = {}


def _transition_stmt(keys: tuple[str, ...], n_from: int) -> sa.Update:
    stmt = _TRANSITION_STMTS.get((keys, n_from))
    if stmt is None:
        t = Attempt.__table__
        stmt = (sa.update(t)
                .where(t.c.origination_uuid == sa.bindparam("_uuid", type_=t.c.origination_uuid.type),
                       t.c.state.in_([sa.bindparam(f"_from{i}", type_=t.c.state.type) for i in range(n_from)]))
                .values({k: sa.bindparam(f"_v_{k}", type_=t.c[k].type) for k in keys})
                .returning(*_attempt_columns()))
        _TRANSITION_STMTS[(keys, n_from)] = stmt
    return stmt


def _returned_attempt(row) -> Attempt:
    """An Attempt from a RETURNING row, not attached to any session (what :func:`transition` returns).

    The values go straight into the instance's dict: setting 24 instrumented attributes one by one
    (change tracking for an object no session will flush) cost as much as the UPDATE itself.
    """
    a = Attempt()
    a.__dict__.update(zip(row._fields, row))
    return a


def finish_live(session: Session, call_uuid: str, *, hangup_cause: str | None, unanswered_status: str,
                answered_at: datetime | None = None, ended_at: datetime | None = None) -> Attempt | None:
    """The channel of a live attempt hung up: ``completed`` if it was answered, else ``failed``, in ONE UPDATE.

    Answered means the attempt was ``answered`` or the hangup reports an answer time (``answered_at``);
    ``dial_status`` becomes ``ANSWER`` or ``unanswered_status``, and a known answer time is kept. The
    outcome is decided from the row as the UPDATE finds it, not from an earlier read. Returns the
    updated attempt (not attached to the session), or None when it was not live (already final, or none).
    """
    params = {"_uuid": call_uuid, "_cause": hangup_cause, "_ended_at": ended_at or utcnow(), "_now": utcnow()}
    if answered_at is not None:
        params["_answered_at"] = answered_at
    else:
        params["_unanswered"] = unanswered_status
    row = session.execute(_finish_stmt(answered_at is not None), params).first()
    return _returned_attempt(row) if row is not None else None


_FINISH_STMTS: dict[bool, sa.Update] = {}


def _finish_stmt(event_answered: bool) -> sa.Update:
    stmt = _FINISH_STMTS.get(event_answered)
    if stmt is None:
        t = Attempt.__table__
        if event_answered:
            values = {"state": "completed", "dial_status": "ANSWER",
                      "answered_at": sa.func.coalesce(t.c.answered_at,
                                                      sa.bindparam("_answered_at", type_=t.c.answered_at.type))}
        else:
            # SET expressions read the row as it was before the UPDATE (SQLite and PostgreSQL alike).
            was_answered = t.c.state == "answered"
            values = {"state": sa.case((was_answered, "completed"), else_="failed"),
                      "dial_status": sa.case((was_answered, "ANSWER"),
                                             else_=sa.bindparam("_unanswered", type_=t.c.dial_status.type))}
        values.update(hangup_cause=sa.bindparam("_cause", type_=t.c.hangup_cause.type),
                      ended_at=sa.bindparam("_ended_at", type_=t.c.ended_at.type),
                      updated_at=sa.bindparam("_now", type_=t.c.updated_at.type))
        stmt = (sa.update(t)
                .where(t.c.origination_uuid == sa.bindparam("_uuid", type_=t.c.origination_uuid.type),
                       t.c.state.in_(LIVE_STATES))
                .values(values).returning(*_attempt_columns()))
        _FINISH_STMTS[event_answered] = stmt
    return stmt


def finish_without_channel(session: Session, attempt_id: str, to_state: str, **values) -> Attempt | None:
    """Final state for an attempt that never got a channel (DND) while it is still claimed or queued."""
    t = Attempt.__table__
    values.setdefault("updated_at", utcnow())
    stmt = (sa.update(t).where(t.c.id == attempt_id, t.c.state.in_(["queued", "dialing"]))
            .values(state=to_state, **values).returning(*_attempt_columns()))
    row = session.execute(stmt).first()
    return _row_to_attempt(row) if row is not None else None


def by_uuid(session: Session, call_uuid: str) -> Attempt | None:
    """The attempt whose channel is ``call_uuid``."""
    return session.execute(_BY_UUID, {"_uuid": call_uuid}).scalar_one_or_none()


_BY_UUID = sa.select(Attempt).where(Attempt.origination_uuid == sa.bindparam("_uuid"))


def add_attempt(session: Session, *, account_id: str, call_type: str, number: str,
                request_id: str | None = None, campaign_id: str | None = None, contact_id: int | None = None,
                attempt_no: int = 1, number_index: int = 0, ref_id: str | None = None,
                next_try_at: datetime | None = None) -> Attempt:
    """A new queued attempt (due at ``next_try_at``, default now)."""
    a = Attempt(account_id=account_id, call_type=call_type, number=number, request_id=request_id,
                campaign_id=campaign_id, contact_id=contact_id, attempt_no=attempt_no,
                number_index=number_index, ref_id=ref_id, state="queued",
                next_try_at=next_try_at or utcnow())
    session.add(a)
    return a


def next_attempt(session: Session, finished: Attempt, dial_status: str, numbers: list[str],
                 max_retries: int, retry_time: int, retry_on: Iterable[str]) -> Attempt | None:
    """The follow-up of a failed attempt, or None: the next alternate number now, else a retry after ``retry_time``.

    ``numbers`` is the recipient's number and its alternates in order. Call
    only from the transaction that moved ``finished`` to its final state, so
    the follow-up is created once.
    """
    if dial_status == "ANSWER":
        return None
    common = dict(account_id=finished.account_id, call_type=finished.call_type,
                  request_id=finished.request_id, campaign_id=finished.campaign_id,
                  contact_id=finished.contact_id, ref_id=finished.ref_id)
    if finished.number_index + 1 < len(numbers):
        idx = finished.number_index + 1
        return add_attempt(session, number=numbers[idx], attempt_no=finished.attempt_no, number_index=idx, **common)
    retry_set = {s.strip().upper() for s in retry_on or () if s}
    if finished.attempt_no <= max_retries and (not retry_set or dial_status in retry_set):
        return add_attempt(session, number=numbers[0] if numbers else finished.number,
                           attempt_no=finished.attempt_no + 1, number_index=0,
                           next_try_at=utcnow() + timedelta(seconds=max(0, retry_time)), **common)
    return None


def counts(session: Session, campaign_id: str) -> dict[str, int]:
    """Attempts of a campaign per state."""
    t = Attempt.__table__
    rows = session.execute(sa.select(t.c.state, sa.func.count()).where(t.c.campaign_id == campaign_id)
                           .group_by(t.c.state)).all()
    return {state: n for state, n in rows}


def stale_claims(session: Session, live_workers: set[str], older_than: datetime, limit: int = 500) -> list[Attempt]:
    """Live-state attempts claimed by workers that are no longer alive, claimed before ``older_than``."""
    stmt = (sa.select(Attempt).where(Attempt.state.in_(LIVE_STATES), Attempt.claimed_at < older_than)
            .order_by(Attempt.claimed_at).limit(limit))
    return [a for a in session.execute(stmt).scalars() if a.claimed_by not in live_workers]


def adopt(session: Session, attempt_id: str, dead_worker: str | None, worker_id: str) -> bool:
    """Take over a dead worker's live attempt (its channel still exists). True when taken."""
    t = Attempt.__table__
    res = session.execute(sa.update(t).where(t.c.id == attempt_id, t.c.claimed_by == dead_worker,
                                             t.c.state.in_(LIVE_STATES))
                          .values(claimed_by=worker_id, updated_at=utcnow()))
    return res.rowcount == 1


def requeue_unlaunched(session: Session, attempt_id: str, dead_worker: str | None) -> bool:
    """Put back a dead worker's ``dialing`` attempt whose channel FreeSWITCH does not have (never launched)."""
    t = Attempt.__table__
    res = session.execute(sa.update(t).where(t.c.id == attempt_id, t.c.claimed_by == dead_worker,
                                             t.c.state == "dialing")
                          .values(state="queued", claimed_by=None, claimed_at=None, origination_uuid=None,
                                  job_uuid=None, fs_node=None, updated_at=utcnow()))
    return res.rowcount == 1


def requeue_refused(session: Session, call_uuid: str, retry_at: datetime) -> Attempt | None:
    """Put back an attempt whose originate the switch refused before any channel existed (``-ERR`` with no
    channel: over ``sessions-per-second`` or ``max-sessions``). Not a try of the number: it is dialled again at
    ``retry_at`` under a new channel uuid. Returns the attempt as it was (for its slots), or None."""
    t = Attempt.__table__
    row = session.execute(sa.select(*_attempt_columns()).where(t.c.origination_uuid == call_uuid,
                                                               t.c.state.in_(("dialing", "ringing")))).first()
    if row is None:
        return None
    res = session.execute(sa.update(t).where(t.c.id == row.id, t.c.origination_uuid == call_uuid,
                                             t.c.state.in_(("dialing", "ringing")))
                          .values(state="queued", claimed_by=None, claimed_at=None, origination_uuid=None,
                                  job_uuid=None, fs_node=None, next_try_at=retry_at, updated_at=utcnow()))
    return _row_to_attempt(row) if res.rowcount == 1 else None


def cancel_queued(session: Session, *, campaign_id: str | None = None, request_id: str | None = None) -> int:
    """Cancel every still-queued attempt of a campaign or request; returns how many."""
    t = Attempt.__table__
    cond = [t.c.state == "queued"]
    if campaign_id is not None:
        cond.append(t.c.campaign_id == campaign_id)
    if request_id is not None:
        cond.append(t.c.request_id == request_id)
    return session.execute(sa.update(t).where(*cond).values(state="cancelled", updated_at=utcnow())).rowcount


def campaign_of(session: Session, attempt: Attempt) -> Campaign | None:
    """The attempt's campaign row (None for single call requests)."""
    return session.get(Campaign, attempt.campaign_id) if attempt.campaign_id else None

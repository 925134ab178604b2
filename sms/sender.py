"""Sending a message exactly once: the SQL claim, paced submit_sm per part, retries, and recovery of dead workers.

**Claim.** A dispatch job moves its message ``queued → sending`` in one
conditional UPDATE (``WHERE status = 'queued'``, due), recording the worker;
a duplicate job, or a second worker, claims nothing.

**Parts.** Each part is written once: it is marked ``submitting`` in SQL
before it waits for its turn in the rate, a Redis key (``<prefix>:sms:writing:<part>``)
is set right before its submit_sm is written to the socket, and it becomes
``submitted`` with the SMSC's message_id when the SMSC answers. A part the
bind could not write (:class:`sms.smpp.NotSent`) goes back to ``queued``; one
written without an answer (:class:`sms.smpp.Uncertain`: the bind died)
becomes ``unknown`` and is never written again — the SMSC may have it, and a
second copy on a phone is worse than a missing status. Its delivery receipt,
if one comes, still finds it (:mod:`sms.receiver`).

**Pace.** Every submit_sm is admitted against the system_id's rate
(``SMPP_TPS``) at the moment of its write, in the same Lua step that checks
the worker's fence and sets the writing key (:mod:`sms.throttle`: a sliding
window of write stamps on Redis's clock), so any number of workers together
never put more than the limit into any second at the SMSC. A full window
means waiting for the next slot, never giving one up.

**Refusals.** A temporary command_status (throttled, queue full, system error)
puts the message back with a back-off (``SMS_RETRY_BACKOFF``, doubled) until
``SMS_MAX_TRIES``; a permanent one fails it. Either way the parts already
taken stay taken.

**Recovery.** Every worker keeps a heartbeat key in Redis (TTL ``SMS_WORKER_TIMEOUT``); :func:`sweep`
finds ``sending`` messages whose worker has none: their ``submitting`` parts without a writing key were
never written and are queued again, those with one become ``unknown``; the message goes back to
``queued`` (if parts are left) or on to ``sent``. If Redis lost its data (the epoch key is gone), every
``submitting`` part counts as written. The sweep also enqueues again due ``queued`` messages whose job was
lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

import redis

from dialer.store import db
from dialer.store.models import utcnow
from dialer.store.sms_models import SmsMessage, SmsPart
from sms import messages, parts, reports, throttle
from sms.smpp import Bind, NotSent, Refused, Uncertain

log = logging.getLogger(__name__)

EXPIRED = ("EXPIRED", "Expired before it could be sent")
@dataclass
class Context:
    """What a sender needs: settings, the bind, the shared limiter and who it is."""

    cfg: object
    bind: Bind
    redis: redis.Redis
    worker_id: str

    @property
    def window(self) -> throttle.Window:
        """The system_id's submit_sm rate (SMPP_TPS), shared by every bind of every worker."""
        return throttle.Window.per_second(self.cfg.smpp_tps)


def heartbeat_key(prefix: str, worker_id: str) -> str:
    """The Redis key that says an SMS worker is alive."""
    return f"{prefix}:sms:worker:{worker_id}"


# ---------------------------------------------------------------- claim


def claim(cfg, message_id: str, worker_id: str) -> SmsMessage | None:
    """Take a due queued message for ``worker_id`` (returns a detached copy), or None when it is not ours."""
    now = utcnow()
    # RQ's scheduler keeps whole seconds: a retry's job may come up to a second before its next_try_at.
    due = now + timedelta(seconds=1)
    t = SmsMessage.__table__
    with db.session_scope(cfg.sqlalchemy_url) as s:
        row = s.execute(sa.update(t).where(
            t.c.id == message_id, t.c.status == "queued",
            sa.or_(t.c.next_try_at.is_(None), t.c.next_try_at <= due),
        ).values(status="sending", claimed_by=worker_id, claimed_at=now, updated_at=now)
            .returning(*t.c)).first()
        if row is None:
            return None
        msg = SmsMessage()
        msg.__dict__.update(row._mapping)
        # The parts still to write, read in the claim's transaction (one round trip less per message).
        msg.todo = {seq: part_id for seq, part_id in s.execute(
            sa.select(SmsPart.seq, SmsPart.id).where(SmsPart.message_id == message_id, SmsPart.state == "queued"))}
        return msg


# ---------------------------------------------------------------- sending


def _addr(sender: str) -> tuple[int, int, str]:
    """(ton, npi, address) of a sender: a number is international, anything else alphanumeric."""
    digits = sender.lstrip("+")
    if digits.isdigit():
        return 1, 1, digits
    return 5, 0, sender


def validity(seconds: int) -> str:
    """SMPP relative validity_period for ``seconds`` (``YYMMDDhhmmss000R``)."""
    seconds = max(60, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"0000{min(days, 99):02d}{hours:02d}{minutes:02d}{secs:02d}000R"


def submit_fields(msg: SmsMessage, esm_class: int, data_coding: int, short_message: bytes) -> dict:
    """The submit_sm fields of one part."""
    ton, npi, source = _addr(msg.sender or msg.from_number or "")
    fields = dict(service_type="", source_addr_ton=ton, source_addr_npi=npi, source_addr=source,
                  dest_addr_ton=1, dest_addr_npi=1, destination_addr=msg.to_number.lstrip("+"),
                  esm_class=esm_class, data_coding=data_coding, short_message=short_message,
                  registered_delivery=1, priority_flag=1 if msg.priority == "high" else 0)
    if msg.expires_at is not None:
        fields["validity_period"] = validity((msg.expires_at - utcnow()).total_seconds())
    return fields


def _set_part(cfg, part_id: int, from_states: tuple[str, ...], **values) -> bool:
    t = SmsPart.__table__
    with db.session_scope(cfg.sqlalchemy_url) as s:
        return s.execute(sa.update(t).where(t.c.id == part_id, t.c.state.in_(from_states))
                         .values(**values)).rowcount == 1


def _take_part(cfg, part_id: int, msg: SmsMessage) -> bool:
    """``queued → submitting`` for a part of a message this worker still holds (one conditional UPDATE)."""
    t, pt = SmsMessage.__table__, SmsPart.__table__
    ours = sa.select(t.c.id).where(t.c.id == msg.id, t.c.status == "sending", t.c.claimed_by == msg.claimed_by)
    with db.session_scope(cfg.sqlalchemy_url) as s:
        return s.execute(sa.update(pt).where(pt.c.id == part_id, pt.c.state == "queued", pt.c.message_id.in_(ours))
                         .values(state="submitting", submitted_at=utcnow())).rowcount == 1


def writing_key(prefix: str, part_id: int) -> str:
    """The Redis key set right before a part's submit_sm is written (see :func:`_write_part`)."""
    return f"{prefix}:sms:writing:{part_id}"


def epoch_key(prefix: str) -> str:
    """A key made once and never expired: when it is gone, Redis lost its data (and the writing marks)."""
    return f"{prefix}:sms:epoch"


WRITING_TTL = 3600


def fence_key(prefix: str, worker_id: str) -> str:
    """Set by the sweep before it takes a worker's messages: that worker may write nothing more."""
    return f"{prefix}:sms:fenced:{worker_id}"


class Fenced(Exception):
    """This worker was taken for dead and its messages given to others: it must not write or record them."""


def _write_part(ctx: Context, part_id: int, fields: dict) -> str:
    """Write one part's submit_sm at a moment the shared rate admits; the SMSC's message_id.

    The part is already ``submitting`` in SQL. Right before the socket write, under the bind's write lock,
    one Lua step (:data:`sms.throttle.ADMIT`) checks the worker's fence, admits the write against the
    system_id's sliding window and sets the part's writing key — all or nothing; a full window answers how
    long to wait, and the bind waits and asks again. Nothing else (no SQL, no other lock) lies between the
    admission and the write, and the write's stamp is confirmed once it is in the socket. A dead worker's
    ``submitting`` part without the writing key was never written and is sent again; with it, it may have
    been, and never is (:func:`sweep`). Raises what :meth:`sms.smpp.Bind.submit` raises, and
    :class:`Fenced`.
    """
    client, prefix, system_id = ctx.redis, ctx.cfg.key_prefix, ctx.cfg.smpp_system_id
    keys = [fence_key(prefix, ctx.worker_id), writing_key(prefix, part_id),
            throttle.stamps_key(prefix, system_id), throttle.last_key(prefix, system_id)]
    w = ctx.window
    member = f"{ctx.worker_id}:{part_id}"
    args = [ctx.worker_id, WRITING_TTL, w.limit, repr(w.window), repr(w.gap), repr(throttle.IN_FLIGHT), member]

    def admit() -> float:
        ok, value = throttle.ADMIT(client, keys, args)
        if int(ok) < 0:
            raise Fenced(ctx.worker_id)
        return max(float(value), 0.0002) if int(ok) == 0 else 0.0

    def confirm() -> None:
        try:
            throttle.CONFIRM(client, [keys[2]], [member])
        except redis.RedisError as exc:  # the stamp stays at its admission's upper bound: safe
            log.warning("SMS part %s: write stamp not confirmed (%s)", part_id, exc)

    try:
        return ctx.bind.submit(before_write=admit, after_write=confirm, **fields)
    except NotSent:
        client.delete(keys[1])
        raise


def send(ctx: Context, msg: SmsMessage) -> str:
    """Submit the claimed message's remaining parts; returns the message's new status."""
    cfg = ctx.cfg
    if msg.expires_at is not None and msg.expires_at <= utcnow():
        return _finish(cfg, msg, "rejected", *EXPIRED)
    todo = getattr(msg, "todo", None)
    if todo is None:
        with db.session_scope(cfg.sqlalchemy_url) as s:
            todo = {seq: part_id for seq, part_id in s.execute(sa.select(SmsPart.seq, SmsPart.id).where(
                SmsPart.message_id == msg.id, SmsPart.state == "queued"))}
    pdus = parts.short_messages(msg.body, msg.id)
    last_taken = max(todo) if todo else 0
    for seq, (esm_class, data_coding, short_message) in enumerate(pdus, start=1):
        part_id = todo.get(seq)
        if part_id is None:
            continue  # taken before (an earlier try, or a worker that died)
        if not _take_part(cfg, part_id, msg):
            continue  # not queued, or the message is no longer ours (recovered by another worker)
        try:
            smsc_id = _write_part(ctx, part_id, submit_fields(msg, esm_class, data_coding, short_message))
        except Fenced:
            log.error("SMS worker %s was taken for dead; message %s is another worker's now", ctx.worker_id, msg.id)
            raise
        except NotSent as exc:
            _set_part(cfg, part_id, ("submitting",), state="queued", submitted_at=None)
            log.info("SMS %s part %d not sent (%s); queued again", msg.id, seq, exc)
            return _again(cfg, msg, count_try=False)
        except Uncertain as exc:
            _set_part(cfg, part_id, ("submitting",), state="unknown")
            log.warning("SMS %s part %d written without an answer (%s): not written again", msg.id, seq, exc)
            continue
        except Refused as exc:
            if exc.temporary:
                _set_part(cfg, part_id, ("submitting",), state="queued", submitted_at=None, command_status=exc.status)
                return _again(cfg, msg, count_try=True, reason=exc)
            _set_part(cfg, part_id, ("submitting",), state="failed", command_status=exc.status,
                      error_code=f"{exc.status:#010x}")
            return _finish(cfg, msg, "failed", f"{exc.status:#010x}", str(exc).split(" ", 1)[1])
        if seq == last_taken:
            # The last part's answer and the message's "sent" in one transaction.
            return _finish(cfg, msg, "sent", part=(part_id, smsc_id))
        _set_part(cfg, part_id, ("submitting",), state="submitted", smsc_message_id=smsc_id, command_status=0)
    return _finish(cfg, msg, "sent")


def _again(cfg, msg: SmsMessage, *, count_try: bool, reason: Exception | None = None) -> str:
    """Put a claimed message back to queued (a temporary failure), or fail it after SMS_MAX_TRIES."""
    tries = (msg.tries or 0) + (1 if count_try else 0)
    if count_try and tries >= cfg.sms_max_tries:
        status = getattr(reason, "status", 0)
        return _finish(cfg, msg, "failed", f"{status:#010x}", f"{reason} (after {tries} tries)")
    delay = cfg.sms_retry_backoff * (2 ** max(0, tries - 1)) if count_try else 1.0
    t = SmsMessage.__table__
    with db.session_scope(cfg.sqlalchemy_url) as s:
        s.execute(sa.update(t).where(t.c.id == msg.id, t.c.status == "sending", t.c.claimed_by == msg.claimed_by).values(
            status="queued", claimed_by=None, claimed_at=None, tries=tries,
            next_try_at=utcnow() + timedelta(seconds=delay), updated_at=utcnow()))
    messages.enqueue(cfg, [(msg.id, msg.priority)], delay=delay)
    return "queued"


def _finish(cfg, msg: SmsMessage, status: str, error_code: str = "", error_reason: str = "", *,
            part: tuple[int, str] | None = None) -> str:
    """Move a sending message to ``status`` and queue its callback in the same transaction.

    ``part``: ``(part_id, smsc_message_id)`` of the part just answered, recorded in the same transaction.
    """
    now = utcnow()
    t, pt = SmsMessage.__table__, SmsPart.__table__
    values = dict(status=status, updated_at=now, error_code=error_code or None, error_reason=error_reason or None)
    if status == "sent":
        values["sent_at"] = now
    else:
        values["done_at"] = now
    with db.session_scope(cfg.sqlalchemy_url) as s:
        if part is not None:
            s.execute(sa.update(pt).where(pt.c.id == part[0], pt.c.state == "submitting")
                      .values(state="submitted", smsc_message_id=part[1], command_status=0))
        # Only the claim's own worker finishes it (not one taken for dead whose messages went to others).
        if s.execute(sa.update(t).where(t.c.id == msg.id, t.c.status == "sending",
                                        t.c.claimed_by == msg.claimed_by).values(**values)).rowcount != 1:
            return status
        row = s.get(SmsMessage, msg.id)
        delivery = reports.queue_status(s, row, status, started=row.created_at, ended=now,
                                        error_code=error_code, error_reason=error_reason)
    reports.send([delivery], cfg)
    return status


# ---------------------------------------------------------------- recovery


def sweep(cfg, client, *, limit: int = 500) -> dict:
    """Recover messages of dead workers and re-enqueue due messages whose job was lost; returns counts.

    A worker is dead when its heartbeat key (TTL ``SMS_WORKER_TIMEOUT``) is gone. A queued message is lost
    when it has been due for SMS_WORKER_TIMEOUT and no job waits in the queue (a worker took its job and
    died before claiming it, or Redis lost it); enqueueing it again is harmless if it was not: the claim
    lets one job through.
    """
    now = utcnow()
    stale_after = cfg.sms_worker_timeout / 2
    lost_after = cfg.sms_worker_timeout
    t, pt = SmsMessage.__table__, SmsPart.__table__
    recovered, requeued = 0, []
    with db.session_scope(cfg.sqlalchemy_url) as s:
        stale = s.execute(sa.select(t.c.id, t.c.claimed_by, t.c.priority).where(
            t.c.status == "sending", t.c.claimed_at < now - timedelta(seconds=stale_after)).limit(limit)).all()
    dead = [r for r in stale if not client.exists(heartbeat_key(cfg.key_prefix, r.claimed_by or "-"))]
    for worker in {r.claimed_by for r in dead if r.claimed_by}:
        # Before its marks are read: a worker only slow to beat (not dead) can then write nothing more.
        client.set(fence_key(cfg.key_prefix, worker), "1", ex=7 * 86400)
    # Without the epoch key Redis lost its data, writing marks included: every submitting part counts as
    # possibly written (never a second copy). The key is made again for what follows.
    marks_trusted = bool(client.exists(epoch_key(cfg.key_prefix)))
    client.set(epoch_key(cfg.key_prefix), "1", nx=True)
    for r in dead:
        with db.session_scope(cfg.sqlalchemy_url) as s:
            submitting = s.scalars(sa.select(pt.c.id).where(pt.c.message_id == r.id, pt.c.state == "submitting")).all()
            for part_id in submitting:
                written = not marks_trusted or client.exists(writing_key(cfg.key_prefix, part_id))
                s.execute(sa.update(pt).where(pt.c.id == part_id, pt.c.state == "submitting")
                          .values(state="unknown" if written else "queued",
                                  submitted_at=None if not written else pt.c.submitted_at))
            left = s.scalar(sa.select(sa.func.count()).select_from(pt).where(
                pt.c.message_id == r.id, pt.c.state == "queued"))
            if left:
                if s.execute(sa.update(t).where(t.c.id == r.id, t.c.status == "sending",
                                                t.c.claimed_by == r.claimed_by)
                             .values(status="queued", claimed_by=None, claimed_at=None, next_try_at=now,
                                     updated_at=now)).rowcount:
                    requeued.append((r.id, r.priority))
                    recovered += 1
                continue
        msg = SmsMessage(id=r.id, claimed_by=r.claimed_by)
        if _finish(cfg, msg, "sent") == "sent":
            recovered += 1
    if _queue_length(cfg, client):
        # Jobs are still waiting: a due message is most likely among them, not lost.
        lost = []
    else:
        with db.session_scope(cfg.sqlalchemy_url) as s:
            lost = s.execute(sa.select(t.c.id, t.c.priority).where(
                t.c.status == "queued", t.c.next_try_at < now - timedelta(seconds=lost_after)).limit(limit)).all()
    requeued += [(r.id, r.priority) for r in lost]
    if requeued:
        messages.enqueue(cfg, requeued)
    return {"recovered": recovered, "requeued": len(requeued)}


def _queue_length(cfg, client) -> int:
    from rq import Queue

    return client.llen(f"{Queue.redis_queue_namespace_prefix}{messages.queue_name(cfg)}")


def next_due(cfg) -> datetime | None:
    """When the next queued message is due (for tools)."""
    t = SmsMessage.__table__
    with db.session_scope(cfg.sqlalchemy_url) as s:
        return s.scalar(sa.select(sa.func.min(t.c.next_try_at)).where(t.c.status == "queued"))

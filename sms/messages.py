"""Accepting messages: one row per recipient, parts counted, links rewritten, the price charged, jobs enqueued.

:func:`accept` runs in the caller's transaction (the API's request, or the call
path's job), so a refused charge (:class:`sms.charging.LowBalance`) stores
nothing. :func:`enqueue` puts :func:`sms.jobs.dispatch` jobs (50 messages each) on
``<prefix>-sms`` after the commit (``priority: high`` at the front); a job lost
with Redis is enqueued again by the SMS workers' sweep (:mod:`sms.sender`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from dialer.store.models import new_id, utcnow
from dialer.store.sms_models import SmsMessage, SmsPart
from sms import charging, links, parts

log = logging.getLogger(__name__)

QUEUE_SUFFIX = "sms"
JOB = "sms.jobs.dispatch"
#: A sender id that is not a number: letters, digits and a few signs, at most 11 (GSM 03.40's alphanumeric address).
ALPHANUMERIC_SENDER = re.compile(r"^[A-Za-z0-9 .&_-]{1,11}$")


class BadMessage(ValueError):
    """A message that cannot be sent as asked (too long, bad sender mask)."""


@dataclass
class Request:
    """What one Messages request asks for (after the API's validation)."""

    account_id: str
    recipients: list[str]
    body: str
    sender: str
    from_number: str | None = None
    konnect_id: str | None = None
    batch_id: str | None = None
    callback_url: str | None = None
    track_url: bool = False
    url_to_track: str | None = None
    expiry: int | None = None
    priority: str = "normal"
    direction: str = "outbound"
    time_zone: str | None = None
    origin: str = "api"
    call_uuid: str | None = None


def new_ref_id() -> str:
    """A Konnect-style ref_id: ``AC`` and 32 hex characters."""
    return new_id("AC", 32)


def check_sender(sender: str) -> str:
    """A sender as SMPP can carry it: digits (a number) or an alphanumeric mask of at most 11 characters."""
    sender = (sender or "").strip()
    if re.fullmatch(r"\+?[0-9]{3,16}", sender):
        return sender
    if not ALPHANUMERIC_SENDER.match(sender):
        raise BadMessage(f"sender_mask {sender!r}: at most 11 letters, digits, spaces or . & _ -")
    return sender


def accept(session: Session, req: Request, *, base_url: str, ref_ids: list[str] | None = None) -> list[SmsMessage]:
    """Store one queued message per recipient (and its parts); returns them in recipient order.

    Raises :class:`BadMessage` or :class:`sms.charging.LowBalance` (nothing should then be committed).
    """
    now = utcnow()
    sender = check_sender(req.sender)
    out: list[SmsMessage] = []
    for n, number in enumerate(req.recipients):
        ref_id = ref_ids[n] if ref_ids else new_ref_id()
        body = req.body
        msg = SmsMessage(
            id=ref_id, batch_id=req.batch_id, account_id=req.account_id, konnect_id=req.konnect_id,
            direction=req.direction, origin=req.origin, call_uuid=req.call_uuid, to_number=number,
            from_number=req.from_number, sender=sender, status="queued", priority=req.priority or "normal",
            callback_url=req.callback_url, time_zone=req.time_zone, tries=0, next_try_at=now, created_at=now,
            updated_at=now, expires_at=now + timedelta(seconds=req.expiry) if req.expiry else None)
        session.add(msg)
        session.flush()  # the links reference the message
        if req.track_url:
            body = links.rewrite(session, ref_id, body, base_url, req.url_to_track)
        try:
            enc = parts.encode(body)
        except parts.TooLong as exc:
            raise BadMessage(f"body: {exc}") from None
        msg.body, msg.encoding, msg.parts = body, enc.encoding, enc.parts
        for seq in range(1, enc.parts + 1):
            session.add(SmsPart(message_id=ref_id, seq=seq, state="queued"))
        charging.charge(session, msg)
        out.append(msg)
    session.flush()
    return out


def queue_name(cfg) -> str:
    """The RQ queue of SMS sends: ``<prefix>-sms``."""
    return f"{cfg.key_prefix}-{QUEUE_SUFFIX}"


#: Messages per dispatch job: one RQ job's overhead (a dozen Redis round trips) spread over many sends.
JOB_CHUNK = 50


def enqueue(cfg, messages: list[SmsMessage] | list[tuple[str, str]], *, delay: float = 0.0) -> None:
    """Enqueue dispatch jobs for messages (``(id, priority)`` pairs or rows), :data:`JOB_CHUNK` ids a job.

    ``priority: high`` goes to the front of the queue. A Redis failure is only logged: the rows are stored and
    the workers' sweep enqueues them again.
    """
    from rq import Queue

    from dialer.callbacks import shared_redis

    pairs = [(m.id, m.priority) if isinstance(m, SmsMessage) else m for m in messages]
    try:
        q = Queue(queue_name(cfg), connection=shared_redis(cfg.redis_url))
        kwargs = {} if cfg is _settings() else {"cfg": cfg}
        opts = dict(job_timeout=3600, result_ttl=60, failure_ttl=7 * 86400)
        for high in (True, False):
            ids = [i for i, priority in pairs if (priority == "high") == high]
            for start in range(0, len(ids), JOB_CHUNK):
                chunk = ids[start:start + JOB_CHUNK]
                if delay > 0:
                    q.enqueue_in(timedelta(seconds=delay), JOB, chunk, **kwargs, **opts)
                else:
                    q.enqueue(JOB, chunk, at_front=high, **kwargs, **opts)
    except Exception:  # noqa: BLE001 - the rows are stored; the workers' sweep enqueues them again
        log.warning("could not enqueue %d SMS jobs; the sweep will", len(pairs), exc_info=True)


def _settings():
    from config import settings

    return settings()

"""What the SMSC sends us (deliver_sm): delivery receipts of our messages, and MO messages to inbound numbers.

Both are stored before the bind answers ``deliver_sm_resp`` (:mod:`sms.smpp`),
so a worker that dies in between leaves the SMSC to send them again; both are
idempotent (a receipt finds its part already final, an MO part already held).

**Receipts** (esm_class 0x04, or a ``receipted_message_id``): the part with
that SMSC message_id becomes ``delivered`` or ``undelivered``; when every part
of its message has its receipt, the message takes the outcome (delivered only
if every part was) and its callback is queued. A receipt for a part we never
heard an answer for (``unknown``: the worker died after writing it) is matched
to the oldest unknown part to that number. A receipt we cannot match yet (it
raced our own commit) is answered with a system error, so the SMSC sends it
again.

**MO**: the destination must be an inbound number (Konnect
``InboundPhoneNumbers``); the message is stored ``received`` for the number's
account and POSTed to the number's ``callback_url`` with seed 000's fields
(``ref_id, status: received, from, to, body, error_code, error_reason,
timestamp, event_timestamp``). Concatenated MO parts are held in Redis until
the last one comes, then joined.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from dialer.store import db
from dialer.store.models import InboundNumber, utcnow
from dialer.store.sms_models import SmsMessage, SmsPart
from sms import messages, parts, pdus, reports

log = logging.getLogger(__name__)

ESME_ROK, ESME_RSYSERR = 0x00, 0x08
#: Receipt stat → (message status, readable reason).
RECEIPT_OUTCOMES = {
    "DELIVRD": ("delivered", ""),
    "UNDELIV": ("undelivered", "Undeliverable"),
    "EXPIRED": ("undelivered", "Expired before delivery"),
    "DELETED": ("undelivered", "Deleted by the SMSC"),
    "REJECTD": ("undelivered", "Rejected by the network"),
    "UNKNOWN": ("undelivered", "Unknown delivery state"),
}
FINAL_PART_STATES = ("delivered", "undelivered", "failed")


def handle(cfg, client, pdu) -> int:
    """Handle one deliver_sm; returns the command_status of its deliver_sm_resp."""
    esm = int(pdu.esm_class or 0)
    receipted = pdus.text_field(getattr(pdu, "receipted_message_id", None))
    if esm & pdus.ESM_DELIVERY_RECEIPT or receipted:
        return receipt(cfg, pdu, receipted)
    return mobile_originated(cfg, client, pdu)


def _e164(addr) -> str:
    digits = pdus.text_field(addr).strip()
    return digits if digits.startswith("+") or not digits.isdigit() else "+" + digits


def receipt(cfg, pdu, receipted: str) -> int:
    """Apply one delivery receipt."""
    sm = pdu.short_message or b""
    info = pdus.parse_receipt(sm if isinstance(sm, bytes) else sm.encode("latin-1")) or {}
    smsc_id = receipted or info.get("id")
    stat = info.get("stat") or {2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 8: "REJECTD"}.get(
        int(getattr(pdu, "message_state", 0) or 0), "UNKNOWN")
    if stat in ("ENROUTE", "ACCEPTD"):
        return ESME_ROK  # an intermediate notification: nothing final yet
    part_state, reason = RECEIPT_OUTCOMES.get(stat, ("undelivered", stat.title()))
    err = "" if part_state == "delivered" else (info.get("err") or "000")
    # The receipt's done date has minute resolution: the callback's event_timestamp is when it reached us.
    now = done = utcnow()
    recipient = _e164(pdu.source_addr)
    pt, mt = SmsPart.__table__, SmsMessage.__table__
    with db.session_scope(cfg.sqlalchemy_url) as s:
        row = s.execute(sa.select(pt.c.id, pt.c.message_id, pt.c.state).where(pt.c.smsc_message_id == smsc_id)).first()
        if row is None:
            # Written by a worker that died before the answer: the oldest unknown part to this number.
            row = s.execute(sa.select(pt.c.id, pt.c.message_id, pt.c.state).join(mt, mt.c.id == pt.c.message_id)
                            .where(pt.c.state == "unknown", mt.c.to_number == recipient)
                            .order_by(pt.c.submitted_at).limit(1)).first()
            if row is None:
                log.info("receipt for unknown SMSC message %s (%s): asking the SMSC to send it again", smsc_id, stat)
                return ESME_RSYSERR
            s.execute(sa.update(pt).where(pt.c.id == row.id).values(smsc_message_id=smsc_id))
        if row.state in FINAL_PART_STATES:
            return ESME_ROK  # a duplicate
        s.execute(sa.update(pt).where(pt.c.id == row.id).values(state=part_state, done_at=done, error_code=err or None))
        states = [st for (st,) in s.execute(sa.select(pt.c.state).where(pt.c.message_id == row.message_id))]
        if not all(st in FINAL_PART_STATES for st in states):
            return ESME_ROK
        status = "delivered" if all(st == "delivered" for st in states) else "undelivered"
        moved = s.execute(sa.update(mt).where(mt.c.id == row.message_id, mt.c.status.in_(("sending", "sent")))
                          .values(status=status, done_at=done, updated_at=now, error_code=err or None,
                                  error_reason=reason or None)).rowcount
        if not moved:
            return ESME_ROK
        msg = s.get(SmsMessage, row.message_id)
        delivery = reports.queue_status(s, msg, status, started=msg.sent_at or msg.created_at, ended=done,
                                        error_code=err, error_reason=reason)
    reports.send([delivery], cfg)
    return ESME_ROK


def _join_parts(cfg, client, source: str, dest: str, concat: tuple[int, int, int], text: str) -> str | None:
    """Hold one part of a concatenated MO; the whole text once every part is held, else None."""
    ref, total, seq = concat
    key = f"{cfg.key_prefix}:sms:mo:{source}:{dest}:{ref}:{total}"
    pipe = client.pipeline(transaction=True)
    pipe.hset(key, str(seq), text)
    pipe.hlen(key)
    pipe.expire(key, 3600)
    _, held, _ = pipe.execute()
    if held < total:
        return None
    got = client.hgetall(key)
    client.delete(key)
    by_seq = {int(k): v.decode() if isinstance(v, bytes) else v for k, v in got.items()}
    return "".join(by_seq[i] for i in sorted(by_seq))


def mobile_originated(cfg, client, pdu) -> int:
    """Store an MO message to one of our inbound numbers and queue its callback."""
    source, dest = _e164(pdu.source_addr), _e164(pdu.destination_addr)
    sm = pdu.short_message or b""
    if not sm and getattr(pdu, "message_payload", None):
        sm = pdu.message_payload
    if isinstance(sm, str):
        sm = sm.encode("latin-1")
    text, concat = parts.decode(sm, int(pdu.data_coding or 0), int(pdu.esm_class or 0))
    if concat and concat[1] > 1:
        text = _join_parts(cfg, client, source, dest, concat, text)
        if text is None:
            return ESME_ROK
    now = utcnow()
    with db.session_scope(cfg.sqlalchemy_url) as s:
        number = s.get(InboundNumber, dest)
        if number is None:
            log.warning("MO SMS from %s to %s: not an inbound number; dropped", source, dest)
            return ESME_ROK
        enc = parts.encode(text)
        msg = SmsMessage(id=messages.new_ref_id(), account_id=number.account_id, direction="inbound",
                         origin="inbound", to_number=dest, from_number=source, sender=source, body=text,
                         encoding=enc.encoding, parts=enc.parts, status="received", callback_url=number.callback_url,
                         created_at=now, done_at=now, updated_at=now)
        s.add(msg)
        s.flush()
        delivery = reports.queue_status(s, msg, "received", started=now, ended=now)
    reports.send([delivery], cfg)
    log.info("MO SMS %s from %s to %s stored", msg.id, source, dest)
    return ESME_ROK

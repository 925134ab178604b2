"""SnapCall (seed 000): numbers whose inbound calls are refused unanswered, a webhook per missed call, and
phone-number verification by missed call.

How a missed call goes: the number is an inbound number (contract 2) whose app is the platform's own KML
``<Reject reason="busy"/>`` (``/apps/snapcall``, served by the API), so the IVR runtime hangs the call up
before answering it — ``USER_BUSY`` (SIP 486) or ``CALL_REJECTED`` (SIP 603) on a real FreeSWITCH — and the
caller's network charges nothing. The call's CDR (an unanswered inbound call, completed by its hangup event)
reaches :func:`on_record`, which queues the webhook to the number's ``callback_url`` and verifies any pending
verification of the calling number, through the same callback outbox as every status callback.

Webhook body (Konnect's inbound-notification fields): ``id`` (the configuring request's id), ``ref_id``
(this missed call), ``status`` ``received``, ``from`` (the caller), ``to`` (the SnapCall number),
``timestamp`` (when the call came), ``event_timestamp`` (when it was refused), ``error_code``,
``error_reason`` (blank).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer import callbacks, inbound_numbers, numbers
from dialer.store import db
from dialer.store.accounts import get_account
from dialer.store.models import new_id, utcnow
from dialer.store.snapcall_models import SnapCallNumber, SnapCallVerification

#: How a SnapCall number refuses calls: KML ``Reject`` reasons and the hangup cause each one gives.
REJECT_CAUSES = {"busy": "USER_BUSY", "rejected": "CALL_REJECTED"}
#: What the caller gets before the reject (seed 000: "disconnected after mobile user hears a ring or after a
#: prompt is played (depends on the campaign configuration)"); none of them answers the call.
MODES = ("reject", "ring", "prompt")
#: Ring mode: default and longest ringing, in seconds (a network gives up on an unanswered call after ~60 s).
RING_SECONDS = 5
RING_MAX_SECONDS = 60
#: Prompt mode: the longest TTS text (it travels in the app's URL).
PROMPT_TEXT_MAX = 500
#: Default and longest life of a verification, in seconds.
VERIFY_EXPIRY = 300
VERIFY_MAX_EXPIRY = 86400


class SnapCallError(ValueError):
    """A SnapCall number or verification that cannot be made; ``str()`` says why."""


@dataclass(frozen=True)
class Mode:
    """How a SnapCall number refuses a call: ``mode`` (see :data:`MODES`), the reject reason, the ringing time
    (ring mode), the audio URL or TTS text (prompt mode)."""

    mode: str = "reject"
    reject: str = "busy"
    ring_seconds: int = RING_SECONDS
    prompt_url: str | None = None
    prompt_text: str | None = None


def check_mode(mode: Mode) -> Mode:
    """``mode`` if it can be configured; raises :class:`SnapCallError` naming the field otherwise."""
    if mode.reject not in REJECT_CAUSES:
        raise SnapCallError(f"reject must be one of {', '.join(REJECT_CAUSES)}, got {mode.reject!r}")
    if mode.mode not in MODES:
        raise SnapCallError(f"mode must be one of {', '.join(MODES)}, got {mode.mode!r}")
    if not 1 <= int(mode.ring_seconds) <= RING_MAX_SECONDS:
        raise SnapCallError(f"ring_seconds must be 1 to {RING_MAX_SECONDS} seconds")
    if mode.prompt_text is not None and len(mode.prompt_text) > PROMPT_TEXT_MAX:
        raise SnapCallError(f"prompt_text must be at most {PROMPT_TEXT_MAX} characters")
    if mode.mode == "prompt" and bool(mode.prompt_url) == bool(mode.prompt_text):
        raise SnapCallError("prompt_url: mode prompt needs one of prompt_url (audio) or prompt_text (TTS)")
    return mode


def app_url(base_url: str, mode: Mode | str) -> str:
    """The platform's reject app for a SnapCall number (served by ``api.snapcall``), its mode in the query."""
    mode = Mode(reject=mode) if isinstance(mode, str) else mode
    query = {"reject": mode.reject}
    if mode.mode == "ring":
        query.update(mode="ring", ring=str(mode.ring_seconds))
    elif mode.mode == "prompt":
        query.update({"mode": "prompt", **({"play": mode.prompt_url} if mode.prompt_url else
                                           {"speak": mode.prompt_text or ""})})
    return f"{base_url}/apps/snapcall?{urlencode(query)}"


def app_dialect(mode: Mode) -> str:
    """The dialect of the app :func:`app_url` serves: a prompt is Plivo's ``PreAnswer`` (early media), which
    KML has not; the others are KML ``Reject``."""
    return "plivo" if mode.mode == "prompt" else "kml"


def app_document(mode: Mode) -> str:
    """The app's XML: nothing in it answers the call (``Reject``/``Hangup reason`` on the unanswered channel)."""
    if mode.mode == "prompt":
        prompt = (f"<Play>{escape(mode.prompt_url)}</Play>" if mode.prompt_url
                  else f"<Speak>{escape(mode.prompt_text or '')}</Speak>")
        body = f'<PreAnswer>{prompt}</PreAnswer><Hangup reason="{mode.reject}"/>'
    elif mode.mode == "ring":
        body = f'<Reject reason="{mode.reject}" ring="{int(mode.ring_seconds)}"/>'
    else:
        body = f'<Reject reason="{mode.reject}"/>'
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Response>{body}</Response>\n'


def _e164(session: Session, account_id: str, number: str) -> str:
    account = get_account(session, account_id)
    try:
        return numbers.normalize(number, numbers.region_for_account(account))
    except numbers.InvalidNumber as exc:
        raise SnapCallError(str(exc)) from None


def configure(cfg, *, account_id: str, number: str, callback_url: str | None, reject: str = "busy",
              konnect_id: str = "", mode: Mode | None = None) -> SnapCallNumber:
    """Make ``number`` a SnapCall number of the account (SQL, then the runtime's inbound-number table);
    ``mode`` (default: refused at once with ``reject``) says what the caller hears first."""
    mode = check_mode(mode or Mode(reject=reject))
    reject = mode.reject
    with db.session_scope(cfg.sqlalchemy_url) as s:
        e164 = _e164(s, account_id, number)
        try:
            # No callback_url on the inbound number: a missed call sends the SnapCall webhook, not a call status.
            inbound = inbound_numbers.save(s, account_id=account_id, number=e164,
                                           app_url=app_url(cfg.base_url, mode), dialect=app_dialect(mode),
                                           callback_url=None)
        except inbound_numbers.InboundNumberError as exc:
            raise SnapCallError(str(exc)) from None
        row = s.get(SnapCallNumber, e164)
        if row is None:
            row = SnapCallNumber(number=e164, account_id=account_id, ref_id=new_id("AC", 32))
            s.add(row)
        row.callback_url, row.reject, row.konnect_id = callback_url, reject, konnect_id or row.konnect_id
        row.mode, row.ring_seconds = mode.mode, int(mode.ring_seconds)
        row.prompt_url, row.prompt_text = mode.prompt_url, mode.prompt_text
        s.flush()
    inbound_numbers.publish(callbacks.shared_redis(cfg.redis_url), cfg.key_prefix, inbound)
    return row


def remove(cfg, account_id: str, number: str) -> SnapCallNumber | None:
    """Stop SnapCall on ``number`` (and its inbound entry); the removed row, or None if the account had none."""
    with db.session_scope(cfg.sqlalchemy_url) as s:
        e164 = _e164(s, account_id, number)
        row = s.get(SnapCallNumber, e164)
        if row is None or row.account_id != account_id:
            return None
        s.delete(row)
    inbound_numbers.remove_inbound_number(account_id, e164, cfg=cfg)
    return row


def verify(cfg, *, account_id: str, phone_number: str, snapcall_number: str | None, callback_url: str | None,
           expiry: int = VERIFY_EXPIRY, konnect_id: str = "") -> SnapCallVerification:
    """Start a verification: ``phone_number`` is proven when it gives a missed call to the SnapCall number
    (the account's only one when ``snapcall_number`` is None) within ``expiry`` seconds."""
    if not 1 <= int(expiry) <= VERIFY_MAX_EXPIRY:
        raise SnapCallError(f"expiry must be 1 to {VERIFY_MAX_EXPIRY} seconds")
    with db.session_scope(cfg.sqlalchemy_url) as s:
        phone = _e164(s, account_id, phone_number)
        mine = s.scalars(select(SnapCallNumber).where(SnapCallNumber.account_id == account_id)
                         .order_by(SnapCallNumber.created_at)).all()
        if snapcall_number:
            target = _e164(s, account_id, snapcall_number)
            if target not in {m.number for m in mine}:
                raise SnapCallError(f"{target} is not one of the account's SnapCall numbers")
        elif len(mine) == 1:
            target = mine[0].number
        else:
            raise SnapCallError("snapcall_number is required" if mine else "the account has no SnapCall number")
        row = SnapCallVerification(ref_id=new_id("AC", 32), account_id=account_id, konnect_id=konnect_id,
                                   phone_number=phone, snapcall_number=target, callback_url=callback_url,
                                   status="pending", expires_at=utcnow() + timedelta(seconds=int(expiry)))
        s.add(row)
    return row


def verification(cfg, account_id: str, ref_id: str) -> SnapCallVerification | None:
    """A verification of the account (``status`` expired once past its expiry), or None."""
    with db.session_scope(cfg.sqlalchemy_url) as s:
        row = s.get(SnapCallVerification, ref_id)
        if row is None or row.account_id != account_id:
            return None
        if row.status == "pending" and row.expires_at <= utcnow():
            row.status = "expired"
        return row


def _tz() -> str:
    return "UTC"


def webhook_payload(snap: SnapCallNumber, row) -> dict:
    """The webhook body of one missed call (see the module docs)."""
    return {
        "id": snap.konnect_id,
        "ref_id": row.uniqueid or str(row.id),
        "status": "received",
        "from": numbers.seed_style(row.customer_number or ""),
        "to": numbers.seed_style(snap.number),
        "timestamp": callbacks.konnect_time(row.started_at or row.call_date, _tz()),
        "event_timestamp": callbacks.konnect_time(row.end or row.call_date, _tz()),
        "error_code": "",
        "error_reason": "",
    }


def on_record(session: Session, row) -> list[int]:
    """The records hook: a completed CDR of a call to a SnapCall number queues its webhook and verifies the
    caller's pending verifications; returns the deliveries to enqueue after commit."""
    if row.call_type != "inbound" or not row.dialed_number:
        return []
    snap = session.get(SnapCallNumber, row.dialed_number)
    if snap is None:
        return []
    out: list[int] = []
    if snap.callback_url:
        out.append(callbacks.create_delivery(session, url=snap.callback_url, payload=webhook_payload(snap, row),
                                             kind="snapcall", account_id=snap.account_id, cdr_id=row.id,
                                             dedupe_key=f"snapcall:{row.id}"))
    at = row.started_at or row.call_date or utcnow()
    pending = session.scalars(select(SnapCallVerification).where(
        SnapCallVerification.snapcall_number == snap.number,
        SnapCallVerification.phone_number == (row.customer_number or ""),
        SnapCallVerification.status == "pending").with_for_update()).all()
    for v in pending:
        if v.expires_at < at or v.created_at > (row.end or utcnow()):
            continue
        v.status, v.verified_at = "verified", at
        if v.callback_url:
            out.append(callbacks.create_delivery(
                session, url=v.callback_url, kind="snapcall", account_id=v.account_id, cdr_id=row.id,
                dedupe_key=f"verified:{v.ref_id}", payload=verification_payload(v)))
    return out


def verification_payload(v: SnapCallVerification) -> dict:
    """A verification's state as its callback and ``GET`` show it."""
    return {
        "id": v.konnect_id,
        "ref_id": v.ref_id,
        "status": v.status,
        "phone_number": numbers.seed_style(v.phone_number),
        "snapcall_number": numbers.seed_style(v.snapcall_number),
        "timestamp": callbacks.konnect_time(v.verified_at, _tz()) if v.verified_at else "",
        "expiry_time": callbacks.konnect_time(v.expires_at, _tz()),
    }

"""Konnect ``Messages`` (seed 000): outbound SMS to one or many, its status, and the tracked short links.

``POST``/``GET /api/v1/Accounts/{account_id}/Messages`` answers
``{"status": "ok"}`` once every recipient's message is stored and queued; the
``accepted`` callback with the per-number ``ref_ids`` follows asynchronously,
then one callback per message and status (``sent``, ``delivered`` /
``undelivered``, ``failed``, ``rejected``) and one per click of a tracked link
(docs/sms.md). Konnect's ``id`` is the idempotency key: a retried request
answers the first answer and sends nothing again. A refused charge answers
seed 000's ``3003 Low Balance`` and stores nothing.

Our additions: ``GET .../Messages/{ref_id}`` (one message's status, parts and
clicks), ``time_zone`` (of the callbacks' times, default Asia/Kolkata), and
``/l/{code}``, the short links that ``track_url`` puts in the text.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, redirect, request
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from api import store
from api.auth import client_ip, konnect_account
from api.endpoints import endpoint
from api.errors import ApiError
from api.konnect import lower_keys
from api.schemas import Field, ValidationError, s
from dialer.store.models import new_id, utcnow

bp = Blueprint("konnect_messages", __name__)
#: The short links of tracked URLs, at the root: ``/l/<code>``.
links_bp = Blueprint("sms_links", __name__)

PREFIX = "/api/v1/Accounts"


def _check(v: dict[str, Any]) -> None:
    if not v.get("body", "").strip():
        raise ValidationError("body", "must not be empty")
    if v.get("url_to_track") and v["url_to_track"] not in v["body"]:
        raise ValidationError("url_to_track", "must appear in body")


MESSAGES = s(
    "konnect_messages",
    Field("id", required=True, max_length=200, description="unique transaction id (idempotency key)"),
    Field("to", "list", required=True, items=Field("to", "phone"), comma_string=True, min_items=1, max_items=10000,
          description="destination number, or a JSON array of them"),
    Field("from", "phone", description="sender number; default: the account's default sender"),
    Field("direction", "enum", default="outbound", choices=("inbound", "outbound", "2way")),
    Field("sender_mask", max_length=11, description="alphanumeric sender id (at most 11 characters)"),
    Field("body", required=True, max_length=255 * 153, description="the text; unicode and long texts are split"),
    Field("expiry", "integer", minimum=1, maximum=7 * 86400, description="seconds the message stays valid"),
    Field("priority", "enum", default="normal", choices=("normal", "high")),
    Field("callback_url", "url"),
    Field("track_url", "boolean", default=False, description="rewrite the body's URLs to tracked short links"),
    Field("url_to_track", "url", description="the one URL of the body to track"),
    Field("time_zone", "timezone", description="ours: time zone of the callbacks' times (default Asia/Kolkata)"),
    check=_check,
    example={"id": "A10579090909090", "to": ["919886038842", "919886038843"], "from": "919886000085",
             "body": "Welcome to Konnect !", "callback_url": "http://myapp.com/notify"},
)


def _existing(account_id: str, konnect_id: str) -> dict | None:
    from dialer.store.sms_models import SmsBatch

    with store.session() as sess:
        row = sess.scalars(select(SmsBatch).where(SmsBatch.account_id == account_id,
                                                  SmsBatch.konnect_id == konnect_id)).first()
        return (row.result or {"status": "ok"}) if row is not None else None


def _send(account_id: str, data: dict[str, Any]):
    from dialer import callbacks
    from dialer.store.sms_models import SmsBatch
    from sms import charging, messages

    account = konnect_account(account_id)
    previous = _existing(account.id, data["id"])
    if previous is not None:
        return jsonify(previous)
    cfg = store.cfg()
    sender = data.get("sender_mask") or data.get("from") or account.default_caller_id or cfg.sms_default_sender
    tz = data.get("time_zone")
    recipients = list(data["to"])  # a number listed twice gets two messages, as asked
    batch_id = new_id("SB", 16)
    result = {"status": "ok"}
    req = messages.Request(
        account_id=account.id, recipients=recipients, body=data["body"], sender=sender.lstrip("+"),
        from_number=data.get("from"), konnect_id=data["id"], batch_id=batch_id,
        callback_url=data.get("callback_url"), track_url=bool(data.get("track_url")),
        url_to_track=data.get("url_to_track"), expiry=data.get("expiry"), priority=data.get("priority") or "normal",
        direction=data.get("direction") or "outbound", time_zone=getattr(tz, "key", tz))
    try:
        with store.session() as sess:
            sess.add(SmsBatch(id=batch_id, account_id=account.id, konnect_id=data["id"], result=result))
            sess.flush()
            msgs = messages.accept(sess, req, base_url=cfg.base_url)
            delivery = None
            if data.get("callback_url"):
                delivery = callbacks.queue_accepted(sess, url=data["callback_url"], account_id=account.id,
                                                    request_id=batch_id, konnect_id=data["id"],
                                                    ref_ids=[(m.to_number, m.id) for m in msgs])
            queued = [(m.id, m.priority) for m in msgs]
    except charging.LowBalance:
        raise ApiError("Low Balance", kind="low_balance") from None
    except messages.BadMessage as exc:
        raise ApiError(str(exc), field=str(exc).split(" ", 1)[0].rstrip(":")) from None
    except IntegrityError:
        # A concurrent retry of the same id won: answer what it answered.
        return jsonify(_existing(account.id, data["id"]) or result)
    if delivery is not None:
        callbacks.enqueue([delivery], cfg=cfg)
    messages.enqueue(cfg, queued)
    return jsonify(result)


@endpoint(bp, "POST", "/{account_id}/Messages", dialect="konnect", auth=konnect_account, schema=MESSAGES,
          prepare=lower_keys, blueprint_prefix=PREFIX, summary="Send an SMS to one or many numbers")
def messages_post(_data: dict[str, Any], account_id: str):
    """Konnect Messages, JSON body."""
    return _send(account_id, _data)


@endpoint(bp, "GET", "/{account_id}/Messages", dialect="konnect", auth=konnect_account, schema=MESSAGES,
          prepare=lower_keys, source="query", blueprint_prefix=PREFIX,
          summary="Messages with the parameters in the query string")
def messages_get(_data: dict[str, Any], account_id: str):
    """Konnect Messages, query-string form."""
    return _send(account_id, _data)


@endpoint(bp, "GET", "/{account_id}/Messages/{ref_id}", dialect="konnect", auth=konnect_account,
          blueprint_prefix=PREFIX, summary="Ours: one message's status, parts and clicks")
def message_status(_data: dict[str, Any], account_id: str, ref_id: str):
    """The current status of one message (outbound or MO) as its callback would show it."""
    from dialer.store.sms_models import SmsLink, SmsMessage
    from sms import reports

    account = konnect_account(account_id)
    with store.session() as sess:
        msg = sess.get(SmsMessage, ref_id[:40])
        if msg is None or msg.account_id != account.id:
            raise ApiError(f"message {ref_id!r} not found", kind="not_found", field="ref_id")
        shown_status = "accepted" if msg.status in ("queued", "sending") else msg.status
        started = msg.sent_at if msg.status in ("delivered", "undelivered") else msg.created_at
        ended = msg.done_at or msg.sent_at
        body = reports.status_payload(msg, shown_status, started=started, ended=ended,
                                      error_code=msg.error_code or "", error_reason=msg.error_reason or "")
        clicks = sum(link.clicks for link in sess.scalars(select(SmsLink).where(SmsLink.message_id == msg.id)))
        body.update(body=msg.body, direction=msg.direction, parts=msg.parts, encoding=msg.encoding, clicks=clicks)
    return jsonify({"status": "ok", "message": body})


@links_bp.get("/l/<code>")
def short_link(code: str):
    """A tracked link: count the click, notify the message's callback_url, redirect to the original URL."""
    from dialer import callbacks
    from dialer.store.sms_models import SmsClick, SmsLink, SmsMessage
    from sms import reports

    now = utcnow()
    with store.session() as sess:
        link = sess.get(SmsLink, code[:16])
        if link is None:
            raise ApiError("unknown link", kind="not_found", field="code")
        sess.execute(update(SmsLink).where(SmsLink.code == link.code)
                     .values(clicks=SmsLink.clicks + 1,
                             first_clicked_at=SmsLink.first_clicked_at if link.first_clicked_at else now))
        sess.add(SmsClick(code=link.code, message_id=link.message_id, clicked_at=now, ip=client_ip(),
                          user_agent=(request.headers.get("User-Agent") or "")[:500]))
        msg = sess.get(SmsMessage, link.message_id)
        delivery = reports.queue(sess, msg, reports.click_payload(msg, now), "sms_click", None)
        target = link.url
    if delivery is not None:
        callbacks.enqueue([delivery], cfg=store.cfg())
    return redirect(target, code=302)

"""The callbacks of an SMS: the seed's fields, queued through the dialer's callback outbox (dialer/callbacks.py).

Seed 000's table for ``Messages``: ``ref_id, status, to, from, price, balance,
body (MO only), error_code, error_reason, timestamp, event_timestamp,
url_access_time (clicks)``; the request's ``id`` comes first, as in the
seed's ``accepted`` and click samples. Statuses: ``sent`` (the SMSC took every
part), ``delivered`` / ``undelivered`` (its delivery receipts), ``failed``
(refused by the SMSC, or temporary refusals until SMS_MAX_TRIES),
``rejected`` (refused before it reached the SMSC: expired), ``received`` (MO).
``timestamp`` is when the reported step began and ``event_timestamp`` when it
ended (for a delivery, the delivery time), in seed 000's time format.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy.orm import Session

from dialer import callbacks
from dialer.numbers import seed_style
from dialer.store.sms_models import SmsMessage

DEFAULT_TIME_ZONE = "Asia/Kolkata"


def when(value: datetime | None, msg: SmsMessage) -> str:
    """A time in seed 000's callback format in the message's time zone."""
    return callbacks.konnect_time(value, msg.time_zone or DEFAULT_TIME_ZONE)


def shown(number: str | None) -> str:
    """A number as the seed shows it (country code and digits); a sender mask as it is."""
    return seed_style(number or "")


def status_payload(msg: SmsMessage, status: str, *, started: datetime | None, ended: datetime | None,
                   error_code: str = "", error_reason: str = "") -> dict:
    """The callback body of one status of an outbound or MO message."""
    payload: dict = {}
    if msg.konnect_id:
        payload["id"] = msg.konnect_id
    payload.update({
        "ref_id": msg.id,
        "status": status,
        "to": shown(msg.to_number),
        "from": shown(msg.from_number or msg.sender),
        "price": msg.price or "",
        "balance": msg.balance or "",
    })
    if msg.direction == "inbound":
        payload["body"] = msg.body
    payload.update({"error_code": error_code or "", "error_reason": error_reason or "",
                    "timestamp": when(started, msg), "event_timestamp": when(ended, msg)})
    return payload


def click_payload(msg: SmsMessage, clicked_at: datetime) -> dict:
    """Seed 000's URL-click notification."""
    payload: dict = {}
    if msg.konnect_id:
        payload["id"] = msg.konnect_id
    payload.update({"ref_id": msg.id, "to": shown(msg.to_number), "url_access_time": when(clicked_at, msg)})
    return payload


def queue(session: Session, msg: SmsMessage, payload: dict, kind: str, dedupe_key: str | None) -> int | None:
    """Write the callback in the caller's transaction (None when the message has no callback_url)."""
    if not msg.callback_url:
        return None
    return callbacks.create_delivery(session, url=msg.callback_url, payload=payload, kind=kind,
                                     account_id=msg.account_id, request_id=msg.batch_id, dedupe_key=dedupe_key)


def queue_status(session: Session, msg: SmsMessage, status: str, *, started: datetime | None,
                 ended: datetime | None, error_code: str = "", error_reason: str = "") -> int | None:
    """Queue the callback of ``status`` (once per message and status)."""
    payload = status_payload(msg, status, started=started, ended=ended, error_code=error_code,
                             error_reason=error_reason)
    return queue(session, msg, payload, "sms", f"sms:{msg.id}:{status}")


def send(delivery_ids: Iterable[int | None], cfg) -> None:
    """Enqueue the deliveries after their transaction committed (a lost enqueue is found by requeue_due)."""
    ids = [i for i in delivery_ids if i is not None]
    if ids:
        try:
            callbacks.enqueue(ids, cfg=cfg)
        except Exception:  # noqa: BLE001 - the outbox row stays; dialer.callbacks.requeue_due sends it
            import logging

            logging.getLogger(__name__).warning("could not enqueue SMS callbacks %s", ids, exc_info=True)

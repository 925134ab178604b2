"""The RQ jobs of ``<prefix>-sms``, enqueued by dotted name (the API, the IVR runtime) and run by SMS workers.

* :func:`dispatch` — claim stored messages and send them (:mod:`sms.sender`).
* :func:`send_from_call` — an IVR app's ``<sendsms>`` / KML ``Sms`` during a
  call: store the message for the call's account (idempotently, by the id the
  runtime gave it) and send it through the same path as the API's.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy.exc import IntegrityError

from dialer import numbers
from dialer.store import db
from dialer.store.accounts import get_account
from dialer.store.sms_models import SmsMessage
from sms import charging

log = logging.getLogger(__name__)


def dispatch(message_ids: list[str] | str, cfg=None) -> dict:
    """RQ job: claim and send messages (a duplicate job, or one for messages already taken, does nothing)."""
    from sms.worker import current

    return current().dispatch(message_ids)


def send_from_call(payload: dict, cfg=None) -> dict:
    """RQ job from the IVR runtime: ``{"sms_id", "account_id", "to", "text", "from", "call_uuid"}``."""
    from sms import messages
    from sms.worker import current

    cfg = cfg or current().cfg
    ref_id = "AC" + hashlib.sha256(str(payload["sms_id"]).encode()).hexdigest()[:32]
    try:
        with db.session_scope(cfg.sqlalchemy_url) as s:
            if s.get(SmsMessage, ref_id) is not None:
                return {"ref_id": ref_id, "duplicate": True}
            account = get_account(s, payload["account_id"])
            region = numbers.region_for_account(account)
            to = numbers.normalize(payload["to"], region)
            sender = payload.get("from") or account.default_caller_id or cfg.sms_default_sender
            req = messages.Request(account_id=account.id, recipients=[to], body=payload.get("text") or "",
                                   sender=sender.lstrip("+"), from_number=sender, origin="call",
                                   call_uuid=payload.get("call_uuid"))
            msgs = messages.accept(s, req, base_url=cfg.base_url, ref_ids=[ref_id])
    except IntegrityError:
        return {"ref_id": ref_id, "duplicate": True}
    except (numbers.InvalidNumber, messages.BadMessage, LookupError, ValueError, charging.LowBalance) as exc:
        log.warning("<sendsms> of call %s not sent: %s", payload.get("call_uuid"), exc)
        return {"ref_id": ref_id, "error": str(exc)}
    messages.enqueue(cfg, msgs)
    return {"ref_id": ref_id, "queued": True}

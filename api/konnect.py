"""Konnect voice endpoints (seed 000) under ``/api/v1/Accounts/{account_id}``: ``Calls`` and ``InboundPhoneNumbers``.

``POST``/``GET .../Calls`` answers ``{"status": "ok"}`` at once; the per-number
``ref_ids`` follow asynchronously in the ``accepted`` callback to
``callback_url``. Konnect's ``id`` is the idempotency key: a retried request
with the same ``id`` answers the first answer and dials nothing again.

``direction``: ``outbound`` dials ``recipient``; ``inbound`` configures
``ivr_number`` so that its inbound calls run the content; ``2way`` does both
(``ivr_number`` defaulting to ``caller_id``). The content is ``doc_url`` (a KML
app, ``alt_doc_url`` as its fallback), ``media_url`` (played) or ``ref_id``
(a stored call flow).

A ``doc_url`` may also serve KooKoo XML. Unless the request says which
(``dialect``, our addition), its dialect is ``auto``: the IVR runtime sends the
first request with both dialects' parameters and keeps to the dialect of the
first document it gets (docs/ivr.md, "Which parameters an app receives").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, jsonify
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api import store
from api.auth import konnect_account
from api.endpoints import endpoint
from api.errors import ApiError
from api.konnect_balance import check_balance
from api.schemas import Field, ValidationError, s
from dialer.store.models import CallRequest, Flow, InboundNumber, new_id

bp = Blueprint("konnect", __name__)
#: The seed's DELETE examples use ``/admin/api/v1/Accounts/...``.
admin_bp = Blueprint("konnect_admin", __name__)

PREFIX = "/api/v1/Accounts"
DIRECTIONS = ("outbound", "inbound", "2way")
DIALECT = Field("dialect", "enum", choices=("auto", "kml", "kookoo", "twiml", "plivo"),
                description="ours: what doc_url serves; auto (the default) detects it from the app's first document")


def _calls_check(v: dict[str, Any]) -> None:
    direction = v.get("direction", "outbound")
    if direction in ("outbound", "2way") and not v.get("recipient"):
        raise ValidationError("recipient", f"is required when direction is {direction}")
    if direction == "inbound" and not v.get("ivr_number"):
        raise ValidationError("ivr_number", "is required when direction is inbound")
    if not (v.get("ref_id") or v.get("doc_url") or v.get("media_url")):
        raise ValidationError("media_url", "one of media_url, doc_url or ref_id is required")
    if v.get("ref_id") and v.get("media_url"):
        raise ValidationError("media_url", "must be empty when ref_id is given")
    if direction == "2way" and not (v.get("ivr_number") or v.get("caller_id")):
        raise ValidationError("ivr_number", "is required for 2way when caller_id is not given")


CALLS = s(
    "konnect_calls",
    Field("id", required=True, max_length=200, description="unique transaction id (idempotency key)"),
    Field("ref_id", max_length=40, description="a stored call flow to run"),
    Field("recipient", "list", items=Field("recipient", "phone"), comma_string=True, max_items=10000,
          description="JSON array or comma-separated numbers"),
    Field("direction", "enum", default="outbound", choices=DIRECTIONS),
    Field("expiry", max_length=20, description="not supported (accepted and ignored)"),
    Field("priority", "enum", choices=("normal", "high"), description="not supported (accepted and ignored)"),
    Field("media_url", "url"),
    Field("caller_id", "phone"),
    Field("ivr_number", "phone"),
    Field("callback_url", "url"),
    Field("doc_url", "url"),
    Field("alt_doc_url", "url"),
    DIALECT,
    check=_calls_check,
    example={"id": "A10579090909090", "recipient": ["919886038842", "919886038843"], "caller_id": "919886000085",
             "media_url": "http://somewebsite.com/audio.wav", "callback_url": "http://myapp.com/notify"},
)

INBOUND = s(
    "konnect_inbound_phone_number",
    Field("id", required=True, max_length=200),
    Field("phone_number", "phone", required=True),
    Field("callback_url", "url"),
    Field("doc_url", "url", description="our addition: the IVR app inbound calls run (KML or KooKoo XML)"),
    Field("alt_doc_url", "url", description="our addition: fallback app"),
    Field("media_url", "url", description="our addition: audio played to inbound callers"),
    DIALECT,
)


def lower_keys(data: Any) -> Any:
    """Konnect request keys matched case-insensitively (the seed's own 2way curl example sends ``"Id"``)."""
    if isinstance(data, dict):
        return {(k.lower() if isinstance(k, str) else k): v for k, v in data.items()}
    return data


_lower_keys = lower_keys


def announce_app_url(media_url: str) -> str:
    """URL of the built-in KooKoo app that plays ``media_url`` and hangs up (see api.apps)."""
    return f"{store.cfg().base_url}/apps/play?{urlencode({'media_url': media_url})}"


def _content(account_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """What a call runs: app URL, fallback and dialect, resolved from ref_id / doc_url / media_url."""
    if data.get("ref_id"):
        with store.session() as sess:
            flow = sess.get(Flow, data["ref_id"])
            if flow is None or flow.account_id != account_id:
                raise ApiError(f"ref_id {data['ref_id']!r} not found", kind="not_found", field="ref_id")
            return {"app_url": flow.app_url, "fallback_url": flow.fallback_url, "dialect": flow.dialect,
                    "method": flow.method}
    if data.get("doc_url"):
        return {"app_url": data["doc_url"], "fallback_url": data.get("alt_doc_url"),
                "dialect": data.get("dialect") or "auto", "method": "GET"}
    return {"media_url": data["media_url"], "app_url": None, "fallback_url": None, "dialect": "kookoo",
            "method": "GET"}


def configure_inbound(account_id: str, e164: str, app: dict[str, Any], callback_url: str | None) -> str:
    """Point ``e164``'s inbound calls at ``app`` for this account (SQL, then the Redis copy); returns its ref_id."""
    from dialer import inbound_numbers

    app_url = app.get("app_url") or announce_app_url(app["media_url"])
    # The announcement for media_url is our own KooKoo app; a customer's app may say its dialect.
    dialect = (app.get("dialect") if app.get("app_url") else "kookoo") or "auto"
    try:
        row = inbound_numbers.set_inbound_number(
            cfg=store.cfg(), account_id=account_id, number=e164, app_url=app_url,
            fallback_url=app.get("fallback_url"), dialect=dialect, method=app.get("method") or "GET",
            callback_url=callback_url)
    except inbound_numbers.InboundNumberError as exc:
        kind = "conflict" if "another account" in str(exc) else "invalid"
        raise ApiError(str(exc), kind=kind, field="phone_number") from None
    return row.ref_id or new_id("AC", 32)


def _existing_result(account_id: str, key: str) -> dict[str, Any] | None:
    with store.session() as sess:
        row = sess.scalars(select(CallRequest).where(
            CallRequest.account_id == account_id, CallRequest.kind == "konnect",
            CallRequest.idempotency_key == key)).first()
        return (row.result or {"status": "ok"}) if row is not None else None


def _calls(account_id: str, data: dict[str, Any]):
    account = konnect_account(account_id)
    previous = _existing_result(account.id, data["id"])
    if previous is not None:
        return jsonify(previous)
    app = _content(account.id, data)
    check_balance(account.id, data.get("recipient") or [])  # seed 000's 3003 Low Balance
    direction = data["direction"]
    caller_id = data.get("caller_id") or account.default_caller_id
    if direction in ("inbound", "2way"):
        configure_inbound(account.id, data.get("ivr_number") or caller_id, app, data.get("callback_url"))
    result = {"status": "ok"}
    request_id = new_id()
    params = {k: v for k, v in data.items() if k not in ("recipient",)}
    numbers = data.get("recipient") or []
    ref_ids = [new_ref_id() for _ in numbers]
    params.update(numbers=numbers, ref_ids=ref_ids, caller_id=caller_id, konnect_id=data["id"], **app)
    try:
        with store.session() as sess:
            sess.add(CallRequest(id=request_id, account_id=account.id, kind="konnect", parameters=params,
                                 callback_url=data.get("callback_url"), idempotency_key=data["id"],
                                 result=result, status="queued" if params["numbers"] else "completed"))
    except IntegrityError:
        # A concurrent retry of the same id won the insert: answer what it answered.
        return jsonify(_existing_result(account.id, data["id"]) or result)
    if params["numbers"]:
        from dialer import submit as dialer_submit

        try:
            dialer_submit.submit_call_request(request_id, cfg=store.cfg())
        except dialer_submit.SubmitError as exc:
            raise ApiError(str(exc), kind="conflict") from None
        if data.get("callback_url"):
            _queue_accepted(account.id, request_id, data["callback_url"], data["id"], list(zip(numbers, ref_ids)))
    return jsonify(result)


def new_ref_id() -> str:
    """A Konnect-style ref_id: ``AC`` and 32 hex characters."""
    return new_id("AC", 32)


def _queue_accepted(account_id: str, request_id: str, url: str, konnect_id: str,
                    pairs: list[tuple[str, str]]) -> None:
    """Queue the asynchronous ``accepted`` callback (status + ref_ids per number) to ``url``."""
    from dialer import callbacks

    with store.session() as sess:
        delivery_id = callbacks.queue_accepted(sess, url=url, account_id=account_id, request_id=request_id,
                                               ref_ids=pairs, konnect_id=konnect_id)
    callbacks.enqueue([delivery_id], cfg=store.cfg())


@endpoint(bp, "POST", "/{account_id}/Calls", dialect="konnect", auth=konnect_account, schema=CALLS, prepare=_lower_keys, blueprint_prefix=PREFIX,
          summary="Outbound (OBD), inbound (IVR) or 2way voice campaign")
def calls_post(_data: dict[str, Any], account_id: str):
    """Konnect Calls, JSON body."""
    return _calls(account_id, _data)


@endpoint(bp, "GET", "/{account_id}/Calls", dialect="konnect", auth=konnect_account, schema=CALLS, prepare=_lower_keys, source="query",
          blueprint_prefix=PREFIX, summary="Calls with the parameters in the query string")
def calls_get(_data: dict[str, Any], account_id: str):
    """Konnect Calls, query-string form."""
    return _calls(account_id, _data)


def _inbound(account_id: str, data: dict[str, Any]):
    account = konnect_account(account_id)
    if data.get("doc_url"):
        app = {"app_url": data["doc_url"], "fallback_url": data.get("alt_doc_url"),
               "dialect": data.get("dialect") or "auto"}
    elif data.get("media_url"):
        app = {"media_url": data["media_url"]}
    else:
        default = store.cfg().default_app_url
        app = {"app_url": default or f"{store.cfg().base_url}/apps/unconfigured", "dialect": "kookoo"}
    ref_id = configure_inbound(account.id, data["phone_number"], app, data.get("callback_url"))
    return jsonify({"status": "accepted", "ref_id": ref_id})


@endpoint(bp, "POST", "/{account_id}/InboundPhoneNumbers", dialect="konnect", auth=konnect_account, schema=INBOUND, prepare=_lower_keys,
          blueprint_prefix=PREFIX, summary="Configure a number whose inbound calls run an IVR app")
def inbound_post(_data: dict[str, Any], account_id: str):
    """Create (or re-point) an inbound phone number."""
    return _inbound(account_id, _data)


@endpoint(bp, "GET", "/{account_id}/InboundPhoneNumbers", dialect="konnect", auth=konnect_account, schema=INBOUND, prepare=_lower_keys, source="query",
          blueprint_prefix=PREFIX, summary="InboundPhoneNumbers with the parameters in the query string")
def inbound_get(_data: dict[str, Any], account_id: str):
    """Query-string form of the create call."""
    return _inbound(account_id, _data)


def _inbound_delete(account_id: str, inbound_phone_number: str):
    from dialer import inbound_numbers

    account = konnect_account(account_id)
    from api.schemas import parse_phone

    try:
        e164 = parse_phone(inbound_phone_number.strip(), account.default_region or store.cfg().default_region)
    except ValueError as exc:
        raise ApiError(f"inbound_phone_number: {exc}", field="inbound_phone_number") from None
    with store.session() as sess:
        row = sess.get(InboundNumber, e164)
        ref_id = row.ref_id if row is not None and row.account_id == account.id else None
    if ref_id is None or not inbound_numbers.remove_inbound_number(account.id, e164, cfg=store.cfg()):
        raise ApiError(f"inbound phone number {e164} not found", kind="not_found", field="inbound_phone_number")
    return jsonify({"status": "accepted", "ref_id": ref_id})


@endpoint(bp, "DELETE", "/{account_id}/InboundPhoneNumbers/{inbound_phone_number}", dialect="konnect", auth=konnect_account,
          blueprint_prefix=PREFIX, summary="Stop running an IVR app on an inbound number")
def inbound_delete(_data: dict[str, Any], account_id: str, inbound_phone_number: str):
    """Delete an inbound phone number."""
    return _inbound_delete(account_id, inbound_phone_number)


@endpoint(admin_bp, "DELETE", "/{account_id}/InboundPhoneNumbers/{inbound_phone_number}", dialect="konnect", auth=konnect_account,
          blueprint_prefix="/admin" + PREFIX, summary="Same, at the path of the seed's examples")
def inbound_delete_admin(_data: dict[str, Any], account_id: str, inbound_phone_number: str):
    """The seed's examples delete under /admin/api/v1/Accounts/..."""
    return _inbound_delete(account_id, inbound_phone_number)

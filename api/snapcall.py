"""SnapCall (seed 000) over Konnect's API: missed-call numbers, their webhook, verification by missed call.

Seed 000 describes SnapCall (a call to the number is disconnected before it is answered, and the Webhook
URL is notified of every one) and says its configuration API is "under implementation"; these endpoints
give it in Konnect's own shapes (``id`` transaction ids, ``{"status": "accepted", "ref_id"}`` answers,
``Authorization: api_token``):

* ``POST|GET /api/v1/Accounts/{account_id}/SnapCall`` — ``id``, ``phone_number`` (the SnapCall number),
  ``callback_url`` (the webhook), ``reject`` (``busy``: the caller hears busy, SIP 486; ``rejected``:
  SIP 603), ``mode`` (``reject``: at once; ``ring``: ``ring_seconds`` of ringing first; ``prompt``:
  ``prompt_url`` or ``prompt_text`` as early media first — never answered) → ``{"status": "accepted", "ref_id"}``;
* ``DELETE /api/v1/Accounts/{account_id}/SnapCall/{phone_number}`` → the same answer;
* ``POST /api/v1/Accounts/{account_id}/SnapCall/Verifications`` — ``id``, ``phone_number`` (to verify),
  ``snapcall_number`` (optional when the account has one), ``callback_url``, ``expiry`` (seconds, default
  300) → ``{"status": "accepted", "ref_id", "snapcall_number"}``: the user proves the number by giving a
  missed call from it to ``snapcall_number``; the callback then gets ``status: verified``;
* ``GET /api/v1/Accounts/{account_id}/SnapCall/Verifications/{ref_id}`` → the verification's state
  (``pending``, ``verified`` or ``expired``).

``/apps/snapcall`` is the platform's app of a SnapCall number: KML ``<Reject>`` (``ring`` seconds first in ring
mode), or Plivo ``<PreAnswer>`` and ``<Hangup reason>`` in prompt mode, before any answer.
The webhook's fields are in ``dialer.snapcall``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from api import store
from api.auth import konnect_account
from api.endpoints import endpoint
from api.errors import ApiError
from api.konnect import lower_keys as _lower_keys
from api.schemas import Field, s
from dialer import numbers, snapcall

bp = Blueprint("snapcall", __name__)
apps_bp = Blueprint("snapcall_apps", __name__)

PREFIX = "/api/v1/Accounts"

NUMBER = s(
    "konnect_snapcall_number",
    Field("id", required=True, max_length=200, description="unique transaction id for the request"),
    Field("phone_number", "phone", required=True, description="the SnapCall (service) number"),
    Field("callback_url", "url", description="the Webhook URL notified of every missed call"),
    Field("reject", "enum", default="busy", choices=tuple(snapcall.REJECT_CAUSES),
          description="busy: the caller hears busy (USER_BUSY, SIP 486); rejected: CALL_REJECTED (SIP 603)"),
    Field("mode", "enum", default="reject", choices=snapcall.MODES,
          description="what the caller gets before the reject, never answered: reject (nothing, refused at "
                      "once), ring (ring_seconds of ringing, SIP 180), prompt (prompt_url or prompt_text played "
                      "as early media, SIP 183)"),
    Field("ring_seconds", "integer", default=snapcall.RING_SECONDS, minimum=1, maximum=snapcall.RING_MAX_SECONDS,
          description="mode ring: seconds the caller hears ringing before the reject"),
    Field("prompt_url", "url", description="mode prompt: the audio played before the reject"),
    Field("prompt_text", max_length=snapcall.PROMPT_TEXT_MAX,
          description="mode prompt: text spoken (TTS) before the reject, instead of prompt_url"),
    example={"id": "A10579090909093", "phone_number": "919886000085", "callback_url": "http://myapp.com/missed",
             "mode": "ring", "ring_seconds": 5},
)

VERIFY = s(
    "konnect_snapcall_verification",
    Field("id", required=True, max_length=200),
    Field("phone_number", "phone", required=True, description="the number to verify"),
    Field("snapcall_number", "phone", description="where the missed call must go (default: the account's one)"),
    Field("callback_url", "url", description="notified when the number is verified"),
    Field("expiry", "integer", default=snapcall.VERIFY_EXPIRY, minimum=1, maximum=snapcall.VERIFY_MAX_EXPIRY,
          description="seconds the verification waits for the missed call"),
    example={"id": "A10579090909094", "phone_number": "919886038842", "callback_url": "http://myapp.com/verified"},
)


_MODE_FIELDS = ("reject", "mode", "ring_seconds", "prompt_url", "prompt_text")


def _configure(account_id: str, data: dict[str, Any]):
    account = konnect_account(account_id)
    mode = snapcall.Mode(mode=data.get("mode") or "reject", reject=data.get("reject") or "busy",
                         ring_seconds=int(data.get("ring_seconds") or snapcall.RING_SECONDS),
                         prompt_url=data.get("prompt_url") or None, prompt_text=data.get("prompt_text") or None)
    try:
        row = snapcall.configure(store.cfg(), account_id=account.id, number=data["phone_number"],
                                 callback_url=data.get("callback_url"), konnect_id=data["id"], mode=mode)
    except snapcall.SnapCallError as exc:
        kind = "conflict" if "another account" in str(exc) else "invalid"
        field = str(exc).split(" ", 1)[0].rstrip(":")
        raise ApiError(str(exc), kind=kind, field=field if field in _MODE_FIELDS else "phone_number") from None
    return jsonify({"status": "accepted", "ref_id": row.ref_id})


@endpoint(bp, "POST", "/{account_id}/SnapCall", dialect="konnect", auth=konnect_account, schema=NUMBER,
          prepare=_lower_keys, blueprint_prefix=PREFIX, summary="Configure a SnapCall (missed-call) number")
def snapcall_post(_data: dict[str, Any], account_id: str):
    """Create or re-point a SnapCall number."""
    return _configure(account_id, _data)


@endpoint(bp, "GET", "/{account_id}/SnapCall", dialect="konnect", auth=konnect_account, schema=NUMBER,
          prepare=_lower_keys, source="query", blueprint_prefix=PREFIX,
          summary="SnapCall with the parameters in the query string")
def snapcall_get(_data: dict[str, Any], account_id: str):
    """Query-string form of the create call."""
    return _configure(account_id, _data)


@endpoint(bp, "DELETE", "/{account_id}/SnapCall/{phone_number}", dialect="konnect", auth=konnect_account,
          blueprint_prefix=PREFIX, summary="Stop SnapCall on a number")
def snapcall_delete(_data: dict[str, Any], account_id: str, phone_number: str):
    """Delete a SnapCall number (its inbound calls are no longer answered by anything)."""
    account = konnect_account(account_id)
    try:
        row = snapcall.remove(store.cfg(), account.id, phone_number.strip())
    except snapcall.SnapCallError as exc:
        raise ApiError(f"phone_number: {exc}", field="phone_number") from None
    if row is None:
        raise ApiError(f"SnapCall number {phone_number} not found", kind="not_found", field="phone_number")
    return jsonify({"status": "accepted", "ref_id": row.ref_id})


@endpoint(bp, "POST", "/{account_id}/SnapCall/Verifications", dialect="konnect", auth=konnect_account,
          schema=VERIFY, prepare=_lower_keys, blueprint_prefix=PREFIX,
          summary="Verify a phone number by a missed call from it")
def verification_post(_data: dict[str, Any], account_id: str):
    """Start a missed-call verification."""
    account = konnect_account(account_id)
    try:
        row = snapcall.verify(store.cfg(), account_id=account.id, phone_number=_data["phone_number"],
                              snapcall_number=_data.get("snapcall_number"), callback_url=_data.get("callback_url"),
                              expiry=_data.get("expiry") or snapcall.VERIFY_EXPIRY, konnect_id=_data["id"])
    except snapcall.SnapCallError as exc:
        raise ApiError(str(exc), field="snapcall_number" if "snapcall" in str(exc).lower() else "phone_number") \
            from None
    return jsonify({"status": "accepted", "ref_id": row.ref_id,
                    "snapcall_number": numbers.seed_style(row.snapcall_number)})


@endpoint(bp, "GET", "/{account_id}/SnapCall/Verifications/{ref_id}", dialect="konnect", auth=konnect_account,
          blueprint_prefix=PREFIX, summary="A missed-call verification's state")
def verification_get(_data: dict[str, Any], account_id: str, ref_id: str):
    """pending, verified or expired."""
    account = konnect_account(account_id)
    row = snapcall.verification(store.cfg(), account.id, ref_id[:40])
    if row is None:
        raise ApiError(f"verification {ref_id} not found", kind="not_found", field="ref_id")
    return jsonify(snapcall.verification_payload(row))


@apps_bp.route("/apps/snapcall", methods=["GET", "POST"])
def reject_app():
    """A SnapCall number's app: refuse the call before answering it (the caller is charged nothing), after a
    ring or an early-media prompt when its mode says so (``dialer.snapcall.app_url`` puts the mode in the
    query). A query that does not make a valid mode gets the plain reject."""
    q = request.args
    reason = q.get("reject", "busy")
    try:
        mode = snapcall.check_mode(snapcall.Mode(
            mode=q.get("mode", "reject"), reject=reason if reason in snapcall.REJECT_CAUSES else "busy",
            ring_seconds=int(q.get("ring", snapcall.RING_SECONDS)),
            prompt_url=q.get("play") or None, prompt_text=q.get("speak") or None))
    except (ValueError, snapcall.SnapCallError):
        mode = snapcall.Mode(reject=reason if reason in snapcall.REJECT_CAUSES else "busy")
    return Response(snapcall.app_document(mode), mimetype="application/xml")

"""The parameters of each request to a customer's app, per dialect and call event.

KooKoo apps (seed 003) get, on every event, ``event`` and ``sid`` plus ``cid``,
``called_number``, ``data``, ``duration``, ``status``, ``message``,
``outbound_sid``, ``process``, ``circle`` and ``operator`` — empty when the event
has no value for them, so an app can read any of them on any request.

KML apps (Konnect ``doc_url``, seed 000) get ``call_id``, ``campaign_id``,
``phone_number``, ``key_pressed`` and ``call_status`` (``continue`` while the
call is up, ``end`` after a hangup, ``error`` when the platform failed), and on
an ``action`` request what the verb produced (:data:`kml.KML_EVENT_PARAMS`).

TwiML and Plivo XML apps get the parameters those platforms send, built by
:mod:`ivr.params_twiml` and :mod:`ivr.params_plivo`.

A call whose dialect is not known yet (:data:`AUTO`: nobody said, and no
document has been parsed) sends both sets at once: their names do not collide,
so a KooKoo app finds ``event=NewCall`` and a KML app ``call_status=continue``
in the same request (docs/ivr.md, "Which parameters an app receives").
"""

from __future__ import annotations

from dataclasses import dataclass

import kml
from ivr import params_plivo, params_twiml
from ivr.call_spec import DIALECT_AUTO as AUTO

KOOKOO_PARAMS = ("event", "sid", "cid", "called_number", "data", "duration", "status", "message",
                 "outbound_sid", "process", "circle", "operator")


@dataclass
class CallIdentity:
    """What identifies a call to the app: the same on every request of the call."""

    sid: str
    cid: str = ""            # the remote party: the contact on an outbound call, the caller on an inbound one
    called_number: str = ""  # the DID: our caller id on outbound, the dialled number on inbound
    outbound_sid: str = ""   # the request id of an outbound call (empty on inbound)
    campaign_id: str = ""
    circle: str = ""
    operator: str = ""
    account_id: str = ""     # TwiML AccountSid
    direction: str = ""      # inbound | outbound (TwiML/Plivo Direction, From/To order)


def request_params(dialect: str, ident: CallIdentity, event: str | None, result: dict[str, str] | None = None,
                   call_status: str = "continue") -> dict[str, str]:
    """The query (or form) parameters of one request for ``event`` with the instruction's ``result``.

    ``dialect`` is ``kookoo``, ``kml`` or :data:`AUTO` (KooKoo's parameters followed by KML's).
    """
    result = result or {}
    if dialect == kml.TWIML:
        return params_twiml.request_params(ident, event, result)
    if dialect == kml.PLIVO:
        return params_plivo.request_params(ident, event, result)
    if dialect == kml.KML:
        return _kml_params(ident, event, result, call_status)
    params = _kookoo_params(ident, event, result)
    if dialect == AUTO:
        params.update(_kml_params(ident, event, result, call_status))
    return params


def final_params(dialect: str, ident: CallIdentity, *, ended_by_platform: bool, final_status: str,
                 process: str = "", data: str = "") -> dict[str, str]:
    """The parameters of the last request, sent after the call ended.

    KooKoo: ``Disconnect`` when the platform hung up, ``Hangup`` when the caller
    did, with the last event-producing step as ``process`` and its ``data``.
    KML: ``call_status`` = ``final_status`` (``end`` or ``error``). :data:`AUTO`: both.
    """
    kookoo_event = kml.EVENT_DISCONNECT if ended_by_platform else kml.EVENT_HANGUP
    if dialect == kml.KML:
        return _kml_params(ident, None, {}, final_status)
    params = _kookoo_params(ident, kookoo_event, {"process": process, "data": data})
    if dialect == AUTO:
        params.update(_kml_params(ident, None, {}, final_status))
    return params


def _kml_params(ident: CallIdentity, event: str | None, result: dict, call_status: str) -> dict[str, str]:
    params = {
        "call_id": ident.sid,
        "campaign_id": ident.campaign_id,
        "phone_number": ident.cid,
        "key_pressed": result.get("key_pressed", ""),
        "call_status": call_status,
    }
    for name in kml.KML_EVENT_PARAMS.get(event, ()):
        params[name] = result.get(name, "")
    return params


def _kookoo_params(ident: CallIdentity, event: str | None, result: dict) -> dict[str, str]:
    params = {name: "" for name in KOOKOO_PARAMS}
    params.update(event=event or "", sid=ident.sid, cid=ident.cid,
                  called_number=ident.called_number, outbound_sid=ident.outbound_sid,
                  circle=ident.circle, operator=ident.operator)
    for name in ("data", "duration", "status", "message", "process"):
        if result.get(name) is not None:
            params[name] = str(result[name])
    return params

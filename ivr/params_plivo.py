"""The parameters Plivo sends a Plivo XML app, built from what the runtime's instructions produced.

Names and values are Plivo's, so a Plivo app server runs unchanged: on every
request ``CallUUID``, ``From``, ``To``, ``CallStatus`` (``ringing`` on an
inbound call's first request, ``in-progress`` after), ``Direction``
(``inbound`` / ``outbound``) and ``Event`` (``StartApp`` on the first
request, ``Redirect`` after); and what the finished element adds:

* ``GetDigits``: ``Digits``;
* ``GetInput``: ``InputType`` (speech or dtmf), ``Speech`` and
  ``SpeechConfidenceScore`` from the Recognize result's
  ``speech_result``/``confidence``, or ``Digits``;
* ``Record``: ``RecordUrl``, ``RecordingDuration``, ``RecordingDurationMs``,
  ``RecordingID``;
* ``Dial``: ``DialStatus`` (completed, busy, no-answer, failed, canceled),
  ``DialALegUUID``, ``DialBLegUUID``, ``DialHangupCause``;
* ``Conference``: ``ConferenceName``, ``ConferenceDuration``.

After the call Plivo notifies its hangup URL, which defaults to the answer URL:
the final request carries ``CallStatus=completed``, ``Event=Hangup``,
``HangupCause``, ``Duration`` and ``BillDuration``.
"""

from __future__ import annotations

import kml
from ivr.params_twiml import dial_status, parties, recording_sid


def request_params(ident, event: str | None, result: dict) -> dict[str, str]:
    """The form parameters of one request to a Plivo app for ``event`` with the instruction's ``result``."""
    src, dst, inbound = parties(ident)
    first = event == kml.EVENT_NEW_CALL
    params = {"CallUUID": ident.sid, "From": src, "To": dst,
              "CallStatus": "ringing" if inbound and first else "in-progress",
              "Direction": "inbound" if inbound else "outbound", "Event": "StartApp" if first else "Redirect"}
    if event == kml.EVENT_GOT_DTMF:
        params["Digits"] = result.get("digits", result.get("data", ""))
    elif event == kml.EVENT_RECOGNIZE:
        if result.get("digits"):
            params.update(InputType="dtmf", Digits=result["digits"])
        else:
            params.update(InputType="speech", Speech=result.get("speech_result", ""),
                          SpeechConfidenceScore=str(result.get("confidence") or 0))
    elif event == kml.EVENT_RECORD:
        rec = result.get("recording") or {}
        params.update(RecordUrl=result.get("media_url", ""), RecordingDuration=result.get("record_duration", "0"),
                      RecordingDurationMs=str(rec.get("duration_ms", 0)), RecordingID=recording_sid(rec))
    elif event == kml.EVENT_DIAL:
        params.update(DialStatus=dial_status(result), DialALegUUID=ident.sid, DialBLegUUID=result.get("dial_uuid", ""),
                      DialHangupCause=result.get("dial_cause", ""))
    elif event == kml.EVENT_CONFERENCE:
        params.update(ConferenceName=result.get("data", ""), ConferenceDuration=result.get("duration", "0"))
    return params


def recording_callback_params(ident, result: dict) -> dict[str, str]:
    """``Record callbackUrl``'s parameters once the recording's file is complete."""
    rec = result.get("recording") or {}
    return {"CallUUID": ident.sid, "RecordUrl": result.get("media_url", ""),
            "RecordingDuration": result.get("record_duration", "0"),
            "RecordingDurationMs": str(rec.get("duration_ms", 0)), "RecordingID": recording_sid(rec)}


def final_params(ident, hangup_cause: str, duration: int, billsec: int) -> dict[str, str]:
    """The hangup request's parameters."""
    src, dst, inbound = parties(ident)
    return {"CallUUID": ident.sid, "From": src, "To": dst, "CallStatus": "completed",
            "Direction": "inbound" if inbound else "outbound", "Event": "Hangup", "HangupCause": hangup_cause,
            "Duration": str(duration), "BillDuration": str(billsec)}

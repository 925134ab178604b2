"""The parameters Twilio sends a TwiML app, built from what the runtime's instructions produced.

Names and values are Twilio's (its "TwiML voice request" reference), so a
Twilio app server runs unchanged: on every request ``CallSid``,
``AccountSid``, ``From``, ``To``, ``Caller``, ``Called``, ``CallStatus``
(``ringing`` on an inbound call's first request, ``in-progress`` after),
``Direction`` (``inbound`` / ``outbound-api``) and ``ApiVersion``; and what the
finished verb adds:

* ``Gather`` (digits): ``Digits`` (and ``FinishedOnKey`` when a key ended it);
* ``Gather input="speech"``: ``SpeechResult`` and ``Confidence`` from the
  Recognize result's ``speech_result``/``confidence`` (``Digits`` when the
  caller pressed keys instead);
* ``Record``: ``RecordingUrl``, ``RecordingDuration``, ``RecordingSid`` and
  ``Digits`` (the key that ended it, ``hangup`` when the caller hung up, else empty);
* ``Dial``: ``DialCallStatus`` (completed, busy, no-answer, failed, canceled),
  ``DialCallSid``, ``DialCallDuration`` and, when recorded, ``RecordingUrl``;
* ``Enqueue``: ``QueueResult``, ``QueueSid``, ``QueueTime``.

Twilio calls the voice URL only while the call runs (the end goes to a
status callback), so a TwiML app gets no final request (docs/twiml.md).
"""

from __future__ import annotations

import kml

API_VERSION = "2010-04-01"
#: FreeSWITCH hangup causes of a dial that was not answered → Twilio's DialCallStatus.
DIAL_STATUS = {"USER_BUSY": "busy", "BUSY": "busy", "NO_ANSWER": "no-answer", "NOANSWER": "no-answer",
               "NO_USER_RESPONSE": "no-answer", "RECOVERY_ON_TIMER_EXPIRE": "no-answer",
               "ALLOTTED_TIMEOUT": "no-answer", "ORIGINATOR_CANCEL": "canceled", "LOSE_RACE": "canceled"}


def parties(ident) -> tuple[str, str, bool]:
    """(From, To, inbound) as both platforms put them: the caller first, whoever placed the call."""
    inbound = ident.direction == "inbound"
    if inbound:
        return ident.cid, ident.called_number, True
    return ident.called_number, ident.cid, False


def dial_status(result: dict, answered_word: str = "completed") -> str:
    """Twilio's word for how a dial ended (Plivo shares them)."""
    if result.get("dial_status") == "answered":
        return answered_word
    return DIAL_STATUS.get((result.get("dial_cause") or "").upper(), "failed")


def request_params(ident, event: str | None, result: dict) -> dict[str, str]:
    """The form parameters of one request to a TwiML app for ``event`` with the instruction's ``result``."""
    src, dst, inbound = parties(ident)
    params = {"CallSid": ident.sid, "AccountSid": ident.account_id, "From": src, "To": dst, "Caller": src,
              "Called": dst, "CallStatus": "ringing" if inbound and event == kml.EVENT_NEW_CALL else "in-progress",
              "Direction": "inbound" if inbound else "outbound-api", "ApiVersion": API_VERSION}
    if event == kml.EVENT_GOT_DTMF:
        params["Digits"] = result.get("digits", result.get("data", ""))
        if result.get("terminator"):
            params["FinishedOnKey"] = result["terminator"]
    elif event == kml.EVENT_RECOGNIZE:
        if result.get("digits"):
            params["Digits"] = result["digits"]
        else:
            params["SpeechResult"] = result.get("speech_result", "")
            params["Confidence"] = _confidence(result.get("confidence"))
    elif event == kml.EVENT_RECORD:
        rec = result.get("recording") or {}
        params.update(RecordingUrl=result.get("media_url", ""), RecordingDuration=result.get("record_duration", "0"),
                      RecordingSid=recording_sid(rec),
                      Digits=result.get("terminator") or ("hangup" if result.get("hung_up") else ""))
    elif event == kml.EVENT_DIAL:
        params.update(DialCallStatus=dial_status(result), DialCallSid=result.get("dial_uuid", ""),
                      DialCallDuration=result.get("dial_duration", "0"))
        if result.get("media_url"):
            params["RecordingUrl"] = result["media_url"]
    elif event == kml.EVENT_ENQUEUE:
        params.update(QueueResult=result.get("queue_result", ""), QueueSid=result.get("queue", ""),
                      QueueTime=result.get("queue_time", "0"))
    return params


def recording_status_params(ident, result: dict) -> dict[str, str]:
    """``recordingStatusCallback``'s parameters once the recording's file is complete."""
    rec = result.get("recording") or {}
    return {"AccountSid": ident.account_id, "CallSid": ident.sid, "RecordingSid": recording_sid(rec),
            "RecordingUrl": result.get("media_url", ""), "RecordingStatus": "completed",
            "RecordingDuration": result.get("record_duration", "0"), "RecordingChannels": "1",
            "RecordingSource": "RecordVerb"}


def recording_sid(rec: dict) -> str:
    """A recording's id: its file name without the extension (unique per call and recording)."""
    name = rec.get("name") or ""
    return name.rsplit(".", 1)[0]


def _confidence(value) -> str:
    try:
        return f"{float(value):.6f}".rstrip("0").rstrip(".") if value not in (None, "") else "0"
    except (TypeError, ValueError):
        return "0"

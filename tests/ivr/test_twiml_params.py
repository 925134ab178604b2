"""The request parameters of TwiML and Plivo apps, from what the runtime's instructions produce.

These builders are pure functions of the call's identity and an instruction's
result dict (the same dicts the executor returns; the speech runtime's
Recognize result is ``speech_result``/``confidence``/``digits``, per
kml.model.Recognize), so they are checked directly here; the end-to-end tests
in test_twiml_runtime.py check the same names over HTTP.
"""

from __future__ import annotations

import kml
from ivr.params import CallIdentity, request_params

OUT = CallIdentity(sid="u-1", cid="919900000001", called_number="918000000000", account_id="7",
                   direction="outbound")
IN = CallIdentity(sid="u-2", cid="919812345678", called_number="+918000000021", direction="inbound")


def test_twiml_base_parameters_follow_the_direction():
    p = request_params(kml.TWIML, OUT, kml.EVENT_NEW_CALL)
    assert p == {"CallSid": "u-1", "AccountSid": "7", "From": "918000000000", "To": "919900000001",
                 "Caller": "918000000000", "Called": "919900000001", "CallStatus": "in-progress",
                 "Direction": "outbound-api", "ApiVersion": "2010-04-01"}
    p = request_params(kml.TWIML, IN, kml.EVENT_NEW_CALL)
    assert (p["From"], p["To"], p["CallStatus"], p["Direction"]) == \
        ("919812345678", "+918000000021", "ringing", "inbound")
    assert request_params(kml.TWIML, IN, kml.EVENT_GOT_DTMF, {"digits": "4"})["CallStatus"] == "in-progress"


def test_twiml_speech_digits_recording_dial_queue():
    speech = request_params(kml.TWIML, OUT, kml.EVENT_RECOGNIZE,
                            {"speech_result": "talk to sales", "confidence": 0.8125, "digits": ""})
    assert speech["SpeechResult"] == "talk to sales" and speech["Confidence"] == "0.8125"
    assert "Digits" not in speech
    keys = request_params(kml.TWIML, OUT, kml.EVENT_RECOGNIZE, {"speech_result": "", "confidence": 0.0,
                                                                 "digits": "12"})
    assert keys["Digits"] == "12" and "SpeechResult" not in keys
    none = request_params(kml.TWIML, OUT, kml.EVENT_RECOGNIZE, {"speech_result": "", "confidence": 0.0})
    assert none["SpeechResult"] == "" and none["Confidence"] == "0"
    gather = request_params(kml.TWIML, OUT, kml.EVENT_GOT_DTMF, {"digits": "42", "terminator": "#"})
    assert gather["Digits"] == "42" and gather["FinishedOnKey"] == "#"
    rec = request_params(kml.TWIML, OUT, kml.EVENT_RECORD, {
        "media_url": "http://api/recordings/u-1-rec1.wav", "record_duration": "7", "terminator": "",
        "hung_up": True, "recording": {"name": "u-1-rec1.wav", "duration_ms": 7000}})
    assert (rec["RecordingUrl"], rec["RecordingDuration"], rec["RecordingSid"], rec["Digits"]) == \
        ("http://api/recordings/u-1-rec1.wav", "7", "u-1-rec1", "hangup")
    for cause, status in (("USER_BUSY", "busy"), ("NO_ANSWER", "no-answer"), ("ORIGINATOR_CANCEL", "canceled"),
                          ("UNALLOCATED_NUMBER", "failed")):
        dial = request_params(kml.TWIML, OUT, kml.EVENT_DIAL, {"dial_status": "not_answered", "dial_cause": cause,
                                                               "dial_duration": "0"})
        assert dial["DialCallStatus"] == status and "RecordingUrl" not in dial
    dial = request_params(kml.TWIML, OUT, kml.EVENT_DIAL, {"dial_status": "answered", "dial_duration": "12",
                                                           "dial_uuid": "b-1", "media_url": "http://api/r.wav"})
    assert (dial["DialCallStatus"], dial["DialCallSid"], dial["DialCallDuration"], dial["RecordingUrl"]) == \
        ("completed", "b-1", "12", "http://api/r.wav")
    queue = request_params(kml.TWIML, OUT, kml.EVENT_ENQUEUE, {"queue": "support", "queue_result": "bridged",
                                                               "queue_time": "31"})
    assert (queue["QueueResult"], queue["QueueSid"], queue["QueueTime"]) == ("bridged", "support", "31")


def test_plivo_parameters():
    p = request_params(kml.PLIVO, IN, kml.EVENT_NEW_CALL)
    assert p == {"CallUUID": "u-2", "From": "919812345678", "To": "+918000000021", "CallStatus": "ringing",
                 "Direction": "inbound", "Event": "StartApp"}
    speech = request_params(kml.PLIVO, OUT, kml.EVENT_RECOGNIZE, {"speech_result": "yes", "confidence": 0.9})
    assert (speech["InputType"], speech["Speech"], speech["SpeechConfidenceScore"], speech["Event"]) == \
        ("speech", "yes", "0.9", "Redirect")
    keys = request_params(kml.PLIVO, OUT, kml.EVENT_RECOGNIZE, {"digits": "3"})
    assert (keys["InputType"], keys["Digits"]) == ("dtmf", "3")
    dial = request_params(kml.PLIVO, OUT, kml.EVENT_DIAL, {"dial_status": "not_answered", "dial_cause": "USER_BUSY"})
    assert (dial["DialStatus"], dial["DialALegUUID"], dial["DialHangupCause"]) == ("busy", "u-1", "USER_BUSY")
    assert request_params(kml.PLIVO, OUT, kml.EVENT_CONFERENCE, {"data": "room1", "duration": "40"})[
        "ConferenceName"] == "room1"

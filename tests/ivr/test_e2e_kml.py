"""KML (Konnect doc_url) apps end to end: Konnect's parameters, action URLs, call_status."""

from __future__ import annotations

import pytest

from ivr.call_spec import CallSpec
from tests.ivr.harness import Rig


@pytest.fixture
def rig(tmp_path, redis_url, key_prefix):
    r = Rig(tmp_path, redis_url, key_prefix)
    yield r
    r.stop()


def test_kml_gather_record_dial_with_actions(rig):
    app = rig.app
    app.route("/doc", lambda p: ('<Response><Gather action="/menu" numDigits="1" timeout="5">'
                                 '<Say voice="Matthew">Press 2 to leave a message</Say></Gather>'
                                 '<Say>No input</Say></Response>'))
    app.route("/menu", lambda p: ('<Response><Record action="/recorded" maxLength="20" timeout="3"/></Response>'
                                  if p["key_pressed"] == "2" else "<Response><Hangup/></Response>"))
    app.route("/recorded", lambda p: ('<Response><Dial action="/dialed" timeout="20">'
                                      '<Number>919900000222</Number></Dial></Response>'))
    app.route("/dialed", lambda p: "<Response><Say>Goodbye</Say><Hangup/></Response>")
    uuid = rig.call(CallSpec(call_type="konnect", campaign_id="CMP7", app_url=app.url("/doc"), dialect="kml"),
                    number="919900000005", dtmf="2@1", talk=2)
    call = rig.wait(uuid)
    first = app.requests_to("/doc")[0]["params"]
    assert first == {"call_id": uuid, "campaign_id": "CMP7", "phone_number": "919900000005", "key_pressed": "",
                     "call_status": "continue"}
    menu = app.requests_to("/menu")[0]["params"]
    assert menu["key_pressed"] == "2" and menu["call_status"] == "continue"
    rec = app.requests_to("/recorded")[0]["params"]
    assert rec["media_url"].startswith("http://api.example/recordings/") and int(rec["record_duration"]) >= 1
    dialed = app.requests_to("/dialed")
    assert dialed[0]["params"]["dial_status"] == "answered" and int(dialed[0]["params"]["dial_duration"]) >= 4
    # The last request tells the app the call ended.
    assert dialed[-1]["params"]["call_status"] == "end"
    assert call.facts.dtmf_inputs == ["2"] and len(call.facts.recordings) == 1
    assert call.facts.final_status == "end"


def test_kml_gather_without_input_carries_on(rig):
    app = rig.app
    app.route("/doc", lambda p: ('<Response><Gather action="/menu" numDigits="1" timeout="1">'
                                 '<Say>Press a key</Say></Gather><Say>No input, goodbye</Say></Response>'))
    uuid = rig.call(CallSpec(call_type="konnect", app_url=app.url("/doc"), dialect="kml"))
    call = rig.wait(uuid)
    assert app.requests_to("/menu") == []
    assert ("heard", "speech (Joanna): No input, goodbye") in [(k, t) for u, k, t in rig.transcript if u == uuid]
    assert app.requests_to("/doc")[-1]["params"]["call_status"] == "end"
    assert call.facts.dtmf_inputs == []


def test_kml_error_status_when_app_fails(rig):
    app = rig.app
    app.route("/doc", lambda p: (500, "down") if p["call_status"] == "continue" else "")
    uuid = rig.call(CallSpec(call_type="konnect", app_url=app.url("/doc"), dialect="kml"))
    call = rig.wait(uuid)
    statuses = [r["params"]["call_status"] for r in app.requests_to("/doc")]
    assert statuses == ["continue", "error"]
    assert call.facts.final_status == "error"

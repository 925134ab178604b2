"""KooKoo apps end to end: simulator ↔ runtime ↔ a real HTTP app server."""

from __future__ import annotations

import pytest

from ivr.call_spec import CallSpec
from tests.ivr.harness import Rig


@pytest.fixture
def rig(tmp_path, redis_url, key_prefix):
    r = Rig(tmp_path, redis_url, key_prefix)
    yield r
    r.stop()


def test_menu_with_digits_then_gotourl_chain(rig):
    app = rig.app

    def ivr(p):
        if p["event"] == "NewCall":
            return ("<response><collectdtmf l=\"1\" t=\"#\" o=\"4000\"><playtext>Press 1 for sales</playtext>"
                    "</collectdtmf><gotourl>" + app.url("/menu") + "</gotourl></response>")
        return "<response><playtext>unexpected</playtext></response>"

    def menu(p):
        assert p["event"] == "GotDTMF"
        return "<response><gotourl>" + app.url("/step2") + "</gotourl></response>"

    app.route("/ivr", ivr)
    app.route("/menu", menu)
    app.route("/step2", lambda p: "<response><playtext>Thank you</playtext><hangup/></response>")
    uuid = rig.call(CallSpec(call_type="campaign", request_id="REQ-1", app_url=app.url("/ivr"), caller_id="918000000000"),
                    dtmf="1@1")
    call = rig.wait(uuid)
    first = app.requests_to("/ivr")[0]["params"]
    assert first["event"] == "NewCall" and first["sid"] == uuid and first["outbound_sid"] == "REQ-1"
    assert first["cid"] == "919900000001" and first["called_number"] == "918000000000"
    got = app.requests_to("/menu")[0]["params"]
    assert got["event"] == "GotDTMF" and got["data"] == "1" and got["sid"] == uuid
    step2 = app.requests_to("/step2")
    assert step2[0]["params"]["event"] == ""  # a plain gotourl reports no new event
    assert step2[-1]["params"]["event"] == "Disconnect"
    assert call.facts.dtmf_inputs == ["1"]
    assert call.facts.app_errors == [] and call.facts.final_status == "end"

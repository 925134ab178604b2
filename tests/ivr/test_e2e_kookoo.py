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


def test_record_then_dial_answered_and_busy(rig, tmp_path):
    app = rig.app
    steps = []

    def ivr(p):
        steps.append(p)
        if p["event"] == "NewCall":
            return '<response><record format="wav" silence="3" maxduration="30">msg</record></response>'
        if p["event"] == "Record":
            return ('<response><dial record="true" timeout="20000" limittime="100">919900000222</dial></response>')
        if p["event"] == "Dial" and p["status"] == "answered":
            return '<response><dial timeout="20000">919900000486</dial></response>'
        return "<response><hangup/></response>"

    app.route("/ivr", ivr)
    uuid = rig.call(CallSpec(call_type="campaign", app_url=app.url("/ivr")), talk=2)
    call = rig.wait(uuid)
    rec = steps[1]
    assert rec["event"] == "Record"
    assert rec["data"] == f"http://api.example/recordings/{uuid}-msg.wav"
    assert int(rec["duration"]) >= 1
    assert (tmp_path / "recordings" / f"{uuid}-msg.wav").exists()
    dial = steps[2]
    assert dial["event"] == "Dial" and dial["status"] == "answered"
    assert int(dial["duration"]) >= 4  # ...222 hangs up 5 simulated seconds after answering
    assert dial["data"].startswith("http://api.example/recordings/")
    busy = steps[3]
    assert busy["event"] == "Dial" and busy["status"] == "not_answered" and busy["message"] == "busy"
    assert [d["status"] for d in call.facts.dial_results] == ["answered", "not_answered"]
    assert call.facts.recordings[0]["url"] == rec["data"]
    assert steps[-1]["event"] == "Disconnect"


def test_caller_hangs_up_mid_prompt(rig):
    app = rig.app
    long_text = "This is a very long announcement that keeps going. " * 20
    app.route("/ivr", lambda p: (f"<response><collectdtmf l=\"1\" o=\"3000\"><playtext>{long_text}</playtext>"
                                 "</collectdtmf></response>") if p["event"] == "NewCall" else "<response/>")
    uuid = rig.call(CallSpec(call_type="campaign", app_url=app.url("/ivr")), hangup_after=2)
    call = rig.wait(uuid)
    events = [r["params"]["event"] for r in app.requests_to("/ivr")]
    assert events == ["NewCall", "Hangup"]
    last = app.requests_to("/ivr")[-1]["params"]
    assert last["process"] == "GotDTMF"
    assert call.facts.hangup_cause == "NORMAL_CLEARING" and not call.ended_by_platform
    assert call.facts.app_errors == []


def test_caller_hangs_up_while_app_is_thinking(rig):
    app = rig.app
    app.route("/ivr", lambda p: (200, "<response><playtext>never heard</playtext></response>", 1.5)
              if p["event"] == "NewCall" else "<response/>")
    uuid = rig.call(CallSpec(call_type="campaign", app_url=app.url("/ivr")), hangup_after=2)
    call = rig.wait(uuid)
    assert not any(kind == "instruction" for u, kind, _ in rig.transcript if u == uuid)
    events = [r["params"]["event"] for r in app.requests_to("/ivr")]
    assert events == ["NewCall", "Hangup"]
    assert call.facts.app_errors == [] and call.facts.final_status == "end"


@pytest.mark.parametrize("failure", ["500", "timeout", "malformed", "unreachable"])
def test_failing_app_falls_back_then_apologises(rig, failure):
    from tests.conftest import free_port

    app = rig.app
    app.route("/500", lambda p: (500, "oops"))
    app.route("/slow", lambda p: (200, "<response/>", 3))
    app.route("/bad", lambda p: "<response><playtext>unclosed</response>")
    app.route("/alt", lambda p: "<response><playtext>Backup app</playtext><hangup/></response>")
    url = {"500": app.url("/500"), "timeout": app.url("/slow"), "malformed": app.url("/bad"),
           "unreachable": f"http://127.0.0.1:{free_port()}/ivr"}[failure]
    # With a working fallback the call carries on there.
    # The per-account read timeout on the spec overrides APP_READ_TIMEOUT (2 s in the rig).
    timeout = 0.5 if failure == "timeout" else None
    uuid = rig.call(CallSpec(call_type="konnect", app_url=url, fallback_url=app.url("/alt"),
                             app_read_timeout=timeout))
    call = rig.wait(uuid)
    assert len(call.facts.app_errors) == 1
    reason = {"500": "HTTP 500", "timeout": "no response within 0.5s", "malformed": "malformed document",
              "unreachable": "cannot connect"}[failure]
    assert reason in call.facts.app_errors[0] and url.split("?")[0] in call.facts.app_errors[0]
    assert call.facts.final_status == "end"
    assert ("heard", "speech (Joanna): Backup app") in [(k, t) for u, k, t in rig.transcript if u == uuid]
    # Without one: an apology and a clean hangup, recorded as an error.
    uuid2 = rig.call(CallSpec(call_type="konnect", app_url=url, app_read_timeout=timeout))
    call2 = rig.wait(uuid2)
    assert call2.facts.final_status == "error" and reason in call2.facts.app_errors[0]
    assert call2.facts.hangup_cause == "NORMAL_CLEARING" and call2.ended_by_platform
    heard = [t for u, k, t in rig.transcript if u == uuid2 and k == "heard"]
    assert any("sorry" in t for t in heard)


def test_post_method_sends_a_form(rig):
    app = rig.app
    app.route("/ivr", lambda p: "<response><playtext>hi</playtext></response>")
    uuid = rig.call(CallSpec(call_type="campaign", app_url=app.url("/ivr"), method="POST"))
    rig.wait(uuid)
    reqs = app.requests_to("/ivr")
    assert [r["method"] for r in reqs] == ["POST", "POST"]
    assert reqs[0]["params"]["event"] == "NewCall" and reqs[1]["params"]["event"] == "Disconnect"


def test_caller_hangs_up_during_a_dial(rig):
    app = rig.app
    app.route("/ivr", lambda p: ('<response><dial timeout="20000">919900000005</dial>'
                                 '<playtext>after the dial</playtext></response>')
              if p["event"] == "NewCall" else "<response/>")
    uuid = rig.call(CallSpec(call_type="campaign", app_url=app.url("/ivr")), hangup_after=12)
    call = rig.wait(uuid)
    events = [r["params"] for r in app.requests_to("/ivr")]
    assert [e["event"] for e in events] == ["NewCall", "Hangup"]
    assert events[-1]["process"] == "Dial"
    assert call.facts.dial_results[0]["status"] == "answered"
    assert "speech (Joanna): after the dial" not in [t for u, k, t in rig.transcript if u == uuid]
    assert not call.ended_by_platform


def test_say_as_conference_and_max_duration(rig):
    app = rig.app
    app.route("/ivr", lambda p: ('<response><say-as format="501">1234</say-as>'
                                 '<conference>sales room</conference></response>')
              if p["event"] == "NewCall" else "<response/>")
    # The spec's max_duration ends a call whose app would run for ever (here: an empty conference).
    uuid = rig.call(CallSpec(call_type="campaign", app_url=app.url("/ivr"), max_duration=5))
    call = rig.wait(uuid)
    heard = [t for u, k, t in rig.transcript if u == uuid and k == "heard"]
    assert heard[:2] == ["say-as 501: 1234", "conference room sales_room"]
    assert call.facts.hangup_cause == "ALLOTTED_TIMEOUT"
    assert [r["params"]["event"] for r in app.requests_to("/ivr")][-1] == "Hangup"


def test_app_values_cannot_inject_into_freeswitch_arguments(rig, tmp_path, monkeypatch):
    from freeswitch.outbound import OutboundSession

    sent = []
    real = OutboundSession.execute_async

    def spy(self, app_name, arg=None):
        sent.append((app_name, arg))
        return real(self, app_name, arg)

    monkeypatch.setattr(OutboundSession, "execute_async", spy)
    app = rig.app
    evil = "Hi ${system(rm -rf /)} {origination_uuid=x}|flite|kal\\nContent-Length: 5"
    app.route("/ivr", lambda p: (f'<response><playtext>{evil}</playtext>'
                                 '<record format="wav" maxduration="2">../../etc/passwd</record></response>')
              if p["event"] == "NewCall" else "<response><hangup/></response>")
    uuid = rig.call(CallSpec(call_type="campaign", app_url=app.url("/ivr")))
    call = rig.wait(uuid)
    [speak] = [arg for name, arg in sent if name == "speak"]
    assert speak.count("|") == 2 and speak.startswith("flite|slt|Hi ")
    assert "${" not in speak and "{" not in speak and "\n" not in speak
    rec = call.facts.recordings[0]
    assert rec["name"] == f"{uuid}-______etc_passwd.wav"
    assert (tmp_path / "recordings" / rec["name"]).exists()
    assert call.facts.app_errors == [] and call.facts.final_status == "end"


def test_gotourl_loop_is_stopped(rig):
    app = rig.app
    app.route("/loop", lambda p: f"<response><gotourl>{app.url('/loop')}</gotourl></response>")
    uuid = rig.call(CallSpec(call_type="campaign", app_url=app.url("/loop")))
    call = rig.wait(uuid)
    assert call.facts.final_status == "error" and "gotourl loop" in call.facts.app_errors[0]
    assert len(app.requests_to("/loop")) == 12  # NewCall + 10 redirects, then the Disconnect event


def test_static_socket_misconfiguration_is_reported_in_words(rig):
    """`&socket(host:port async full)` unquoted runs static; the call must end with a reason an operator can act on."""
    rig.app.route("/ivr", lambda p: "<response><playtext>Hello</playtext><hangup/></response>")
    spec = CallSpec(call_type="campaign", app_url=rig.app.url("/ivr"), caller_id="918000000000")
    uuid = rig.esl.api("create_uuid").strip()
    reply = rig.esl.api(f"originate {{origination_uuid={uuid},vaani_call={spec.encode()}}}"
                        f"sofia/gateway/vaani_trunk/919900000001 &socket({rig.ivr.address} async full)")
    assert reply.startswith("+OK"), reply
    call = rig.wait(uuid)
    assert call.facts.final_status == "error"
    assert any("refused linger" in e and "async full" in e for e in call.facts.app_errors), call.facts.app_errors

"""TwiML and Plivo XML apps, written with Twilio's and Plivo's own libraries, run unchanged end to end.

The app is a real HTTP server answering with documents built by
``twilio.twiml.voice_response`` / ``plivo.plivoxml``; calls run through the
FreeSWITCH simulator and the IVR runtime. What is checked is what those
platforms' app servers rely on: the parameter names and values of every
request (POST, as Twilio and Plivo send them), and what the caller heard.
"""

from __future__ import annotations

import json

import pytest
import redis
from plivo import plivoxml as px
from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.call_spec import CallSpec
from ivr.inbound import table_key
from tests.ivr.harness import Rig

TWILIO_BASE = {"CallSid", "AccountSid", "From", "To", "Caller", "Called", "CallStatus", "Direction", "ApiVersion"}


@pytest.fixture
def rig(tmp_path, redis_url, key_prefix):
    r = Rig(tmp_path, redis_url, key_prefix)
    yield r
    speech = getattr(r.runtime.exec_config, "speech", None)
    if speech is not None:
        speech.close()  # the recogniser's worker processes
    r.stop()


def say(text: str) -> str:
    r = VoiceResponse()
    r.say(text)
    return str(r)


def heard(rig, uuid) -> list[str]:
    return [t for u, k, t in rig.transcript if u == uuid and k == "heard"]


def test_twilio_app_gather_record_dial(rig, tmp_path):
    app = rig.app

    def voice(p):
        r = VoiceResponse()
        g = Gather(num_digits=1, action="/menu", timeout=5)
        g.say("Press 2 to leave a message", voice="Polly.Matthew")
        r.append(g)
        r.say("We did not get your choice")
        return str(r)

    def menu(p):
        r = VoiceResponse()
        if p["Digits"] == "2":
            r.record(action="/recorded", max_length=20, timeout=3, trim="do-not-trim",
                     recording_status_callback="/rec-status")
        else:
            r.hangup()
        return str(r)

    def recorded(p):
        r = VoiceResponse()
        r.dial(action="/dialed", record="record-from-answer-dual", timeout=20).number("+919900000222")
        return str(r)

    def dialed(p):
        r = VoiceResponse()
        r.say("Goodbye")
        r.hangup()
        return str(r)

    for path, handler in (("/voice", voice), ("/menu", menu), ("/recorded", recorded), ("/dialed", dialed),
                          ("/rec-status", lambda p: "")):
        app.route(path, handler)
    uuid = rig.call(CallSpec(call_type="konnect", account_id="AC42", campaign_id="CMP7", caller_id="918000000000",
                             app_url=app.url("/voice"), dialect="twiml"), number="919900000005", dtmf="2@1", talk=2)
    call = rig.wait(uuid)
    [first] = app.requests_to("/voice")  # Twilio never calls the voice URL again at the end
    assert first["method"] == "POST"
    assert first["params"] == {"CallSid": uuid, "AccountSid": "AC42", "From": "918000000000", "To": "919900000005",
                               "Caller": "918000000000", "Called": "919900000005", "CallStatus": "in-progress",
                               "Direction": "outbound-api", "ApiVersion": "2010-04-01"}
    [menu_req] = app.requests_to("/menu")
    assert menu_req["method"] == "POST" and menu_req["params"]["Digits"] == "2"
    assert TWILIO_BASE <= set(menu_req["params"])
    [rec] = [r["params"] for r in app.requests_to("/recorded")]
    assert rec["RecordingUrl"].startswith("http://api.example/recordings/") and int(rec["RecordingDuration"]) >= 1
    assert rec["RecordingSid"] and rec["RecordingUrl"].endswith(rec["RecordingSid"] + ".wav")
    assert rec["Digits"] == "hangup" or rec["Digits"] in "1234567890*#"
    [status] = [r for r in app.requests_to("/rec-status")]
    assert status["method"] == "POST" and status["params"]["RecordingStatus"] == "completed"
    assert status["params"]["RecordingUrl"] == rec["RecordingUrl"] and status["params"]["CallSid"] == uuid
    [dial] = [r["params"] for r in app.requests_to("/dialed")]
    assert dial["DialCallStatus"] == "completed" and int(dial["DialCallDuration"]) >= 1
    assert dial["DialCallSid"] and dial["DialCallSid"] != uuid  # the called leg's own uuid
    assert dial["RecordingUrl"].startswith("http://api.example/recordings/")
    # record-from-answer: the called leg recorded the bridged call from its answer on.
    assert (tmp_path / "recordings" / dial["RecordingUrl"].rsplit("/", 1)[1]).exists()
    said = heard(rig, uuid)
    assert "speech (Matthew): Press 2 to leave a message" in said
    assert said[-2:] == ["speech (Joanna): Goodbye", "the platform hangs up"]
    assert any(line.startswith("dialling 919900000222") or line.startswith("dialling +919900000222")
               for line in said)
    assert call.facts.dtmf_inputs == ["2"] and call.facts.app_errors == []


def test_twilio_gather_without_input_falls_through_and_busy_dial(rig):
    app = rig.app

    def voice(p):
        r = VoiceResponse()
        r.gather(num_digits=1, action="/menu", timeout=1).say("Press a key")
        r.dial(action="/dialed", timeout=5).number("+919900000486")  # the simulator's busy number
        return str(r)

    app.route("/voice", voice)
    app.route("/dialed", lambda p: say(f"Dial was {p['DialCallStatus']}"))
    uuid = rig.call(CallSpec(call_type="konnect", app_url=app.url("/voice"), dialect="twiml"),
                    number="919900000006")
    call = rig.wait(uuid)
    assert app.requests_to("/menu") == []
    [dial] = [r["params"] for r in app.requests_to("/dialed")]
    assert dial["DialCallStatus"] == "busy" and dial["DialCallDuration"] == "0"
    assert "speech (Joanna): Dial was busy" in heard(rig, uuid)
    assert call.facts.app_errors == []


def test_a_twiml_document_tells_an_auto_call_its_dialect(rig):
    app = rig.app

    def voice(p):
        r = VoiceResponse()
        r.gather(input="dtmf", num_digits=2, action="/pin").say("Enter two digits")
        return str(r)

    app.route("/voice", voice)
    app.route("/pin", lambda p: say(f"You entered {p['Digits']}"))
    uuid = rig.call(CallSpec(call_type="konnect", app_url=app.url("/voice"), dialect="auto"), number="919900000008",
                    dtmf="42@1")
    call = rig.wait(uuid)
    [pin] = app.requests_to("/pin")
    assert pin["method"] == "POST" and pin["params"]["Digits"] == "42" and pin["params"]["CallSid"] == uuid
    assert "call_id" not in pin["params"] and "event" not in pin["params"]
    assert "speech (Joanna): You entered 42" in heard(rig, uuid)
    assert call.facts.app_errors == []


def test_sms_goes_through_the_sms_path_and_what_cannot_be_honoured_is_refused(rig, key_prefix, redis_url):
    from rq import Queue

    app = rig.app

    def voice(p):
        r = VoiceResponse()
        r.sms("Thanks for calling", to="+919900000009")
        r.redirect("/stream")
        return str(r)

    def stream(p):
        r = VoiceResponse()
        r.connect().stream(url="wss://media.example/live")
        return str(r)

    app.route("/voice", voice)
    app.route("/stream", stream)
    uuid = rig.call(CallSpec(call_type="konnect", account_id="AC42", app_url=app.url("/voice"), dialect="twiml"))
    call = rig.wait(uuid)
    assert "SMS to +919900000009 queued: Thanks for calling" in heard(rig, uuid)
    [job] = Queue(f"{key_prefix}-sms", connection=redis.Redis.from_url(redis_url)).jobs
    [message] = job.args
    assert (message["account_id"], message["to"], message["text"]) == ("AC42", "+919900000009", "Thanks for calling")
    # <Connect><Stream> needs Twilio's cloud: the document is refused with the reason, and the call apologises.
    assert any("TwiML `Connect` is not supported: media streams" in e for e in call.facts.app_errors)
    assert heard(rig, uuid)[-1].startswith("speech: We are sorry")
    assert call.facts.final_status == "error"


def test_plivo_app_inbound_getdigits_record_and_hangup_url(rig, key_prefix, redis_url):
    app = rig.app

    def answer(p):
        r = px.ResponseElement()
        if p.get("Event") == "Hangup":
            return ""
        pre = px.PreAnswerElement()
        pre.add_speak("Please hold")
        r.add(pre)
        gd = px.GetDigitsElement(action=app.url("/digits"), num_digits=1, timeout=5)
        gd.add_speak("Press 1 to record", voice="MAN")
        r.add(gd)
        r.add_speak("No key pressed")
        return r.to_string()

    def digits(p):
        r = px.ResponseElement()
        r.add_record(action=app.url("/recorded"), max_length=10, timeout=3, file_format="wav")
        return r.to_string()

    def recorded(p):
        r = px.ResponseElement()
        r.add_speak("Thank you")
        r.add_hangup()
        return r.to_string()

    for path, handler in (("/answer", answer), ("/digits", digits), ("/recorded", recorded)):
        app.route(path, handler)
    redis.Redis.from_url(redis_url).hset(table_key(key_prefix), "+918000000021", json.dumps(
        {"account_id": "7", "app_url": app.url("/answer"), "dialect": "plivo"}))
    uuid = rig.inbound("919812345678", "+918000000021", dtmf="1@2", talk=2)
    call = rig.wait(uuid)
    first, final = app.requests_to("/answer")
    assert first["method"] == "POST" and first["params"] == {
        "CallUUID": uuid, "From": "919812345678", "To": "+918000000021", "CallStatus": "ringing",
        "Direction": "inbound", "Event": "StartApp"}
    [dig] = app.requests_to("/digits")
    assert dig["method"] == "POST" and dig["params"]["Digits"] == "1" and dig["params"]["CallStatus"] == "in-progress"
    [rec] = [r["params"] for r in app.requests_to("/recorded")]
    assert rec["RecordUrl"].startswith("http://api.example/recordings/") and rec["RecordUrl"].endswith(".wav")
    assert int(rec["RecordingDuration"]) >= 1 and rec["RecordingID"]
    # Plivo's hangup URL defaults to the answer URL.
    assert final["method"] == "POST"
    assert {k: final["params"][k] for k in ("CallUUID", "CallStatus", "Event")} == {
        "CallUUID": uuid, "CallStatus": "completed", "Event": "Hangup"}
    assert final["params"]["HangupCause"] == "NORMAL_CLEARING" and int(final["params"]["BillDuration"]) >= 1
    said = heard(rig, uuid)
    # PreAnswer's prompt plays as early media before the answer; Plivo's default voice is WOMAN.
    assert said[:4] == ["early media (pre-answer)", "speech (female): Please hold", "speech (male): Press 1 to record",
                        "caller pressed '1'"]
    assert "speech (female): Thank you" in said
    assert call.facts.dtmf_inputs == ["1"] and call.facts.app_errors == []


@pytest.mark.skipif(__import__("freeswitch.sim.speech", fromlist=["synthesiser"]).synthesiser() is None,
                    reason="no speech synthesiser: apt-get install flite (or espeak-ng)")
def test_speech_results_reach_twilio_and_plivo_apps_under_their_names(rig):
    """The caller speaks (flite audio from the simulator's far end); the runtime recognises it and a Twilio app
    gets SpeechResult/Confidence, a Plivo app Speech/SpeechConfidenceScore/InputType."""
    from freeswitch.sim.scenario import Scenario

    rig.sim.switch.scenario = Scenario.from_data({"rules": [
        {"match": "919900000131", "speech": ["say:support"]}, {"match": "919900000132", "speech": ["say:sales"]}]})
    app = rig.app

    def voice(p):
        r = VoiceResponse()
        r.gather(input="speech", hints="sales, support", speech_timeout="1", timeout=5,
                 action="/said").say("Say sales or support")
        return str(r)

    def answer(p):
        if p.get("Event") == "Hangup":
            return ""
        r = px.ResponseElement()
        gi = px.GetInputElement(action=app.url("/plivo-said"), input_type="speech", hints="sales,support",
                                speech_end_timeout=1, execution_timeout=5)
        gi.add_speak("Say sales or support")
        r.add(gi)
        return r.to_string()

    app.route("/voice", voice)
    app.route("/said", lambda p: say(f"You said {p['SpeechResult']}"))
    app.route("/answer", answer)
    app.route("/plivo-said", lambda p: px.ResponseElement().add_speak(f"You said {p['Speech']}").to_string())
    uuid = rig.call(CallSpec(call_type="konnect", app_url=app.url("/voice"), dialect="twiml"), number="919900000131")
    rig.wait(uuid, timeout=30)
    [said] = app.requests_to("/said")
    assert said["method"] == "POST" and said["params"]["SpeechResult"] == "support"
    assert 0.0 < float(said["params"]["Confidence"]) <= 1.0 and said["params"]["CallSid"] == uuid
    assert "speech (Joanna): You said support" in heard(rig, uuid)
    uuid = rig.call(CallSpec(call_type="konnect", app_url=app.url("/answer"), dialect="plivo"), number="919900000132")
    rig.wait(uuid, timeout=30)
    [said] = app.requests_to("/plivo-said")
    assert (said["params"]["InputType"], said["params"]["Speech"]) == ("speech", "sales")
    assert 0.0 < float(said["params"]["SpeechConfidenceScore"]) <= 1.0
    assert "speech (female): You said sales" in heard(rig, uuid)


def test_enqueue_on_a_switch_without_mod_fifo_is_refused_and_the_call_carries_on(rig):
    """A FreeSWITCH without mod_fifo (the simulator after ``unload mod_fifo``) has no fifo application: executing
    one would hang the caller up, so the runtime asks module_exists first and refuses Enqueue / Dial Queue with
    the reason."""
    app = rig.app
    assert rig.esl.api("unload mod_fifo").startswith("+OK")
    assert rig.esl.api("module_exists mod_fifo") == "false"

    def voice(p):
        r = VoiceResponse()
        r.enqueue("support", action="/left")
        r.dial().queue("support")
        r.say("The queue is not available")
        return str(r)

    app.route("/voice", voice)
    uuid = rig.call(CallSpec(call_type="konnect", app_url=app.url("/voice"), dialect="twiml"))
    call = rig.wait(uuid)
    assert [e.split(":")[0] for e in call.facts.app_errors] == ["<Enqueue>", "<Dial><Queue>"]
    assert all("mod_fifo" in e for e in call.facts.app_errors)
    assert heard(rig, uuid)[-1] == "speech (Joanna): The queue is not available"
    assert app.requests_to("/left") == []

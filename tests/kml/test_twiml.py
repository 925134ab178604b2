"""TwiML as Twilio's own Python library writes it: detected, parsed into the model, refusals explained."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

import kml


def parse(resp: VoiceResponse, **kw) -> kml.App:
    return kml.parse(str(resp), **kw)


def errors(xml: str) -> list[str]:
    with pytest.raises(kml.KmlError) as info:
        kml.parse(xml, "twiml")
    return [e.message for e in info.value.errors]


def test_the_three_documents_issue_14_saw_refused_are_twiml_now():
    r = VoiceResponse()
    d = r.dial(record="record-from-answer", caller_id="+918000000000", hangup_on_star=True, time_limit=30,
               action="/dialed")
    d.number("+919900000001")
    app = parse(r)
    assert app.dialect == "twiml"
    dial = app.instructions[0]
    assert (dial.numbers, dial.record, dial.record_from, dial.record_dual, dial.hangup_on_star) == \
        (("+919900000001",), True, "answer", False, True)
    assert (dial.time_limit_ms, dial.caller_id, dial.action, dial.method, dial.ring_all) == \
        (30000, "+918000000000", "/dialed", "POST", True)

    r = VoiceResponse()
    g = r.gather(input="speech dtmf", action="/heard", hints="sales, support", speech_timeout="auto", num_digits=1,
                 language="en-IN", partial_result_callback="/partial")
    g.say("Say sales or support, or press 1", voice="Polly.Aditi", language="en-IN")
    rec = parse(r).instructions[0]
    assert isinstance(rec, kml.Recognize)
    assert (rec.hints, rec.dtmf, rec.max_digits, rec.finish_on_key, rec.lang) == \
        (("sales", "support"), True, 1, "#", "en-IN")
    assert (rec.action, rec.method, rec.action_on_empty, rec.partial_callback, rec.silence_ms, rec.timeout_ms) == \
        ("/heard", "POST", False, "/partial", 1500, 5000)
    assert rec.prompts == (kml.Speak("Say sales or support, or press 1", "en-IN", "Aditi"),)

    r = VoiceResponse()
    r.enqueue("support", wait_url="http://apps.example/hold.mp3", action="/left")
    assert parse(r).instructions == (kml.Enqueue("support", "http://apps.example/hold.mp3", "/left", "POST"),)


def test_kml_validate_accepts_them(tmp_path):
    r = VoiceResponse()
    r.gather(input="speech dtmf", action="/g").say("Hello")
    r.dial(record="record-from-answer").number("+919900000001")
    r.enqueue("support")
    app = tmp_path / "twilio.xml"
    app.write_text(str(r))
    res = subprocess.run([sys.executable, "-m", "kml.cli", "validate", str(app)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout
    out = json.loads(res.stdout)
    assert out["dialect"] == "twiml"
    assert [i["type"] for i in out["instructions"]] == ["recognize", "dial", "enqueue"]


def test_every_verb_with_twilio_defaults():
    r = VoiceResponse()
    r.say("Hi", voice="man", language="hi-IN", loop=2)
    r.play("http://a.example/x.wav", loop=3)
    r.play(digits="ww12#")
    r.pause(length=2)
    g = Gather(num_digits=4, finish_on_key="*", timeout=3, action="/pin", method="GET")
    g.play("http://a.example/pin.wav")
    r.append(g)
    r.record(max_length=20, finish_on_key="#", play_beep=False, trim="do-not-trim", transcribe=True,
             transcribe_callback="/t", recording_status_callback="/rs", action="/rec")
    r.sms("Thanks", to="+919900000001")
    r.redirect("/next")
    app = parse(r)
    say, play, digits, pause, gather, record, sms, redirect = app.instructions
    assert say == kml.Speak("Hi", "hi-IN", "male", loop=2)
    assert play == kml.Play("http://a.example/x.wav", 3) and digits == kml.SendDigits("ww12#")
    assert pause == kml.Pause(2000)
    assert gather == kml.CollectDigits((kml.Play("http://a.example/pin.wav"),), 4, "*", 3000, "/pin", "GET", False)
    assert (record.max_duration_ms, record.finish_on_key, record.play_beep, record.method) == (20000, "#", False, "POST")
    assert (record.transcribe, record.transcribe_callback, record.status_callback) == (True, "/t", "/rs")
    assert sms == kml.SendSms("Thanks", "+919900000001")
    assert redirect == kml.GoTo("/next", "POST")
    # Twilio's defaults where the attributes are left out.
    app = kml.parse("<Response><Record/><Gather/><Hangup/></Response>", "twiml")
    record, gather, _ = app.instructions
    assert (record.max_duration_ms, record.silence_ms, record.finish_on_key, record.play_beep, record.method) == \
        (3600_000, 5000, "1234567890*#", True, "POST")
    assert (gather.max_digits, gather.finish_on_key, gather.timeout_ms, gather.method, gather.action_on_empty) == \
        (128, "#", 5000, "POST", False)


def test_dial_nouns_queue_conference_reject():
    r = VoiceResponse()
    d = Dial(timeout=10)
    d.number("+919900000001", send_digits="ww1")
    d.sip("sip:desk@pbx.example")
    d.client("alice")
    r.append(d)
    dial = parse(r).instructions[0]
    assert (dial.numbers, dial.sip, dial.clients, dial.send_digits, dial.timeout_ms) == \
        (("+919900000001",), ("sip:desk@pbx.example",), ("alice",), "ww1", 10000)
    r = VoiceResponse()
    r.dial(action="/after").queue("support")
    assert parse(r).instructions == (kml.DialQueue("support", "/after", "POST"),)
    r = VoiceResponse()
    r.dial().conference("room7", muted=True, end_conference_on_exit=True, record="record-from-start")
    conf = parse(r).instructions[0]
    assert (conf.room, conf.muted, conf.end_on_exit, conf.record) == ("room7", True, True, True)
    r = VoiceResponse()
    r.reject(reason="busy")
    assert parse(r).instructions == (kml.Reject("busy"),)


def test_what_cannot_be_honoured_is_refused_with_the_reason():
    assert errors("<Response><Connect><Stream url='wss://x'/></Connect></Response>") == [
        "TwiML `Connect` is not supported: media streams and virtual agents need Twilio's cloud"]
    assert "`Leave` only runs in an `Enqueue` waitUrl document" in errors("<Response><Leave/></Response>")[0]
    assert errors('<Response><Record trim="trim-silence"/></Response>')[0].startswith(
        "`Record` attribute `trim=\"trim-silence\"` is not supported")
    assert "a TwiML wait document is not supported" in errors(
        '<Response><Enqueue waitUrl="/wait">q</Enqueue></Response>')[0]
    assert errors('<Response><Dial><Number url="/whisper">+919900000001</Number></Dial></Response>')[0].startswith(
        "`Number` attribute `url` is not supported")
    assert errors('<Response><Gather input="voice"/></Response>')[0].startswith("`Gather` attribute `input` must be")
    assert errors("<Response><Say>Hi <break time='1s'/></Say></Response>")[0].startswith(
        "`Say` may not contain `break`: SSML")
    assert errors('<Response><Dial record="sometimes">1</Dial></Response>')[0].startswith(
        "`Dial` attribute `record` must be one of")
    assert errors('<Response><Say voise="alice">x</Say></Response>') == [
        "TwiML `Say` has no attribute `voise` (it takes voice, language, loop)"]


def test_detection_keeps_kml_documents_kml():
    assert kml.parse("<Response><Say>Hi</Say><Gather action='/x'/></Response>").dialect == "kml"
    assert kml.parse("<Response><Dial record='true'>919900000001</Dial></Response>").dialect == "kml"
    assert kml.parse("<Response><Dial><Sip>sip:a@b</Sip></Dial></Response>").dialect == "twiml"
    assert kml.parse("<Response><Record transcribe='true'/></Response>").dialect == "twiml"
    # Chosen by configuration, a plain document reads with Twilio's defaults (POST).
    assert kml.parse("<Response><Redirect>/x</Redirect></Response>", "twiml").instructions[0].method == "POST"

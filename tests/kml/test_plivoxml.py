"""Plivo XML as Plivo's own Python library (plivo.plivoxml) writes it: detected, parsed, refusals explained."""

from __future__ import annotations

import pytest
from plivo import plivoxml as px

import kml


def errors(xml: str) -> list[str]:
    with pytest.raises(kml.KmlError) as info:
        kml.parse(xml, "plivo")
    return [e.message for e in info.value.errors]


def test_every_element_from_plivos_library():
    r = px.ResponseElement()
    pre = px.PreAnswerElement()
    pre.add_speak("Connecting you")
    r.add(pre)
    r.add_speak("Welcome", voice="MAN", language="en-GB", loop=2)
    r.add_play("http://a.example/hello.mp3", loop=1)
    r.add_wait(length=2)
    gd = px.GetDigitsElement(action="http://apps.example/pin", num_digits=4, retries=2, valid_digits="123",
                             timeout=7, digit_timeout=3, play_beep=True, finish_on_key="*")
    gd.add_speak("Enter your pin")
    r.add(gd)
    gi = px.GetInputElement(action="http://apps.example/said", input_type="speech", hints="yes,no",
                            language="en-IN", execution_timeout=8, speech_end_timeout=2)
    gi.add_speak("Say yes or no")
    r.add(gi)
    r.add_record(action="http://apps.example/rec", max_length=20, file_format="wav", timeout=4,
                 callback_url="http://apps.example/rec-done", transcription_type="auto",
                 transcription_url="http://apps.example/transcript")
    dial = px.DialElement(action="http://apps.example/dialed", caller_id="+918000000000", time_limit=60,
                          hangup_on_star=True)
    dial.add(px.NumberElement("+919900000001", send_digits="ww1"))
    dial.add(px.UserElement("sip:desk@pbx.example"))
    r.add(dial)
    r.add_conference("room1", muted=True, end_conference_on_exit=True)
    r.add_dtmf("12#")
    r.add_message("Thanks", src="+918000000000", dst="+919900000001")
    r.add_redirect("http://apps.example/next")
    app = kml.parse(r.to_string())
    assert app.dialect == "plivo"
    (pre, speak, play, wait, gd, gi, rec, dial, conf, dtmf, msg, redirect) = app.instructions
    assert pre == kml.PreAnswer((kml.Speak("Connecting you", "en-US", "female"),))
    assert speak == kml.Speak("Welcome", "en-GB", "male", loop=2)
    assert play == kml.Play("http://a.example/hello.mp3") and wait == kml.Pause(2000)
    assert gd == kml.CollectDigits((kml.Speak("Enter your pin", "en-US", "female"),
                                    kml.Play("tone_stream://%(500,0,800)")), 4, "*", 7000,
                                   "http://apps.example/pin", "POST", False, 2, "123", None, 3000)
    assert isinstance(gi, kml.Recognize)
    assert (gi.hints, gi.lang, gi.timeout_ms, gi.silence_ms, gi.dtmf, gi.action, gi.method) == \
        (("yes", "no"), "en-IN", 8000, 2000, False, "http://apps.example/said", "POST")
    assert (rec.format, rec.max_duration_ms, rec.silence_ms, rec.status_callback, rec.transcribe,
            rec.transcribe_callback) == ("wav", 20000, 4000, "http://apps.example/rec-done", True,
                                         "http://apps.example/transcript")
    assert (dial.numbers, dial.sip, dial.send_digits, dial.time_limit_ms, dial.hangup_on_star, dial.ring_all) == \
        (("+919900000001",), ("sip:desk@pbx.example",), "ww1", 60000, True, True)
    assert (conf.room, conf.muted, conf.end_on_exit) == ("room1", True, True)
    assert dtmf == kml.SendDigits("12#") and msg == kml.SendSms("Thanks", "+919900000001")
    assert redirect == kml.GoTo("http://apps.example/next", "POST")


def test_plivo_defaults_and_hangup_reason():
    app = kml.parse("<Response><Record/><GetDigits/><Hangup reason='busy'/></Response>", "plivo")
    rec, gd, rej = app.instructions
    assert (rec.format, rec.max_duration_ms, rec.silence_ms, rec.finish_on_key, rec.play_beep) == \
        ("mp3", 60000, 15000, "1234567890*#", True)
    assert (gd.max_digits, gd.timeout_ms, gd.digit_timeout_ms, gd.finish_on_key, gd.method) == \
        (99, 5000, 2000, "#", "POST")
    assert rej == kml.Reject("busy")


def test_what_cannot_be_honoured_is_refused_with_the_reason():
    assert errors('<Response><GetDigits redirect="false"/></Response>')[0].startswith(
        "`GetDigits` attribute `redirect=\"false\"` is not supported")
    assert errors('<Response><Dial confirmSound="http://x/c.xml"><Number>1</Number></Dial></Response>') == [
        "`Dial` attribute `confirmSound` is not supported: call screening is not supported"]
    assert errors("<Response><GetInput inputType='speech'/></Response>") == [
        "`GetInput` needs an `action` URL (Plivo requires it)"]
    assert errors("<Response><Hangup schedule='30'/></Response>")[0].startswith(
        "`Hangup` attribute `schedule` is not supported")
    assert errors("<Response><Stream>wss://x</Stream></Response>") == [
        "Plivo `Stream` is not supported: audio streams need Plivo's cloud"]
    assert errors("<Response><PreAnswer><GetDigits/></PreAnswer></Response>")[0].startswith(
        "`GetDigits` inside `PreAnswer` is not supported")

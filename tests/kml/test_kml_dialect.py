"""KML: every verb and attribute, the aliases, the defaults, the nesting rules and every error message."""

from __future__ import annotations

import pytest

import kml
from kml import kmlxml
from tests.kml.helpers import kmlapp, messages


def only(app: kml.App):
    assert len(app.instructions) == 1, app.instructions
    return app.instructions[0]


DEFAULT_SAY = dict(lang="en-US", rate="medium", pitch="medium", volume="medium", engine="standard")


def test_say_defaults():
    assert only(kmlapp("<Say>Hello</Say>")) == kml.Speak("Hello", **DEFAULT_SAY)


def test_say_and_speak_attributes():
    for verb in ("Say", "Speak"):
        speak = only(kmlapp(f'<{verb} voice="Raveena" language="hi-IN" loop="3" rate="x-slow" pitch="x-high" '
                            f'volume="x-loud" engine="neural">नमस्ते</{verb}>'))
        assert speak == kml.Speak("नमस्ते", lang="hi-IN", voice="Raveena", rate="x-slow", pitch="x-high",
                                  volume="x-loud", engine="neural", loop=3)


@pytest.mark.parametrize("attr,allowed", [("rate", kmlxml.RATES), ("pitch", kmlxml.PITCHES),
                                          ("volume", kmlxml.VOLUMES), ("engine", kmlxml.ENGINES)])
def test_say_prosody_values_are_checked(attr, allowed):
    assert messages(f'<Response><Say {attr}="wobbly">x</Say></Response>', "kml") == [
        f'`Say` attribute `{attr}` must be one of {", ".join(allowed)}, not "wobbly"']
    for value in allowed:
        assert getattr(only(kmlapp(f'<Say {attr}="{value.upper()}">x</Say>')), attr) == value


def test_say_errors():
    assert messages("<Response><Speak/></Response>", "kml") == ["`Speak` has no text to speak"]
    assert messages('<Response><Say loop="-1">x</Say></Response>', "kml") == [
        "`Say` attribute `loop` must be at least 0, not -1"]
    assert messages("<Response><Say>x<Play>u</Play></Say></Response>", "kml") == ["`Say` may not contain `Play`"]


def test_play():
    assert only(kmlapp("<Play>https://a.in/x.wav</Play>")) == kml.Play("https://a.in/x.wav", 1)
    assert only(kmlapp('<Play loop="0">https://a.in/x.wav</Play>')).loop == 0
    assert messages("<Response><Play/></Response>", "kml") == ["`Play` needs the URL of an audio file"]


def test_pause_and_wait():
    assert only(kmlapp("<Pause/>")) == kml.Pause(1000)
    assert only(kmlapp('<Wait length="2.5"/>')) == kml.Pause(2500)
    assert messages('<Response><Pause length="long"/></Response>', "kml") == [
        '`Pause` attribute `length` must be a number of seconds, not "long"']
    assert messages('<Response><Wait length="-1"/></Response>', "kml") == [
        "`Wait` attribute `length` must be at least 0 seconds, not -1"]
    assert messages("<Response><Pause>3</Pause></Response>", "kml") == [
        "`Pause` takes no text; give the seconds in `length`"]


def test_gather_defaults():
    assert only(kmlapp("<Gather/>")) == kml.CollectDigits((), 128, "#", 5000, None, "GET", False)


def test_gather_and_getdigits_attributes_and_nesting():
    for verb in ("Gather", "GetDigits"):
        cd = only(kmlapp(f'<{verb} numDigits="4" timeout="7" finishOnKey="*" action="https://a.in/pin" '
                         f'method="POST" actionOnEmptyResult="true"><Say>PIN</Say><Speak>please</Speak>'
                         f'<Play>https://a.in/b.wav</Play><Pause length="1"/><Wait/></{verb}>'))
        assert (cd.max_digits, cd.timeout_ms, cd.finish_on_key, cd.action, cd.method, cd.action_on_empty) == (
            4, 7000, "*", "https://a.in/pin", "POST", True)
        assert [type(p) for p in cd.prompts] == [kml.Speak, kml.Speak, kml.Play, kml.Pause, kml.Pause]


@pytest.mark.parametrize("inner", ["Record", "Dial", "Hangup", "Redirect", "Gather", "Reject", "Sms", "GetDigits"])
def test_gather_may_contain_only_say_play_pause(inner):
    doc = f"<Response>\n  <Gather>\n    <{inner}/>\n  </Gather>\n</Response>"
    with pytest.raises(kml.KmlError) as info:
        kml.parse(doc, "kml")
    issue = info.value.errors[0]
    assert issue.message == f"`Gather` may not contain `{inner}` (only Say, Play and Pause)"
    assert (issue.line, issue.column) == (3, 5)


def test_gather_errors():
    assert messages('<Response><Gather numDigits="0"/></Response>', "kml") == [
        "`Gather` attribute `numDigits` must be at least 1, not 0"]
    assert messages('<Response><Gather timeout="0"/></Response>', "kml") == [
        "`Gather` attribute `timeout` must be at least 0.001 seconds, not 0"]
    assert messages('<Response><Gather finishOnKey="x"/></Response>', "kml") == [
        '`Gather` attribute `finishOnKey` must be one phone key (0-9, * or #), not "x"']
    assert messages('<Response><Gather method="PUT"/></Response>', "kml") == [
        '`Gather` attribute `method` must be one of GET, POST, not "PUT"']
    assert messages('<Response><Gather action=""/></Response>', "kml") == ["`Gather` needs an `action` URL"]
    assert messages('<Response><Gather actionOnEmptyResult="sometimes"/></Response>', "kml") == [
        '`Gather` attribute `actionOnEmptyResult` must be true or false, not "sometimes"']
    assert messages("<Response><Gather>Press 1</Gather></Response>", "kml") == [
        "`Gather` may not contain loose text; put the prompt in `Say`"]
    assert messages("<Response><Gather><Beep/></Gather></Response>", "kml") == ["`Beep` is not a KML verb"]


def test_record_defaults_and_attributes():
    assert only(kmlapp("<Record/>")) == kml.Record(None, "wav", 5000, 60000, "#", True, None, "GET")
    rec = only(kmlapp('<Record maxLength="30" timeout="2" finishOnKey="" playBeep="false" action="/done" '
                      'method="POST" fileFormat="mp3"/>'))
    assert rec == kml.Record(None, "mp3", 2000, 30000, "", False, "/done", "POST")


def test_record_errors():
    assert messages('<Response><Record maxLength="0"/></Response>', "kml") == [
        "`Record` attribute `maxLength` must be at least 0.001 seconds, not 0"]
    assert messages('<Response><Record playBeep="loud"/></Response>', "kml") == [
        '`Record` attribute `playBeep` must be true or false, not "loud"']
    assert messages('<Response><Record fileFormat="flac"/></Response>', "kml") == [
        '`Record` attribute `fileFormat` must be one of wav, mp3, not "flac"']
    assert messages("<Response><Record>name</Record></Response>", "kml") == ["`Record` takes no text"]


def test_dial_number_as_text_and_defaults():
    assert only(kmlapp("<Dial>+919812345678</Dial>")) == kml.Dial(
        ("+919812345678",), None, False, 14400_000, 30000, "ring", None, None, "GET")


def test_dial_attributes_and_nested_numbers():
    dial = only(kmlapp('<Dial callerId="0804711" timeout="20" timeLimit="600" record="true" action="/after" '
                       'method="POST"><Number>1</Number><Number>2</Number></Dial>'))
    assert dial == kml.Dial(("1", "2"), "0804711", True, 600_000, 20000, "ring", None, "/after", "POST")


def test_dial_conference():
    conf = only(kmlapp('<Dial callerId="0804711" record="true" timeLimit="3600"><Conference>room-9</Conference></Dial>'))
    assert conf == kml.Conference("room-9", "0804711", True, 3600_000)
    assert only(kmlapp("<Dial><Conference>r</Conference></Dial>")) == kml.Conference("r", None, False, -1)


def test_dial_errors():
    assert messages("<Response><Dial/></Response>", "kml") == ["`Dial` needs a number to dial"]
    assert messages("<Response><Dial>1<Number>2</Number></Dial></Response>", "kml") == [
        "`Dial` has both a number as text and nested `Number`/`Conference`; use one"]
    assert messages("<Response><Dial><Say>x</Say></Dial></Response>", "kml") == [
        "`Dial` may not contain `Say` (only Number or Conference)", "`Dial` needs a number to dial"]
    assert messages("<Response><Dial><Conference>a</Conference><Number>1</Number></Dial></Response>", "kml") == [
        "`Dial` may hold one `Conference` and nothing else"]
    assert messages('<Response><Dial timeout="5"><Conference>a</Conference></Dial></Response>', "kml") == [
        "`Dial` attribute `timeout` does not apply to a `Conference`"]
    assert messages("<Response><Dial><Conference/></Dial></Response>", "kml") == ["`Conference` needs a room name"]
    assert messages("<Response><Dial><Number>12ab</Number></Dial></Response>", "kml") == [
        '`Number` number "12ab" may contain only digits, * and # (and a leading +)']
    assert messages("<Response><Number>1</Number></Response>", "kml") == ["`Number` must be inside `Dial`"]
    assert messages("<Response><Conference>1</Conference></Response>", "kml") == [
        "`Conference` must be inside `Dial`"]
    assert messages('<Response><Dial timeLimit="x">1</Dial></Response>', "kml") == [
        '`Dial` attribute `timeLimit` must be a number of seconds, not "x"']


def test_hangup_redirect_reject_sms():
    assert only(kmlapp('<Hangup reason="done"/>')) == kml.Hangup("done")
    assert only(kmlapp("<Hangup/>")) == kml.Hangup(None)
    assert only(kmlapp('<Redirect method="POST">https://a.in/next</Redirect>')) == kml.GoTo("https://a.in/next", "POST")
    assert only(kmlapp("<Redirect>/x</Redirect>")).method == "GET"
    assert only(kmlapp("<Reject/>")) == kml.Reject("rejected")
    assert only(kmlapp('<Reject reason="busy"/>')) == kml.Reject("busy")
    assert only(kmlapp('<Sms to="+919812345678">Your OTP is 1234</Sms>')) == kml.SendSms("Your OTP is 1234",
                                                                                       "+919812345678")


def test_hangup_redirect_reject_sms_errors():
    assert messages("<Response><Hangup>x</Hangup></Response>", "kml") == ["`Hangup` takes no text"]
    assert messages("<Response><Redirect/></Response>", "kml") == ["`Redirect` needs the URL of your next document"]
    assert messages('<Response><Reject reason="nope"/></Response>', "kml") == [
        '`Reject` attribute `reason` must be one of rejected, busy, not "nope"']
    assert messages("<Response><Sms>hi</Sms></Response>", "kml") == ["`Sms` needs a `to` number"]
    assert messages('<Response><Sms to="1"/></Response>', "kml") == ["`Sms` has no message text"]


def test_root_errors():
    assert messages("<Reply><Say>x</Say></Reply>", "kml") == ["the root element must be `Response`, not `Reply`"]
    assert kml.parse(b"<response><Say>x</Say></response>", "kml").dialect == "kml"
    assert messages('<Response voice="x"/>', "kml") == ["`Response` has no attribute `voice` (it takes no attributes)"]
    assert messages("<Response>Hello</Response>", "kml") == [
        "`Response` may not contain loose text; put words to speak in `Say`"]


def test_verbs_are_case_sensitive_with_a_hint():
    assert messages("<Response><say>x</say></Response>", "kml") == [
        "`say` is not a KML verb; verbs are case-sensitive: did you mean `Say`?"]
    assert messages('<Response><Gather numdigits="1"/></Response>', "kml") == [
        "`Gather` has no attribute `numdigits`; did you mean `numDigits`?"]
    assert messages("<Response><Conference2/></Response>", "kml") == [
        "`Conference2` is not a KML verb (KML has " + ", ".join(kmlxml.TOP_VERBS) + ")"]


def test_lenient_mode_skips_unknown_verbs_attributes_and_misplaced_children():
    app = kmlapp('<Say colour="red">a</Say><Enqueue>q</Enqueue><Gather><Record/><Say>b</Say></Gather>', lenient=True)
    assert [type(i) for i in app.instructions] == [kml.Speak, kml.CollectDigits]
    assert app.instructions[1].prompts == (kml.Speak("b", **DEFAULT_SAY),)
    assert [w.message for w in app.warnings] == [
        "`Say` has no attribute `colour` (it takes voice, language, loop, rate, pitch, volume, engine); skipped",
        "`Enqueue` is not a KML verb (KML has " + ", ".join(kmlxml.TOP_VERBS) + "); skipped",
        "`Gather` may not contain `Record`; skipped",
    ]


def test_repeated_say_attribute_sets_are_each_checked():
    # Say attribute sets are memoised when valid; a bad one must still be reported every time.
    assert messages('<Response><Say rate="zippy">a</Say><Say rate="zippy">b</Say></Response>', "kml") == [
        '`Say` attribute `rate` must be one of x-slow, slow, medium, fast, x-fast, not "zippy"'] * 2
    app = kmlapp('<Say voice="Aditi" language="hi-IN">a</Say><Speak voice="Aditi" language="hi-IN">b</Speak>')
    assert [(i.text, i.voice, i.lang) for i in app.instructions] == [("a", "Aditi", "hi-IN"), ("b", "Aditi", "hi-IN")]

"""KooKoo XML: every tag and attribute, the defaults, the nesting rules and every error message."""

from __future__ import annotations

import pytest

import kml
from kml import kookoo as kk
from tests.kml.helpers import kookoo, messages


def only(app: kml.App):
    assert len(app.instructions) == 1, app.instructions
    return app.instructions[0]


# --- response --------------------------------------------------------------------


def test_response_attributes_sid_and_filler():
    app = kookoo("<hangup/>", ' sid="abc-1" filler="yes"')
    assert (app.dialect, app.sid, app.filler) == ("kookoo", "abc-1", True)
    assert kookoo("<hangup/>", ' filler="no"').filler is False
    assert kookoo("<hangup/>").sid is None and kookoo("<hangup/>").filler is False


def test_empty_response_is_an_app_without_instructions():
    for doc in (b"<response/>", b"<response></response>", b"<Response>\n  <!-- nothing -->\n</Response>"):
        app = kml.parse(doc, "kookoo")
        assert app.dialect == "kookoo" and app.instructions == ()
        assert app.end_request() == kml.END


def test_filler_must_be_yes_or_no():
    assert messages(b'<response filler="maybe"/>', "kookoo") == [
        '`response` attribute `filler` must be true or false, not "maybe"']


def test_loose_text_in_response_is_an_error():
    assert messages(b"<response>hello</response>", "kookoo") == [
        "`response` may not contain loose text; put words to speak in `playtext`"]


def test_root_must_be_response():
    assert messages(b"<reply/>", "kookoo") == ["the root element must be `response`, not `reply`"]


# --- playtext / say-as / playaudio ---------------------------------------------------


def test_playtext_defaults_from_kookoo_libraries():
    speak = only(kookoo("<playtext>Hello World</playtext>"))
    assert speak == kml.Speak("Hello World", lang="EN", speed=2, quality="best")
    assert speak.line == 1


def test_playtext_attributes():
    speak = only(kookoo('<playtext lang="HI" speed="9" quality="normal" type="ggl">नमस्ते</playtext>'))
    assert (speak.text, speak.lang, speak.speed, speak.quality, speak.tts_type) == ("नमस्ते", "HI", 9, "normal", "ggl")


@pytest.mark.parametrize("speed", ["0", "10", "fast", ""])
def test_playtext_speed_must_be_1_to_9(speed):
    assert messages(f'<response><playtext speed="{speed}">x</playtext></response>', "kookoo") == [
        f'`playtext` attribute `speed` must be a number from 1 to 9, not "{speed}"']


def test_playtext_needs_text():
    assert messages("<response><playtext>  </playtext></response>", "kookoo") == ["`playtext` has no text to speak"]


def test_playtext_takes_no_child_tags():
    assert messages("<response><playtext>a<playaudio>u</playaudio></playtext></response>", "kookoo") == [
        "`playtext` may not contain `playaudio`"]


def test_say_as_defaults_and_attributes():
    assert only(kookoo("<say-as>1234</say-as>")) == kml.Speak("1234", lang="EN", say_as="501")
    speak = only(kookoo('<Say-As format="202" lang="HI">20110721</Say-As>'))
    assert (speak.say_as, speak.lang, speak.text) == ("202", "HI", "20110721")


def test_say_as_errors():
    assert messages('<response><say-as format="date">1</say-as></response>', "kookoo") == [
        '`say-as` attribute `format` must be a format code such as 501 (digits), not "date"']
    assert messages("<response><say-as/></response>", "kookoo") == ["`say-as` has no value to say"]


def test_playaudio():
    assert only(kookoo("<playaudio> http://x.in/a.wav </playaudio>")) == kml.Play("http://x.in/a.wav")


def test_playaudio_errors():
    assert messages("<response><playaudio/></response>", "kookoo") == ["`playaudio` needs the URL of an audio file"]
    assert messages("<response><playaudio>http://x/a b.wav</playaudio></response>", "kookoo") == [
        '`playaudio` URL may not contain spaces: "http://x/a b.wav"']


# --- collectdtmf -------------------------------------------------------------------


def test_collectdtmf_defaults():
    cd = only(kookoo("<collectdtmf><playtext>pin</playtext></collectdtmf>"))
    assert cd == kml.CollectDigits((kml.Speak("pin", lang="EN", speed=2, quality="best"),),
                                   max_digits=kk.COLLECT_MAX_DIGITS, finish_on_key="#", timeout_ms=4000,
                                   action=None, method="GET", action_on_empty=True)


def test_collectdtmf_attributes_and_nested_prompts():
    cd = only(kookoo('<collectdtmf l="4" t="*" o="5000"><playtext>a</playtext><playaudio>http://u/b.wav</playaudio>'
                     '<say-as format="501">12</say-as></collectdtmf>'))
    assert (cd.max_digits, cd.finish_on_key, cd.timeout_ms) == (4, "*", 5000)
    assert [type(p) for p in cd.prompts] == [kml.Speak, kml.Play, kml.Speak]
    assert cd.prompts[2].say_as == "501"
    assert only(kookoo('<collectdtmf t=""/>')).finish_on_key == ""


@pytest.mark.parametrize("inner", ["record", "dial", "hangup", "gotourl", "collectdtmf", "conference", "sendsms",
                                   "recognize"])
def test_collectdtmf_may_contain_only_prompts(inner):
    doc = f"<response>\n<collectdtmf>\n<playtext>x</playtext>\n<{inner}>1</{inner}>\n</collectdtmf>\n</response>"
    with pytest.raises(kml.KmlError) as info:
        kml.parse(doc, "kookoo")
    (issue,) = info.value.errors
    assert issue.message == f"`collectdtmf` may not contain `{inner}` (only playtext, playaudio and say-as)"
    assert (issue.line, issue.column) == (4, 1)
    assert str(issue) == f"{issue.message} (line 4, column 1)"


def test_collectdtmf_errors():
    assert messages('<response><collectdtmf l="four"/></response>', "kookoo") == [
        '`collectdtmf` attribute `l` must be the number of digits, not "four"']
    assert messages('<response><collectdtmf l="0"/></response>', "kookoo") == [
        "`collectdtmf` attribute `l` must be at least 1, not 0"]
    assert messages('<response><collectdtmf t="##"/></response>', "kookoo") == [
        '`collectdtmf` attribute `t` must be one phone key (0-9, * or #), not "##"']
    assert messages('<response><collectdtmf o="5s"/></response>', "kookoo") == [
        '`collectdtmf` attribute `o` must be a timeout in milliseconds, not "5s"']
    assert messages("<response><collectdtmf>press 1</collectdtmf></response>", "kookoo") == [
        "`collectdtmf` may not contain loose text; put the prompt in `playtext`"]
    assert messages("<response><collectdtmf><beep/></collectdtmf></response>", "kookoo") == [
        "`beep` is not a KooKoo tag"]


# --- record ------------------------------------------------------------------------


def test_record_defaults():
    assert only(kookoo("<record>msg1</record>")) == kml.Record(
        "msg1", "wav", 4000, 60000, "#", False, None, "GET")
    assert only(kookoo("<record/>")).name is None


def test_record_attributes():
    rec = only(kookoo('<record format="mp3" silence="3" maxduration="30" termchar="*">f</record>'))
    assert (rec.format, rec.silence_ms, rec.max_duration_ms, rec.finish_on_key) == ("mp3", 3000, 30000, "*")
    # KooKoo's Java library writes the terminator as `option`.
    assert only(kookoo('<record option="5">f</record>')).finish_on_key == "5"


def test_record_errors():
    assert messages('<response><record format="ogg">f</record></response>', "kookoo") == [
        '`record` attribute `format` must be one of wav, mp3, not "ogg"']
    assert messages('<response><record silence="-1">f</record></response>', "kookoo") == [
        "`record` attribute `silence` must be at least 0, not -1"]
    assert messages('<response><record maxduration="x">f</record></response>', "kookoo") == [
        '`record` attribute `maxduration` must be a number of seconds, not "x"']
    assert messages('<response><record termchar="A">f</record></response>', "kookoo") == [
        '`record` attribute `termchar` must be one phone key (0-9, * or #), not "A"']


# --- dial / conference -------------------------------------------------------------------


def test_dial_defaults():
    assert only(kookoo("<dial>919812345678</dial>")) == kml.Dial(
        ("919812345678",), None, False, 1000_000, 30000, "default", None, None, "GET")


def test_dial_attributes():
    dial = only(kookoo('<dial record="true" limittime="600" timeout="20000" moh="ring" '
                       'promptToCalledNumber="http://x/w.wav" caller_id="0804711">+919812345678</dial>'))
    assert (dial.numbers, dial.record, dial.time_limit_ms, dial.timeout_ms, dial.moh, dial.prompt_to_called,
            dial.caller_id) == (("+919812345678",), True, 600_000, 20000, "ring", "http://x/w.wav", "0804711")
    assert only(kookoo('<dial prompttocallednumber="no">1</dial>')).prompt_to_called is None


def test_dial_errors():
    assert messages("<response><dial/></response>", "kookoo") == ["`dial` needs a phone number to dial"]
    assert messages("<response><dial>98-123</dial></response>", "kookoo") == [
        '`dial` number "98-123" may contain only digits, * and # (and a leading +)']
    assert messages('<response><dial record="y">1</dial></response>', "kookoo") == [
        '`dial` attribute `record` must be true or false, not "y"']
    assert messages('<response><dial limittime="0">1</dial></response>', "kookoo") == [
        "`dial` attribute `limittime` must be at least 1, not 0"]
    assert messages('<response><dial timeout="soon">1</dial></response>', "kookoo") == [
        '`dial` attribute `timeout` must be a timeout in milliseconds, not "soon"']


def test_conference_defaults_and_attributes():
    assert only(kookoo("<conference>4411</conference>")) == kml.Conference("4411", None, True, -1)
    conf = only(kookoo('<conference caller_id="0804711" record="false" timeout="60000" version="1">9</conference>'))
    assert (conf.room, conf.caller_id, conf.record, conf.timeout_ms) == ("9", "0804711", False, 60000)


def test_conference_errors():
    assert messages("<response><conference/></response>", "kookoo") == ["`conference` needs a room number"]
    assert messages('<response><conference timeout="-5">1</conference></response>', "kookoo") == [
        "`conference` attribute `timeout` must be at least -1, not -5"]


# --- hangup / gotourl / sendsms / recognize ------------------------------------------------


def test_hangup():
    assert only(kookoo("<hangup/>")) == kml.Hangup()
    assert messages("<response><hangup>now</hangup></response>", "kookoo") == ["`hangup` takes no text"]


def test_gotourl():
    assert only(kookoo("<gotourl>http://a.in/next?x=1&amp;y=2</gotourl>")) == kml.GoTo("http://a.in/next?x=1&y=2")
    assert messages("<response><gotourl/></response>", "kookoo") == ["`gotourl` needs the URL of your next app"]


def test_sendsms():
    assert only(kookoo('<sendsms to="919812345678" unicode="1">Your ticket is 42</sendsms>')) == kml.SendSms(
        "Your ticket is 42", "919812345678")
    assert messages('<response><sendsms to="1"/></response>', "kookoo") == ["`sendsms` has no message text"]
    assert messages("<response><sendsms>hi</sendsms></response>", "kookoo") == ["`sendsms` needs a `to` number"]
    assert messages('<response><sendsms to="abc">hi</sendsms></response>', "kookoo") == [
        '`sendsms` number "abc" may contain only digits, * and # (and a leading +)']


def test_recognize_defaults_and_attributes():
    assert only(kookoo("<recognize/>")) == kml.Recognize("ggl-stream", 10000, 3000, "en-IN", 1, None, None, ())
    rec = only(kookoo('<recognize type="ggl" timeout="8" silence="2" lang="hi-IN" length="4" grammar="digits" '
                      'success_file="http://x/w.wav"><playtext>bolo</playtext></recognize>'))
    assert (rec.recognizer, rec.timeout_ms, rec.silence_ms, rec.lang, rec.length, rec.grammar, rec.success_file) == (
        "ggl", 8000, 2000, "hi-IN", 4, "digits", "http://x/w.wav")
    assert rec.prompts == (kml.Speak("bolo", lang="EN", speed=2, quality="best"),)


def test_recognize_errors():
    assert messages('<response><recognize timeout="0"/></response>', "kookoo") == [
        "`recognize` attribute `timeout` must be at least 1, not 0"]
    assert messages('<response><recognize silence="x"/></response>', "kookoo") == [
        '`recognize` attribute `silence` must be a number of seconds, not "x"']
    assert messages('<response><recognize length="1.5"/></response>', "kookoo") == [
        '`recognize` attribute `length` must be a whole number, not "1.5"']
    assert messages("<response><recognize>say yes</recognize></response>", "kookoo") == [
        "`recognize` may not contain loose text; put the prompt in `playtext`"]
    assert messages("<response><recognize><record/></recognize></response>", "kookoo") == [
        "`recognize` may not contain `record` (only playtext, playaudio and say-as)"]


# --- names, unknowns, lenient mode --------------------------------------------------------


def test_tag_and_attribute_names_are_case_insensitive():
    app = kml.parse(b'<RESPONSE SID="7"><PlayText LANG="HI" Speed="3">a</PlayText>'
                    b'<CollectDTMF L="2"><PLAYAUDIO>http://u/a.wav</PLAYAUDIO></CollectDTMF></RESPONSE>')
    assert app.dialect == "kookoo" and app.sid == "7"
    assert app.instructions[0] == kml.Speak("a", lang="HI", speed=3, quality="best")
    assert app.instructions[1].max_digits == 2


def test_unknown_tag_is_an_error_and_lenient_mode_skips_it():
    assert messages("<response><playtext>a</playtext><beep/></response>", "kookoo") == [
        "`beep` is not a KooKoo tag (KooKoo has " + ", ".join(kk.TOP_TAGS) + ")"]
    app = kml.parse(b"<response><playtext>a</playtext>\n<beep/></response>", "kookoo", lenient=True)
    assert [type(i) for i in app.instructions] == [kml.Speak]
    (warning,) = app.warnings
    assert warning.line == 2 and warning.message.startswith("`beep` is not a KooKoo tag") \
        and warning.message.endswith("; skipped")


def test_unknown_attribute_is_an_error_and_lenient_mode_skips_it():
    assert messages('<response><playaudio loop="2">http://u/a.wav</playaudio></response>', "kookoo") == [
        "`playaudio` has no attribute `loop` (it takes no attributes)"]
    app = kookoo('<playtext colour="red">a</playtext>', lenient=True)
    assert app.instructions == (kml.Speak("a", lang="EN", speed=2, quality="best"),)
    assert app.warnings[0].message == ("`playtext` has no attribute `colour` (it takes lang, speed, quality, type); "
                                       "skipped")


def test_lenient_mode_skips_a_misplaced_tag_inside_collectdtmf():
    app = kookoo("<collectdtmf><playtext>a</playtext><record/></collectdtmf>", lenient=True)
    assert only(app).prompts == (kml.Speak("a", lang="EN", speed=2, quality="best"),)
    assert app.warnings[0].message == "`collectdtmf` may not contain `record`; skipped"


def test_lenient_mode_still_refuses_bad_values():
    assert messages('<response><collectdtmf l="x"/><beep/></response>', "kookoo", lenient=True) == [
        '`collectdtmf` attribute `l` must be the number of digits, not "x"']


def test_every_problem_is_reported_at_once():
    doc = b"<response>\n<playtext/>\n<dial>x</dial>\n<beep/>\n</response>"
    issues = kml.KmlError
    with pytest.raises(issues) as info:
        kml.parse(doc, "kookoo")
    assert [(e.line, e.message.split(" ")[0]) for e in info.value.errors] == [
        (2, "`playtext`"), (3, "`dial`"), (4, "`beep`")]


def test_repeated_attribute_sets_are_each_checked():
    # playtext attribute sets are memoised when valid; a bad one must still be reported every time.
    doc = '<response><playtext speed="x">a</playtext><playtext speed="x">b</playtext></response>'
    assert messages(doc, "kookoo") == ['`playtext` attribute `speed` must be a number from 1 to 9, not "x"'] * 2
    good = kookoo('<playtext lang=" HI " speed="4">a</playtext><playtext lang=" HI " speed="4">b</playtext>')
    assert [(i.text, i.lang, i.speed) for i in good.instructions] == [("a", "HI", 4), ("b", "HI", 4)]
    lenient = kookoo('<playtext lang="HI" zz="1">a</playtext><playtext lang="HI" zz="1">b</playtext>', lenient=True)
    assert len(lenient.warnings) == 2

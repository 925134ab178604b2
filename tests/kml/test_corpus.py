"""The corpus of realistic apps under tests/kml/apps/ parses into what each app means."""

from __future__ import annotations

import kml
from tests.kml.helpers import app_file


def flow(app: kml.App) -> tuple[list[str], kml.NextRequest]:
    ran = []
    for instr in app.instructions:
        ran.append(instr.kind)
        nxt = instr.next_request(app)
        if nxt is not None:
            return ran, nxt
    return ran, app.end_request()


def test_every_corpus_app_is_clean():
    import os

    for name in os.listdir(os.path.join(os.path.dirname(__file__), "apps")):
        app = kml.parse(app_file(name))
        assert app.warnings == (), (name, app.warnings)
        assert app.dialect == ("kml" if name.startswith("kml_") else "kookoo"), name


def test_kookoo_menu():
    app = kml.parse(app_file("kookoo_menu.xml"))
    assert app.sid == "c0a8-1234"
    greeting, menu = app.instructions
    assert greeting == kml.Speak("Welcome to Sahakari Bank.", lang="EN", speed=3, quality="best")
    assert (menu.max_digits, menu.finish_on_key, menu.timeout_ms, len(menu.prompts)) == (1, "#", 6000, 3)
    assert flow(app) == (["speak", "collect_digits"], kml.NextRequest("same_url", None, "GET", "GotDTMF"))


def test_kookoo_otp_reads_digits_twice_then_hangs_up():
    app = kml.parse(app_file("kookoo_otp.xml"))
    says = [i for i in app.instructions if isinstance(i, kml.Speak) and i.say_as]
    assert [(s.text, s.say_as) for s in says] == [("483920", "501"), ("483920", "501")]
    assert flow(app)[1] == kml.END and app.instructions[-1] == kml.Hangup()


def test_kookoo_survey_record_sends_record_event_to_gotourl():
    app = kml.parse(app_file("kookoo_survey_record.xml"))
    assert app.filler is True
    rec = app.instructions[2]
    assert rec == kml.Record("survey_77_feedback", "mp3", 3000, 30000, "#", False, None, "GET")
    assert flow(app) == (["speak", "play", "record"], kml.NextRequest(
        "gotourl", "https://apps.example.in/survey/next?step=thanks&lang=en", "GET", "Record"))


def test_kookoo_click2call_dial():
    dial = kml.parse(app_file("kookoo_click2call.xml")).instructions[1]
    assert dial == kml.Dial(("919812345678",), "918047112233", True, 1800_000, 45000, "ring",
                            "https://apps.example.in/audio/whisper.wav", None, "GET")


def test_kookoo_multilingual_prompts_keep_their_scripts():
    app = kml.parse(app_file("kookoo_multilingual.xml"))
    texts = [(i.lang, i.text) for i in app.instructions if isinstance(i, kml.Speak)]
    assert texts[1] == ("HI", "किसान हेल्पलाइन में आपका स्वागत है। हिंदी के लिए 1 दबाएं।")
    assert texts[2] == ("TA", "தமிழுக்கு 2 ஐ அழுத்தவும்.")
    assert app.instructions[1].tts_type == "ggl"
    assert app.instructions[3].prompts[0] == kml.Speak("తెలుగు కోసం 3 నొక్కండి.", lang="TE", speed=2, quality="best")


def test_kookoo_recognize_goes_to_its_state_url():
    app = kml.parse(app_file("kookoo_recognize.xml"))
    assert flow(app)[1] == kml.NextRequest("gotourl", "https://apps.example.in/voicebot?state=ask_language", "GET",
                                           "Recognize")


def test_kookoo_conference_with_sms():
    app = kml.parse(app_file("kookoo_conference.xml"))
    assert app.instructions[1] == kml.SendSms("You joined room 4411 at the daily stand-up.", "919812345678")
    assert app.instructions[2] == kml.Conference("4411", "918047112233", False, 3600_000)


def test_kml_menu_falls_through_to_goodbye_on_no_input():
    app = kml.parse(app_file("kml_menu.xml"))
    gather = app.instructions[0]
    assert gather.action == "https://apps.example.in/kml/menu" and not gather.action_on_empty
    assert gather.prompts[0].voice == "Raveena" and gather.prompts[0].lang == "en-IN"
    assert flow(app)[1] == kml.NextRequest("action", "https://apps.example.in/kml/menu", "GET", "GotDTMF")
    assert [i.kind for i in app.instructions[1:]] == ["speak", "hangup"]


def test_kml_otp_uses_seed_002_tts_options():
    speak, wait, hangup = kml.parse(app_file("kml_otp.xml")).instructions
    assert (speak.voice, speak.rate, speak.pitch, speak.volume, speak.engine, speak.loop) == (
        "Joanna", "slow", "medium", "loud", "neural", 2)
    assert wait == kml.Pause(1000) and hangup == kml.Hangup("completed")


def test_kml_survey_record():
    app = kml.parse(app_file("kml_survey_record.xml"))
    rating, leave_message, rec = app.instructions[1:]
    assert rating.method == "POST" and rating.finish_on_key == "" and rating.prompts[0].kind == "play"
    assert rec == kml.Record(None, "mp3", 4000, 45000, "*", True, "https://apps.example.in/kml/recorded", "GET")


def test_kml_click2call_tries_two_numbers():
    dial = kml.parse(app_file("kml_click2call.xml")).instructions[1]
    assert dial.numbers == ("919812345678", "919812300000") and dial.record and dial.timeout_ms == 25000


def test_kml_multilingual():
    app = kml.parse(app_file("kml_multilingual.xml"))
    gather = app.instructions[0]
    assert [p.kind for p in gather.prompts] == ["speak", "pause", "speak", "speak"]
    assert gather.prompts[2].text == "हिंदी के लिए 2 दबाएं।" and gather.prompts[1] == kml.Pause(500)
    assert app.instructions[1] == kml.GoTo("https://apps.example.in/kml/language?retry=1", "GET")


def test_typical_2kb_app_is_about_2kb():
    data = app_file("typical_2kb.xml")
    assert 1900 <= len(data) <= 2200
    app = kml.parse(data)
    assert flow(app)[1].event == "GotDTMF" and flow(app)[1].kind == "gotourl"

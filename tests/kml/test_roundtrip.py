"""Property: model → XML → model is the identity, for every app either dialect can express."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kml
from kml.serialize import SerializeError, seconds
from tests.kml.helpers import app_file

# Text as a developer writes it: any script, punctuation and inner spaces; trimmed (the parser trims).
_chars = st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn", "Zl", "Zp"), blacklist_characters="\ufffe\uffff")
text = st.text(_chars, min_size=1, max_size=40).map(str.strip).filter(bool)
token = st.text(st.characters(whitelist_categories=("L", "N"), whitelist_characters="-_."), min_size=1, max_size=12)
url = st.builds(lambda host, path: f"https://{host}.example.in/{path}", token, token)
number = st.builds(lambda plus, digits: plus + digits, st.sampled_from(["", "+"]),
                   st.text("0123456789*#", min_size=1, max_size=14))
key = st.sampled_from(list("0123456789*#") + [""])
whole_s = st.integers(1, 100_000).map(lambda s: s * 1000)
ms = st.integers(1, 10_000_000)
opt = st.none().__or__


# --- KooKoo ---------------------------------------------------------------------------------
kk_playtext = st.builds(kml.Speak, text, lang=token, speed=st.integers(1, 9), quality=token, tts_type=opt(token))
kk_sayas = st.builds(kml.Speak, text, lang=token, say_as=st.integers(1, 999).map(str))
kk_play = st.builds(kml.Play, url)
kk_prompt = st.one_of(kk_playtext, kk_sayas, kk_play)
kk_prompts = st.lists(kk_prompt, max_size=4).map(tuple)
kookoo_instruction = st.one_of(
    kk_playtext, kk_sayas, kk_play,
    st.builds(kml.CollectDigits, kk_prompts, st.integers(1, 128), key, ms, st.none(), st.just("GET"), st.just(True)),
    st.builds(kml.Record, opt(token), st.sampled_from(["wav", "mp3"]), st.integers(0, 600).map(lambda s: s * 1000),
              whole_s, key, st.just(False), st.none(), st.just("GET")),
    st.builds(kml.Dial, number.map(lambda n: (n,)), opt(token), st.booleans(), whole_s, ms,
              st.sampled_from(["default", "ring", "normal"]), opt(url), st.none(), st.just("GET")),
    st.builds(kml.Conference, token, opt(token), st.booleans(), st.integers(-1, 10_000_000)),
    st.builds(kml.Hangup),
    st.builds(kml.GoTo, url),
    st.builds(kml.SendSms, text, number),
    st.builds(kml.Recognize, token, whole_s, st.integers(0, 60).map(lambda s: s * 1000), token, st.integers(1, 20),
              opt(token), opt(url), kk_prompts),
)
kookoo_app = st.builds(kml.App, st.just("kookoo"), st.lists(kookoo_instruction, max_size=8).map(tuple),
                       opt(token), st.booleans())

# --- KML ----------------------------------------------------------------------------------------
method = st.sampled_from(["GET", "POST"])
say = st.builds(kml.Speak, text, lang=token, voice=opt(token), rate=st.sampled_from(["x-slow", "slow", "medium", "fast",
                                                                                        "x-fast"]),
                pitch=st.sampled_from(["x-low", "low", "medium", "high", "x-high"]),
                volume=st.sampled_from(["silent", "x-soft", "soft", "medium", "loud", "x-loud"]),
                engine=st.sampled_from(["standard", "neural"]), loop=st.integers(0, 10))
play = st.builds(kml.Play, url, st.integers(0, 10))
pause = st.builds(kml.Pause, st.integers(0, 600_000))
kml_prompts = st.lists(st.one_of(say, play, pause), max_size=4).map(tuple)
kml_instruction = st.one_of(
    say, play, pause,
    st.builds(kml.CollectDigits, kml_prompts, st.integers(1, 128), key, ms, opt(url), method, st.booleans()),
    st.builds(kml.Record, st.none(), st.sampled_from(["wav", "mp3"]), st.integers(0, 600_000), ms, key, st.booleans(),
              opt(url), method),
    st.builds(kml.Dial, st.lists(number, min_size=1, max_size=3).map(tuple), opt(token), st.booleans(), ms, ms,
              st.just("ring"), st.none(), opt(url), method),
    st.builds(kml.Conference, token, opt(token), st.booleans(), st.one_of(st.just(-1), ms)),
    st.builds(kml.Hangup, opt(token)),
    st.builds(kml.Reject, st.sampled_from(["rejected", "busy"])),
    st.builds(kml.GoTo, url, method),
    st.builds(kml.SendSms, text, number),
)
kml_app = st.builds(kml.App, st.just("kml"), st.lists(kml_instruction, max_size=8).map(tuple))

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(kookoo_app)
def test_kookoo_model_to_xml_to_model_is_identity(app):
    xml = kml.to_xml(app)
    assert kml.parse(xml, "kookoo", lenient=False) == app


@SETTINGS
@given(kml_app)
def test_kml_model_to_xml_to_model_is_identity(app):
    xml = kml.to_xml(app)
    assert kml.parse(xml, "kml") == app


@SETTINGS
@given(kml_app)
def test_kml_round_trip_survives_dialect_detection(app):
    # Detection needs a KML-only verb or capitalised tags: every serialized KML document qualifies.
    assert kml.parse(kml.to_xml(app)).dialect == "kml"


@pytest.mark.parametrize("name", sorted(os.listdir(os.path.join(os.path.dirname(__file__), "apps"))))
def test_corpus_apps_round_trip(name):
    app = kml.parse(app_file(name))
    again = kml.parse(kml.to_xml(app), app.dialect)
    assert again == app


@given(st.integers(-10_000_000, 10_000_000))
def test_seconds_formatting_is_exact(value):
    assert round(float(seconds(value)) * 1000) == value


def test_what_a_dialect_cannot_say_is_refused_not_dropped():
    with pytest.raises(SerializeError, match="KooKoo XML has no tag for Pause"):
        kml.to_xml(kml.App("kookoo", (kml.Pause(1000),)))
    with pytest.raises(SerializeError, match="loop=2 cannot be written in KooKoo XML"):
        kml.to_xml(kml.App("kookoo", (kml.Play("http://a/b.wav", 2),)))
    with pytest.raises(SerializeError, match="KML has no verb for Recognize"):
        kml.to_xml(kml.App("kml", (kml.Recognize(),)))
    with pytest.raises(SerializeError, match="not whole seconds"):
        kml.to_xml(kml.App("kookoo", (kml.Record(silence_ms=1500),)))
    with pytest.raises(SerializeError, match="exactly one number"):
        kml.to_xml(kml.App("kookoo", (kml.Dial(("1", "2")),)))
    with pytest.raises(SerializeError, match="KML has no `sid`"):
        kml.to_xml(kml.App("kml", (), sid="x"))


def test_serialized_values_cannot_inject_markup():
    app = kml.App("kookoo", (kml.Speak("</playtext><dial>1</dial>", lang="EN", speed=2, quality="best"),))
    xml = kml.to_xml(app)
    assert b"<dial>" not in xml
    assert kml.parse(xml) == app

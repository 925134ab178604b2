"""Applications that FreeSWITCH reports as failed are recorded on the call and never loop the app.

The menus of both dialects speak their prompts (``say:`` parts with ``playback_delimiter``, which is
the form FreeSWITCH 1.10 speaks), and a prompt or an audio file that cannot be played shows up in the
call's ``app_errors`` (and the IVR log) instead of an ANSWER with no errors.
"""

from __future__ import annotations

import logging

import pytest

from ivr.call_spec import CallSpec
from tests.ivr.harness import Rig


@pytest.fixture
def rig(tmp_path, redis_url, key_prefix):
    r = Rig(tmp_path, redis_url, key_prefix)
    yield r
    r.stop()


def _spec(rig, path, dialect="kookoo"):
    return CallSpec(call_type="campaign", request_id="REQ-F", app_url=rig.app.url(path), caller_id="918000000000",
                    dialect=dialect)


def test_spoken_kookoo_menu_collects_the_digit(rig):
    app = rig.app

    def ivr(p):
        if p["event"] == "NewCall":
            return ('<response><collectdtmf l="1" o="4000"><playtext>For account balance, press 1.</playtext>'
                    '<playtext>For loans, press 2.</playtext></collectdtmf></response>')
        return "<response><hangup/></response>"

    app.route("/ivr", ivr)
    call = rig.wait(rig.call(_spec(rig, "/ivr"), dtmf="2@3"))
    got = [r["params"] for r in app.requests_to("/ivr") if r["params"]["event"] == "GotDTMF"]
    assert [g["data"] for g in got] == ["2"]
    assert call.facts.app_errors == []


def test_menu_whose_prompt_cannot_be_played_is_an_error_not_a_loop(rig, caplog):
    app = rig.app
    missing = app.url("/missing.wav")  # the app server answers 404

    def ivr(p):
        if p["event"] in ("NewCall", "GotDTMF"):
            return f'<response><collectdtmf l="1" o="2000"><playaudio>{missing}</playaudio></collectdtmf></response>'
        return "<response/>"

    app.route("/ivr", ivr)
    with caplog.at_level(logging.WARNING, logger="ivr.call"):
        call = rig.wait(rig.call(_spec(rig, "/ivr"), dtmf="1@1"))
    events = [r["params"]["event"] for r in app.requests_to("/ivr")]
    assert events[0] == "NewCall" and "GotDTMF" not in events
    assert len([e for e in events if e == "NewCall"]) == 1
    assert any("menu prompt could not be played" in e for e in call.facts.app_errors), call.facts.app_errors
    assert any("menu prompt could not be played" in r.getMessage() for r in caplog.records)


def test_kml_play_of_a_missing_file_is_recorded(rig):
    app = rig.app
    missing = app.url("/gone.wav")
    app.route("/doc", lambda p: f"<Response><Play>{missing}</Play><Say>Goodbye</Say><Hangup/></Response>")
    call = rig.wait(rig.call(_spec(rig, "/doc", dialect="kml")))
    assert call.facts.app_errors == [f"playback http_cache://{missing}: FILE NOT FOUND"]
    assert call.facts.hangup_cause == "NORMAL_CLEARING"

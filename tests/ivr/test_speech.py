"""Speech input end to end with real audio: a far end that speaks (flite), the simulator's record writing
that audio, the real runtime recognising it with PocketSphinx in its worker subprocess, the app getting
the words. The word error rate of the synthesised set is printed (pytest -s) and bounded."""

from __future__ import annotations

import wave

import pytest

from freeswitch.sim import speech as sim_speech
from freeswitch.sim.scenario import Scenario
from ivr.call_spec import CallSpec
from ivr.speech import SpeechError, load_recognizer
from ivr.speech.wer import wer
from tests.ivr.harness import Rig

pytestmark = pytest.mark.skipif(sim_speech.synthesiser() is None,
                                reason="no speech synthesiser: apt-get install flite (or espeak-ng)")

MENU = "sales | support | billing | check my balance | talk to an agent | cancel my order"
JSGF = "#JSGF V1.0;\ngrammar menu;\npublic <choice> = " + MENU + ";\n"


@pytest.fixture
def rig(tmp_path, redis_url, key_prefix):
    r = Rig(tmp_path, redis_url, key_prefix)
    yield r
    r.runtime.exec_config.speech.close()
    r.stop()


def _speaks(rig, number: str, utterances: list[str]) -> None:
    rig.sim.switch.scenario = Scenario.from_data(
        {"rules": [{"match": number, "speech": ["say:" + u for u in utterances]}]})


def test_kookoo_recognize_hears_the_callers_words(rig, tmp_path):
    """Three answers in one call: a JSGF grammar, the digits grammar, and hints; each reported as event=Recognize."""
    said = ["check my balance", "four five six", "billing"]
    _speaks(rig, "919900000101", said)
    app = rig.app
    grammar = JSGF.replace("\n", "&#10;").replace("<", "&lt;").replace(">", "&gt;")
    chime = sim_speech.audio_path("say:got it")  # KooKoo's success_file: played once something is recognised
    steps = {
        "NewCall": f'<response><recognize silence="1" timeout="5" grammar="{grammar}" success_file="{chime}">'
                   '<playtext>What would you like to do?</playtext></recognize></response>',
    }
    seen: list[dict] = []

    def ivr(p):
        seen.append(p)
        n = sum(1 for s in seen if s["event"] == "Recognize")
        if p["event"] == "NewCall":
            return steps["NewCall"]
        if p["event"] == "Recognize" and n == 1:
            return '<response><recognize silence="1" grammar="digits" length="3"/></response>'
        if p["event"] == "Recognize" and n == 2:
            return '<response><recognize silence="1"/></response>'
        return "<response><playtext>Goodbye</playtext><hangup/></response>"

    app.route("/ivr", ivr)
    uuid = rig.call(CallSpec(call_type="campaign", app_url=app.url("/ivr")), number="919900000101")
    call = rig.wait(uuid, timeout=30)
    got = [p["data"] for p in seen if p["event"] == "Recognize"]
    assert got[0] == "check my balance"
    assert got[1] == "456"  # the digits grammar reports digits
    assert len(got) == 3
    rate = wer(zip(["check my balance", "4 5 6", "billing"], [got[0], " ".join(got[1]), got[2]]))
    print(f"\nWER through the runtime (grammar, digits, open vocabulary): {rate:.2f}; heard {got}")
    assert rate <= 0.34  # the open-vocabulary answer may miss; the grammars may not
    assert call.facts.app_errors == []
    heard = [t for u, k, t in rig.transcript if u == uuid and k == "heard"]
    assert any(t.startswith("caller said 'check my balance'") for t in heard)
    assert heard.count(f"audio: {chime}") == 1  # after the first answer only: the others had no success_file
    # The utterances were input, not recordings the app asked for: nothing is left behind.
    assert not list((tmp_path / "recordings").glob(f"{uuid}-speech*.wav"))


def test_twiml_gather_speech_with_hints_and_dtmf(rig):
    """TwiML <Gather input="speech dtmf" hints=...>: hints steer an answer the open model mishears ("sales" alone
    is often "failed"); a caller who presses keys instead ends the listening and the digits are reported."""
    _speaks(rig, "919900000102", ["sales"])
    gather = ('<Response><Gather input="speech dtmf" hints="sales, support" speechTimeout="1" timeout="5" '
              'numDigits="2" action="{}"><Say>Say sales or support.</Say></Gather></Response>')
    rig.app.route("/ivr", lambda p: gather.format(rig.app.url("/done")))
    rig.app.route("/done", lambda p: "<Response><Hangup/></Response>")
    uuid = rig.call(CallSpec(call_type="konnect", app_url=rig.app.url("/ivr")), number="919900000102")
    call = rig.wait(uuid, timeout=30)
    done = rig.app.requests_to("/done")[0]["params"]
    # TwiML's names once the runtime sends that dialect's parameters; KooKoo's data until then.
    assert done.get("SpeechResult", done.get("data")) == "sales"
    assert call.facts.app_errors == []
    uuid = rig.call(CallSpec(call_type="konnect", app_url=rig.app.url("/ivr")), number="919900000103", dtmf="4@0.5;2@0.8")
    rig.wait(uuid, timeout=30)
    done = rig.app.requests_to("/done")[-1]["params"]
    assert done.get("Digits", done.get("data")) == "42"
    assert done.get("SpeechResult", "") == ""


@pytest.fixture(scope="module")
def engine():
    """One engine (its model loaded once) for the tests that call it directly."""
    return load_recognizer("pocketsphinx")


def test_engine_refuses_what_it_cannot_do(tmp_path, engine):
    """An unknown grammar, a language the shipped model lacks and a file that is not audio are errors, not guesses."""
    path = sim_speech.audio_path("say:yes")
    assert engine.recognize(path, grammar="yesno").text == "yes"
    with pytest.raises(SpeechError, match="unknown grammar"):
        engine.recognize(path, grammar="colours")
    with pytest.raises(SpeechError, match="English"):
        engine.recognize(path, lang="hi-IN")
    bad = tmp_path / "x.wav"
    bad.write_text("not audio")
    with pytest.raises(SpeechError, match="not a PCM WAV"):
        engine.recognize(str(bad))
    with pytest.raises(SpeechError, match="cannot load"):
        load_recognizer("no.such.module:Engine")
    with wave.open(path) as w:
        assert w.getframerate() == 8000  # telephone audio, as the runtime gets it from a PCMU/PCMA call


def test_sim_speech_variable_says_one_utterance_per_recording(rig):
    """sim_speech on the originate: 'yes' to the first question, 'no' to the second (yesno grammar)."""
    seen: list[dict] = []

    def ivr(p):
        seen.append(p)
        if len(seen) < 3:
            return '<response><recognize silence="1" grammar="yesno"/></response>'
        return "<response><hangup/></response>"

    rig.app.route("/ivr", ivr)
    uuid = rig.call(CallSpec(call_type="campaign", app_url=rig.app.url("/ivr")), speech="say:yes|say:no")
    rig.wait(uuid, timeout=30)
    assert [p["data"] for p in seen if p["event"] == "Recognize"] == ["yes", "no"]


def test_ivr_try_say_speaks_to_a_recognize(capsys):
    """`ivr try URL --say yes`: the developer's phone answers a speech question by voice."""
    from ivr import cli
    from tests.ivr.appserver import AppServer

    app = AppServer().start()
    try:
        app.route("/ivr", lambda p: ('<response><recognize silence="1" grammar="yesno"><playtext>Continue?'
                                     '</playtext></recognize></response>') if p["event"] == "NewCall"
                  else "<response><hangup/></response>")
        assert cli.main(["try", app.url("/ivr"), "--say", "yes", "--speed", "20"]) == 0
    finally:
        app.stop()
    out = capsys.readouterr().out
    assert "caller said 'yes'" in out and "event=Recognize" in out and "data=yes" in out


def test_hints_are_a_bias_not_a_cage(tmp_path, engine):
    """A hint said inside a sentence is found; a sentence with no hint in it is not forced into one."""
    hints = ("sales", "support", "billing", "check my balance")

    def said(text: str) -> str:
        path = str(tmp_path / "u.wav")
        sim_speech.write(path, ["say:" + text], sim_speech.seconds("say:" + text) + 1.0)  # record's trailing silence
        return engine.recognize(path, hints=hints).text

    assert said("i would like billing please") == "billing"
    assert not set(said("what is the weather like").split()) & {"sales", "support", "billing", "balance"}

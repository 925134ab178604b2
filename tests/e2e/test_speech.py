"""Speech input on the real switch: FreeSWITCH's record (silence detection on real RTP) takes the words a sipp
far end says (flite audio as PCMA), and the runtime recognises them with PocketSphinx."""

from __future__ import annotations

import uuid

import pytest

from freeswitch.sim import speech
from tests.e2e.harness import SPEAKER_SAYS, wait_for
from tests.ivr.appserver import AppServer


@pytest.fixture
def app():
    a = AppServer().start()
    yield a
    a.stop()


@pytest.mark.skipif(speech.synthesiser() != "flite", reason="the 703 far end's words are made with flite")
def test_kookoo_recognize_on_the_real_switch(platform, app):
    p = platform
    grammar = ("#JSGF V1.0;&#10;grammar menu;&#10;public &lt;choice&gt; = sales | support | billing | "
               "check my balance | cancel my order;&#10;")

    def ivr(params):
        event = params.get("event")
        if event == "NewCall":
            return f'<response><recognize silence="2" timeout="8" grammar="{grammar}"/></response>'
        if event == "Recognize":
            return "<response><playtext>Thank you</playtext><hangup/></response>"
        return "<response/>"

    app.route("/speech", ivr)
    acct = p.account()
    r = p.konnect("POST", "/Calls", acct, json={"id": uuid.uuid4().hex, "caller_id": "918000680000",
                                                "recipient": ["919920000703"], "doc_url": app.url("/speech"),
                                                "dialect": "kookoo"})
    assert r.status_code in (200, 201), r.text
    got = wait_for(lambda: [q["params"] for q in app.requests_to("/speech") if q["params"].get("event") == "Recognize"],
                   90, what="the Recognize request")[0]
    assert got["data"] == SPEAKER_SAYS, got
    # FreeSWITCH's own record wrote the file the runtime read: it started and stopped on the channel.
    stops = wait_for(lambda: [e for e in p.events.of("RECORD_STOP") if e.get("Unique-ID") == got["sid"]],
                     10, what="FreeSWITCH's RECORD_STOP")
    assert stops[0].get("Record-File-Path", "").endswith(f"{got['sid']}-speech1.wav"), stops
    print(f"\nreal switch: the far end said {SPEAKER_SAYS!r}, the app got {got['data']!r}")

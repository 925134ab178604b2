"""``ivr try``: the developer's phone in the terminal, run as a real process against a real app server."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import free_port
from tests.ivr.appserver import AppServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(*args, timeout=60):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "ivr.cli", "try", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


@pytest.fixture
def app_server():
    server = AppServer().start()
    yield server
    server.stop()


def test_try_prints_a_transcript_and_succeeds(app_server):
    def ivr(p):
        if p["event"] == "NewCall":
            return '<response><collectdtmf l="2" t="#"><playtext>Enter your pin</playtext></collectdtmf></response>'
        if p["event"] == "GotDTMF":
            return f'<response><playtext>You entered {p["data"]}</playtext><hangup/></response>'
        return "<response/>"

    app_server.route("/ivr", ivr)
    result = _run(app_server.url("/ivr"), "--dtmf", "42", "--caller", "919811112345", "--speed", "20")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "event=NewCall" in out and "cid=919811112345" in out
    assert "caller      presses 42" in out
    assert "event=GotDTMF" in out and "data=42" in out
    assert "speech (Joanna): You entered 42" in out
    assert "NORMAL_CLEARING (platform hung up)" in out
    assert [r["params"]["event"] for r in app_server.requests_to("/ivr")] == ["NewCall", "GotDTMF", "Disconnect"]


def test_try_detects_a_kml_app_without_being_told(app_server):
    app_server.route("/doc", lambda p: ('<Response><Gather action="/menu" numDigits="1" timeout="5">'
                                        '<Say>Press a key</Say></Gather></Response>'))
    app_server.route("/menu", lambda p: "<Response><Say>You pressed " + p.get("key_pressed", "nothing")
                     + "</Say><Hangup/></Response>")
    result = _run(app_server.url("/doc"), "--dtmf", "5", "--speed", "20")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the app speaks kml" in result.stdout
    assert "speech (Joanna): You pressed 5" in result.stdout
    assert app_server.requests_to("/menu")[0]["params"]["key_pressed"] == "5"


def test_try_exits_non_zero_when_the_app_errs(app_server):
    app_server.route("/bad", lambda p: "<response><playtext>oops</response>")
    result = _run(app_server.url("/bad"), "--dialect", "kookoo")
    assert result.returncode == 1
    assert "malformed document" in result.stdout and "status error" in result.stdout
    result = _run(f"http://127.0.0.1:{free_port()}/none")
    assert result.returncode == 1 and "cannot connect" in result.stdout


def test_try_refuses_bad_arguments():
    result = _run("not-a-url")
    assert result.returncode == 2 and "not an http(s) URL" in result.stderr
    result = _run("http://127.0.0.1:1/", "--dtmf", "1,x")
    assert result.returncode == 2 and "--dtmf entry 'x'" in result.stderr

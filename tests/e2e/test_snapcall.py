"""SnapCall on the real switch: a sipp caller gives missed calls to a ring-mode and a prompt-mode number and sees
what a mobile network would — 180 Ringing or 183 Session Progress (the prompt as early media), then 486 Busy
Here or 603 Decline, and never a 200 OK (nothing answered, nothing billed)."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from tests.e2e.harness import SIPP_DIR, Sipp, free_port, media_port, wait_for
from tests.ivr.appserver import AppServer, wav


@pytest.fixture
def app():
    a = AppServer().start()
    yield a
    a.stop()




def _missed_call(p, number: str, caller_id: str) -> str:
    """A sipp caller (snapcall_uac.xml) to ``number``; the SIP messages it received."""
    port = free_port()
    trace = p.workdir / f"snapcall-{port}.msg"
    args = ["-sf", str(SIPP_DIR / "snapcall_uac.xml"), f"127.0.0.1:{p.sip_port}", "-i", "127.0.0.1", "-p", str(port),
            "-mp", str(media_port()), "-s", number, "-m", "1", "-timeout", "60", "-timeout_error",
            "-set", "caller", caller_id, "-trace_msg", "-message_file", str(trace),
            "-trace_err", "-error_file", str(p.workdir / f"snapcall-{port}.err")]
    sipp = Sipp(args, p.workdir / f"snapcall-{port}.log").start()
    # sipp fails (exit 1) on any message the scenario has not, a 200 OK among them.
    assert sipp.wait(60) == 0, (p.workdir, trace.read_text(errors="replace") if trace.exists() else "")
    return trace.read_text(errors="replace")


def _statuses(trace: str) -> list[int]:
    """The status codes of the responses sipp received, in order (its -trace_msg file: a dashed line with the
    time, ``UDP message received [n] bytes :``, a blank line, the message)."""
    return [int(m) for m in re.findall(r"message received[^\n]*\n\s*SIP/2\.0 (\d{3}) ", trace)]


def test_ring_and_prompt_missed_calls_are_refused_without_a_200(platform, app):
    p = platform
    app.route("/missed", lambda params: "ok")
    app.route("/prompt.wav", lambda params: (200, wav(1.5, b"\x10\x00\xf0\xff")))
    acct = p.account()
    ring, prompt = "918000689001", "918000689002"
    for number, extra in ((ring, {"mode": "ring", "ring_seconds": 2}),
                          (prompt, {"mode": "prompt", "prompt_url": app.url("/prompt.wav"), "reject": "rejected"})):
        r = p.konnect("POST", "/SnapCall", acct, json={"id": uuid.uuid4().hex, "phone_number": number,
                                                      "callback_url": app.url("/missed"), **extra})
        assert r.status_code == 200, r.text

    got = _statuses(_missed_call(p, ring, "919979270011"))
    assert 180 in got and 183 not in got and 200 not in got and got[-1] == 486, got
    got_prompt = _statuses(_missed_call(p, prompt, "919979270012"))
    assert 183 in got_prompt and 200 not in got_prompt and got_prompt[-1] == 603, got_prompt

    def hangup(number):
        rows = p.events.of("CHANNEL_HANGUP_COMPLETE", **{"Caller-Destination-Number": number})
        return rows[0] if rows else None

    ends = {n: wait_for(lambda n=n: hangup(n), 30, what=f"the hangup of the call to {n}") for n in (ring, prompt)}
    for n, end in ends.items():
        uid = end["Unique-ID"]
        assert not p.events.of("CHANNEL_ANSWER", **{"Unique-ID": uid}), f"the call to {n} was answered"
        assert end.get("variable_billsec") == "0", end.get("variable_billsec")
    assert ends[ring]["Hangup-Cause"] == "USER_BUSY" and ends[prompt]["Hangup-Cause"] == "CALL_REJECTED"
    # Ringing lasted the configured 2 s: progress (180) to the hangup.
    rang = (int(ends[ring]["Event-Date-Timestamp"]) - int(ends[ring]["variable_progress_uepoch"])) / 1e6
    assert 2.0 <= rang < 3.5, rang
    played = [e for e in p.events.of("CHANNEL_EXECUTE", **{"Unique-ID": ends[prompt]["Unique-ID"]})
              if e.get("Application") == "playback"]
    assert played and app.url("/prompt.wav").split("//", 1)[1] in played[0]["Application-Data"], played
    assert app.requests_to("/prompt.wav"), "FreeSWITCH never fetched the prompt"
    hooks = wait_for(lambda: len(app.requests_to("/missed")) == 2 and app.requests_to("/missed"), 60,
                     what="both webhooks")
    by_to = {json.loads(h["body"])["to"]: json.loads(h["body"]) for h in hooks}
    assert by_to[ring]["ref_id"] == ends[ring]["Unique-ID"] and by_to[ring]["from"] == "919979270011"
    assert by_to[prompt]["ref_id"] == ends[prompt]["Unique-ID"] and by_to[prompt]["status"] == "received"
    print(f"\nSnapCall ring: {got}, rang {rang:.2f} s; prompt: {got_prompt}, played {played[0]['Application-Data']}")

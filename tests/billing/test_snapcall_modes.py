"""SnapCall's ring and prompt modes (seed 000: "disconnected after mobile user hears a ring or after a prompt is
played"): configured through the real API, stored (migration 0008, SQLite and PostgreSQL), and run by the IVR
runtime on calls from the FreeSWITCH simulator over TCP. Each mode must leave the call unanswered: 180 Ringing
(ring) or 183 early media with the prompt (prompt), then the reject cause (its SIP response, 486 or 603, is
checked on a real FreeSWITCH in tests/e2e/test_snapcall.py), no CHANNEL_ANSWER, billsec 0, and
the webhook as for an immediate reject."""

from __future__ import annotations

import json

import sqlalchemy as sa

from dialer.store import db
from dialer.store.models import Cdr, InboundNumber
from dialer.store.snapcall_models import SnapCallNumber
from tests.billing.helpers import VoiceRig
from tests.dialer.engine_helpers import wait_for
from tests.freeswitch.esl_client import RawClient, watch_events
from tests.ivr.appserver import AppServer, wav

WATCHED = ("CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_ANSWER CHANNEL_EXECUTE PLAYBACK_START "
           "CHANNEL_HANGUP_COMPLETE")




def _watch(port: int) -> tuple[list[dict], RawClient]:
    """Every event of :data:`WATCHED` the simulator fires (headers), as they come."""
    got, _reader, esl = watch_events("127.0.0.1", port, WATCHED)
    return got, esl


def test_modes_api_stores_validates_and_serves_the_app(api_stack):
    acct = api_stack.account()
    r = api_stack.konnect("POST", "/SnapCall", acct, json={"id": "R1", "phone_number": "919886000091",
                                                           "mode": "ring", "ring_seconds": 7})
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    r = api_stack.konnect("POST", "/SnapCall", acct, json={"id": "P1", "phone_number": "919886000092",
                                                           "mode": "prompt", "reject": "rejected",
                                                           "prompt_text": "Thanks! We'll call you back & soon."})
    assert r.status_code == 200
    with api_stack.session() as s:
        ring, prompt = s.get(SnapCallNumber, "+919886000091"), s.get(SnapCallNumber, "+919886000092")
        assert (ring.mode, ring.ring_seconds, ring.reject) == ("ring", 7, "busy")
        assert (prompt.mode, prompt.prompt_text, prompt.reject) == ("prompt", "Thanks! We'll call you back & soon.",
                                                                    "rejected")
        ring_in, prompt_in = s.get(InboundNumber, "+919886000091"), s.get(InboundNumber, "+919886000092")
        assert ring_in.dialect == "kml" and prompt_in.dialect == "plivo"
    app = api_stack.http.get(ring_in.app_url, timeout=5).text
    assert app.strip().endswith('<Response><Reject reason="busy" ring="7"/></Response>')
    app = api_stack.http.get(prompt_in.app_url, timeout=5).text
    assert app.strip().endswith("<Response><PreAnswer><Speak>Thanks! We'll call you back &amp; soon.</Speak>"
                                '</PreAnswer><Hangup reason="rejected"/></Response>')
    # Defaults keep the immediate reject; re-configuring goes back to it.
    r = api_stack.konnect("POST", "/SnapCall", acct, json={"id": "R2", "phone_number": "919886000091"})
    with api_stack.session() as s:
        assert s.get(SnapCallNumber, "+919886000091").mode == "reject"
        assert s.get(InboundNumber, "+919886000091").app_url.endswith("/apps/snapcall?reject=busy")
    # Bad input: Konnect's 3050 naming the field; nothing configured.
    for body, field in (({"mode": "flash"}, "mode"), ({"mode": "ring", "ring_seconds": 0}, "ring_seconds"),
                        ({"mode": "ring", "ring_seconds": 61}, "ring_seconds"), ({"mode": "prompt"}, "prompt_url"),
                        ({"mode": "prompt", "prompt_url": "http://x.example/a.wav", "prompt_text": "hi"},
                         "prompt_url"),
                        ({"mode": "prompt", "prompt_url": "not a url"}, "prompt_url"),
                        ({"mode": "prompt", "prompt_text": "x" * 501}, "prompt_text")):
        r = api_stack.konnect("POST", "/SnapCall", acct, json={"id": "B", "phone_number": "919886000093", **body})
        assert r.status_code == 400, (body, r.text)
        assert (r.json()["error_code"], r.json()["field"]) == ("3050", field), (body, r.json())
    with api_stack.session() as s:
        assert s.get(SnapCallNumber, "+919886000093") is None


def test_ring_and_prompt_modes_never_answer_through_the_simulator(sqlite_stack, monkeypatch):
    stack = sqlite_stack
    cfg0 = stack.cfg
    receiver = AppServer().start()
    receiver.route("/missed", lambda p: "ok")
    receiver.route("/prompt.wav", lambda p: (200, wav(1.0)))
    acct = stack.account()
    configs = {"918000680001": {"mode": "ring", "ring_seconds": 4},
               "918000680002": {"mode": "prompt", "prompt_url": receiver.url("/prompt.wav"), "reject": "rejected"},
               "918000680003": {"mode": "prompt", "prompt_text": "Thank you, we will call you back"}}
    for number, extra in configs.items():
        r = stack.konnect("POST", "/SnapCall", acct, json={"id": f"SC-{number[-1]}", "phone_number": number,
                                                          "callback_url": receiver.url("/missed"), **extra})
        assert r.json()["status"] == "accepted", r.text
    rig = VoiceRig(cfg0, monkeypatch)
    events, esl = _watch(rig.port)
    try:
        for i, number in enumerate(configs):
            assert rig.esl_api(f"sim_inbound 91997927010{i} {number}").startswith("+OK")

        def delivered():
            rig.work()
            return len(receiver.requests_to("/missed")) == 3

        wait_for(delivered, 20, every=0.2)
    finally:
        esl.sock.close()
        rig.stop()
        receiver.stop()
    with db.session_scope(cfg0.sqlalchemy_url) as s:
        rows = {r.dialed_number[1:]: r for r in s.execute(
            sa.select(Cdr).where(Cdr.dialed_number.in_([f"+{n}" for n in configs]))).scalars()}
        s.expunge_all()
    assert not [e for e in events if e.get("Event-Name") == "CHANNEL_ANSWER"]
    by_call = {n: [e for e in events if e.get("Unique-ID") == rows[n].uniqueid] for n in configs}

    def names(n):
        return [e["Event-Name"] for e in by_call[n] if e["Event-Name"] != "CHANNEL_EXECUTE"]

    def hangup(n):
        return next(e for e in by_call[n] if e["Event-Name"] == "CHANNEL_HANGUP_COMPLETE")

    # Ring: 180 (CHANNEL_PROGRESS) and no early media, the wait, then 486; the ringing lasted the 4 s configured
    # (switch time: the simulator runs 20 times faster, so each real ms of ESL round trips after the sleep counts
    # as 20 ms; the upper bound only says it is not some other, longer wait).
    ring = "918000680001"
    assert names(ring) == ["CHANNEL_PROGRESS", "CHANNEL_HANGUP_COMPLETE"]
    progress = next(e for e in by_call[ring] if e["Event-Name"] == "CHANNEL_PROGRESS")
    rang_us = int(hangup(ring)["Event-Date-Timestamp"]) - int(progress["Event-Date-Timestamp"])
    assert 4_000_000 <= rang_us < 14_000_000, rang_us
    assert hangup(ring)["Hangup-Cause"] == "USER_BUSY"
    # Prompt (audio): 183 with the customer's audio as early media, then 603.
    audio = "918000680002"
    assert names(audio) == ["CHANNEL_PROGRESS_MEDIA", "PLAYBACK_START", "CHANNEL_HANGUP_COMPLETE"]
    played = next(e for e in by_call[audio] if e["Event-Name"] == "PLAYBACK_START")
    assert receiver.url("/prompt.wav") in played["Playback-File-Path"]
    assert hangup(audio)["Hangup-Cause"] == "CALL_REJECTED"
    # Prompt (TTS): 183 and the text spoken, then 486.
    tts = "918000680003"
    assert names(tts)[0] == "CHANNEL_PROGRESS_MEDIA" and names(tts)[-1] == "CHANNEL_HANGUP_COMPLETE"
    spoken = [e for e in by_call[tts] if e["Event-Name"] == "CHANNEL_EXECUTE" and e.get("Application") == "speak"]
    assert spoken and "Thank you, we will call you back" in spoken[0]["Application-Data"]
    assert hangup(tts)["Hangup-Cause"] == "USER_BUSY"
    for n in configs:
        # Refused by us before any 200 OK (sofia's send_refuse: the final response is the cause's 486 / 603).
        assert hangup(n).get("variable_billsec") == "0"
        assert hangup(n).get("variable_sip_hangup_disposition") == "send_refuse"
        assert rows[n].answer is None and rows[n].billsec == 0
    assert {rows[n].hangup_cause for n in configs} == {"USER_BUSY", "CALL_REJECTED"}
    # The webhook is the same for every mode.
    hooks = {json.loads(r["body"])["to"]: json.loads(r["body"]) for r in receiver.requests_to("/missed")}
    for i, n in enumerate(configs):
        assert list(hooks[n]) == ["id", "ref_id", "status", "from", "to", "timestamp", "event_timestamp",
                                  "error_code", "error_reason"]
        assert (hooks[n]["id"], hooks[n]["ref_id"], hooks[n]["status"], hooks[n]["from"]) == (
            f"SC-{n[-1]}", rows[n].uniqueid, "received", f"91997927010{i}")

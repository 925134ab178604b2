"""A TwiML queue on the real switch: a caller in ``Enqueue`` (mod_fifo ``fifo in``) taken by ``Dial``/``Queue``
(``fifo out nowait``) from a second call, the apps built with Twilio's own library."""

from __future__ import annotations

import time
import uuid

import pytest
from twilio.twiml.voice_response import VoiceResponse

from freeswitch import wire
from tests.e2e.harness import Esl, wait_for
from tests.ivr.appserver import AppServer
from tests.ivr.test_twiml_queue import CALLER_ACTIONS, CONSUMER_ACTIONS


@pytest.fixture
def app():
    a = AppServer().start()
    yield a
    a.stop()


def _tone_wav(seconds: float = 4.0) -> bytes:
    """Hold music: a 440 Hz tone (a FreeSWITCH without its music package has no local_stream://moh to play, and
    mod_fifo then ends the caller's wait at once)."""
    import io
    import math
    import struct
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000)))
                               for i in range(int(8000 * seconds))))
    return out.getvalue()


def _watch(port: int):
    """fifo::info and CHANNEL_EXECUTE_COMPLETE events (headers) as the switch fires them; and how to stop."""
    import threading

    esl = Esl(port, "CHANNEL_EXECUTE_COMPLETE CUSTOM fifo::info")  # words after CUSTOM are subclasses
    esl.sock.settimeout(None)
    got: list[dict] = []

    def run():
        while True:
            try:
                frame = wire.read_frame(esl.rfile)
            except Exception:  # noqa: BLE001 - closed at the end
                return
            if frame is None:
                return
            if frame.content_type == "text/event-plain":
                got.append(wire.parse_event(frame).headers)

    threading.Thread(target=run, daemon=True).start()
    return got, esl.close


def _call(p, acct, number: str, doc_url: str) -> None:
    r = p.konnect("POST", "/Calls", acct, json={"id": uuid.uuid4().hex, "caller_id": "918000680000",
                                                "recipient": [number], "doc_url": doc_url, "dialect": "twiml"})
    assert r.status_code in (200, 201), r.text


def test_enqueued_caller_taken_by_dial_queue_on_the_real_switch(platform, app):
    p = platform
    queue = f"support{uuid.uuid4().hex[:6]}"

    def caller(params):
        r = VoiceResponse()
        r.enqueue(queue, action="/left", wait_url=app.url("/hold.wav"))
        return str(r)

    def agent(params):
        r = VoiceResponse()
        r.dial(action="/dialed").queue(queue)
        return str(r)

    def dialed(params):
        r = VoiceResponse()
        r.say("Goodbye")
        r.hangup()
        return str(r)

    app.route("/hold.wav", lambda params: _tone_wav())
    app.route("/caller", caller)
    app.route("/left", lambda params: "")
    app.route("/agent", agent)
    app.route("/dialed", dialed)
    acct = p.account()
    events, stop = _watch(p.esl_port)
    # The caller (312: hangs up by itself about 14 s after answering) waits in the queue...
    _call(p, acct, "919920000312", app.url("/caller"))
    wait_for(lambda: app.requests_to("/caller"), 60, what="the caller's app request")
    sid_a = app.requests_to("/caller")[0]["params"]["CallSid"]
    wait_for(lambda: [e for e in p.events.of("CHANNEL_EXECUTE", **{"Unique-ID": sid_a})
                      if e.get("Application") == "fifo"], 30, what="the caller's fifo in")
    time.sleep(1.0)
    # ...until the agent (talks until the platform hangs up) takes it.
    _call(p, acct, "919920000999", app.url("/agent"))
    wait_for(lambda: app.requests_to("/left"), 90, what="the caller's Enqueue action")
    wait_for(lambda: app.requests_to("/dialed"), 30, what="the agent's Dial action")
    left = app.requests_to("/left")[0]["params"]
    dialed_req = app.requests_to("/dialed")[0]["params"]
    sid_b = dialed_req["CallSid"]
    print(f"\nEnqueue action: {left}\nDial action: {dialed_req}")
    assert left["CallSid"] == sid_a and left["QueueResult"] == "bridged" and left["QueueSid"] == queue
    assert int(left["QueueTime"]) >= 1
    # Requested once the bridge was over (the caller hung up ~14 s in), as Twilio does, not when it began.
    assert app.requests_to("/left")[0]["at"] > app.requests_to("/dialed")[0]["at"] - 3
    assert dialed_req["DialCallStatus"] == "completed" and dialed_req["DialCallSid"] == sid_a
    assert int(dialed_req["DialCallDuration"]) >= 3
    # The bridge is the consumer's: CHANNEL_BRIDGE on the agent's channel, the caller as its B leg.
    bridges = [e for e in p.events.of("CHANNEL_BRIDGE") if e.get("Unique-ID") == sid_b]
    assert bridges and bridges[0].get("Bridge-B-Unique-ID") == sid_a, bridges
    assert not [e for e in p.events.of("CHANNEL_BRIDGE") if e.get("Unique-ID") == sid_a]
    # mod_fifo's own account, which the simulator's fifo follows (tests/ivr/test_twiml_queue.py checks it there).
    wait_for(lambda: any(e.get("FIFO-Action") == "consumer_stop" for e in events), 10, what="consumer_stop")
    stop()
    assert [e["FIFO-Action"] for e in events if e.get("Unique-ID") == sid_a and "FIFO-Action" in e] == CALLER_ACTIONS
    assert [e["FIFO-Action"] for e in events if e.get("Unique-ID") == sid_b and "FIFO-Action" in e] == CONSUMER_ACTIONS
    [fifo_in] = [e for e in events if e.get("Unique-ID") == sid_a and e.get("Application") == "fifo"]
    assert fifo_in["variable_fifo_serviced_uuid"] == sid_b and fifo_in["variable_fifo_status"] == "WAITING"
    [fifo_out] = [e for e in events if e.get("Unique-ID") == sid_b and e.get("Application") == "fifo"]
    assert fifo_out["variable_fifo_status"] == "WAITING" and fifo_out["variable_fifo_target"] == sid_a
    assert int(fifo_out["variable_fifo_bridge_seconds"]) >= 3
    # fifo in returned before the bridge: the caller's socket application ended and it hibernated.
    socket_done = [e for e in events if e.get("Unique-ID") == sid_a and e.get("Application") == "socket"]
    assert socket_done and float(socket_done[0]["Event-Date-Timestamp"]) <= float(bridges[0]["Event-Date-Timestamp"])

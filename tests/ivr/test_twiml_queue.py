"""TwiML queues (``Enqueue``, ``Dial``/``Queue`` on mod_fifo) and sent digits (``Play digits``, Plivo ``DTMF``)
through the real IVR runtime and the FreeSWITCH simulator over TCP, the apps built with Twilio's and Plivo's
own libraries and served over HTTP.
"""

from __future__ import annotations

import time

import gevent
import pytest
from plivo import plivoxml as px
from twilio.twiml.voice_response import VoiceResponse

from freeswitch.sim.dtmf_apps import far_end_heard
from ivr.call_spec import CallSpec
from tests.freeswitch.esl_client import watch_events
from tests.ivr.harness import Rig

#: The fifo::info actions of a caller taken from a queue and of the consumer that took it, in order, as a real
#: FreeSWITCH 1.10 fires them (tests/e2e/test_twiml_queue.py checks the same on the real switch).
CALLER_ACTIONS = ["push", "caller_pop", "bridge-caller-start", "bridge-caller-stop"]
CONSUMER_ACTIONS = ["consumer_start", "consumer_pop", "channel-consumer-start", "bridge-consumer-start",
                    "channel-consumer-stop", "bridge-consumer-stop", "consumer_stop"]


@pytest.fixture
def rig(tmp_path, redis_url, key_prefix):
    # Slower than the other rigs: the queued caller must still be waiting when the second call (a real
    # originate and app fetch later) dequeues it.
    r = Rig(tmp_path, redis_url, key_prefix, speed=5.0)
    yield r
    r.stop()


def heard(rig, uuid) -> list[str]:
    return [t for u, k, t in rig.transcript if u == uuid and k == "heard"]


def say(text: str) -> str:
    r = VoiceResponse()
    r.say(text)
    return str(r)


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        gevent.sleep(0.02)


def watch(address) -> tuple[list[dict], object]:
    """Every fifo::info, CHANNEL_BRIDGE and CHANNEL_EXECUTE_COMPLETE the switch fires (headers), as they come."""
    got, reader, esl = watch_events(*address, "CHANNEL_BRIDGE CHANNEL_EXECUTE_COMPLETE CUSTOM fifo::info")
    return got, (reader, esl)


def test_enqueued_caller_is_taken_by_dial_queue_and_both_apps_hear_of_it(rig):
    app = rig.app
    events, (reader, esl) = watch(rig.sim.address)

    def caller(p):
        r = VoiceResponse()
        r.enqueue("support", action="/left")
        return str(r)

    def agent(p):
        r = VoiceResponse()
        r.dial(action="/dialed").queue("support")
        r.say("Nobody else is waiting")
        return str(r)

    app.route("/caller", caller)
    app.route("/left", lambda p: "")
    app.route("/agent", agent)
    app.route("/dialed", lambda p: say(f"Dial was {p['DialCallStatus']}"))
    # The caller's far end hangs up 12 s (simulated) after answering: well into the bridge.
    a = rig.call(CallSpec(call_type="konnect", account_id="AC42", app_url=app.url("/caller"), dialect="twiml"),
                 number="919900000301", hangup_after=12)
    wait_for(lambda: "waiting in queue support" in heard(rig, a))
    b = rig.call(CallSpec(call_type="konnect", account_id="AC42", app_url=app.url("/agent"), dialect="twiml"),
                 number="919900000302")
    call_a, call_b = rig.wait(a), rig.wait(b)

    # The enqueued caller's action comes once the bridge is over (Twilio's rule), with QueueResult bridged.
    [left] = [r["params"] for r in app.requests_to("/left")]
    assert left["CallSid"] == a and left["QueueResult"] == "bridged" and left["QueueSid"] == "support"
    assert 1 <= int(left["QueueTime"]) < 12
    # Requested once the bridge was over (the caller hung up), not when it began (fifo in returns then).
    assert app.requests_to("/left")[0]["at"] >= app.requests_to("/dialed")[0]["at"] - 0.5
    assert left["CallStatus"] == "in-progress" and left["AccountSid"] == "AC42"
    # The agent's Dial action: completed, the caller's call as DialCallSid, the bridge's length.
    [dialed] = [r["params"] for r in app.requests_to("/dialed")]
    assert dialed["CallSid"] == b and dialed["DialCallStatus"] == "completed" and dialed["DialCallSid"] == a
    assert 1 <= int(dialed["DialCallDuration"]) <= 12
    assert "speech (Joanna): Dial was completed" in heard(rig, b)
    said_a = heard(rig, a)
    assert said_a.index("waiting in queue support") < said_a.index("connected from queue support") \
        < said_a.index("left queue support: bridged")
    assert call_a.facts.app_errors == [] and call_b.facts.app_errors == []
    # The switch's side, as mod_fifo: the actions in order, the caller's fifo returning when it was taken
    # (fifo_serviced_uuid: the agent), the bridge the agent's (CHANNEL_BRIDGE on its channel only).
    wait_for(lambda: any(e.get("FIFO-Action") == "consumer_stop" for e in events))
    reader.kill()
    esl.close()
    assert [e["FIFO-Action"] for e in events if e.get("Unique-ID") == a and "FIFO-Action" in e] == CALLER_ACTIONS
    assert [e["FIFO-Action"] for e in events if e.get("Unique-ID") == b and "FIFO-Action" in e] == CONSUMER_ACTIONS
    [fifo_in] = [e for e in events if e.get("Unique-ID") == a and e.get("Application") == "fifo"]
    assert fifo_in["variable_fifo_serviced_uuid"] == b and fifo_in["variable_fifo_status"] == "WAITING"
    assert [e.get("Bridge-B-Unique-ID") for e in events if e["Event-Name"] == "CHANNEL_BRIDGE"] == [a]
    assert [e["Unique-ID"] for e in events if e["Event-Name"] == "CHANNEL_BRIDGE"] == [b]
    [fifo_out] = [e for e in events if e.get("Unique-ID") == b and e.get("Application") == "fifo"]
    assert fifo_out["variable_fifo_status"] == "WAITING" and fifo_out["variable_fifo_target"] == a
    assert int(fifo_out["variable_fifo_bridge_seconds"]) >= 1
    # fifo in returned before the bridge: the caller's socket application ended and it hibernated.
    [socket_done] = [e for e in events if e.get("Unique-ID") == a and e.get("Application") == "socket"]
    [bridge] = [e for e in events if e["Event-Name"] == "CHANNEL_BRIDGE"]
    assert int(socket_done["Event-Date-Timestamp"]) <= int(bridge["Event-Date-Timestamp"])


def test_dial_queue_with_nobody_waiting_and_a_caller_hanging_up_in_the_queue(rig):
    app = rig.app

    def voice(p):
        r = VoiceResponse()
        r.dial(action="/dialed").queue("empty")
        return str(r)

    def dialed(p):
        r = VoiceResponse()
        r.enqueue("lonely", action="/left")
        return str(r)

    app.route("/voice", voice)
    app.route("/dialed", dialed)
    app.route("/left", lambda p: "")
    uuid = rig.call(CallSpec(call_type="konnect", app_url=app.url("/voice"), dialect="twiml"),
                    number="919900000303", hangup_after=4)
    call = rig.wait(uuid)
    [dialed_req] = [r["params"] for r in app.requests_to("/dialed")]
    # fifo ... out nowait returns at once when nobody waits: nobody answered.
    assert dialed_req["DialCallStatus"] == "no-answer" and dialed_req["DialCallDuration"] == "0"
    [left] = [r["params"] for r in app.requests_to("/left")]
    assert left["QueueResult"] == "hangup" and left["QueueSid"] == "lonely" and int(left["QueueTime"]) >= 2
    assert call.facts.app_errors == []


def test_play_digits_and_plivo_dtmf_reach_the_far_end(rig):
    app = rig.app

    def voice(p):
        r = VoiceResponse()
        r.play(digits="1w2")
        r.say("Digits sent")
        return str(r)

    def answer(p):
        if p.get("Event") == "Hangup":
            return ""
        r = px.ResponseElement()
        r.add(px.DTMFElement("34#"))
        r.add_speak("Tones sent")
        return r.to_string()

    app.route("/voice", voice)
    app.route("/answer", answer)
    t = rig.call(CallSpec(call_type="konnect", app_url=app.url("/voice"), dialect="twiml"), number="919900000304")
    p = rig.call(CallSpec(call_type="konnect", app_url=app.url("/answer"), dialect="plivo"), number="919900000305")
    call_t, call_p = rig.wait(t), rig.wait(p)
    assert far_end_heard(rig.sim.switch, t) == "12"
    assert far_end_heard(rig.sim.switch, p) == "34#"
    assert "sending digits 1w2" in heard(rig, t) and "speech (Joanna): Digits sent" in heard(rig, t)
    assert "sending digits 34#" in heard(rig, p)
    assert call_t.facts.app_errors == [] and call_p.facts.app_errors == []

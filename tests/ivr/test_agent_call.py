"""Agent campaigns' calls end to end: simulator process ↔ IVR runtime ↔ real Redis (ivr/agent_call.py).

Speed 20: a simulated second is 50 ms. Redis (the agents' state, the 2 s wait, wrap-ups) runs on the wall clock.
"""

from __future__ import annotations

import json
import time

import gevent
import pytest

from ivr.call_spec import AgentCall, Announcement, CallSpec
from tests.ivr.agent_rig import AgentRig

SCENARIO = {
    "defaults": {"outcome": "answer", "ring": 1},
    "rules": [
        {"match": "away*", "outcome": "no_answer"},       # an agent who is not at the phone
        {"match": "brief*", "hangup_after": 20},          # an agent who hangs up after 20 s (1 s real)
    ],
}
CUSTOMER = "919900000001"


@pytest.fixture
def rig(tmp_path, redis_url, key_prefix):
    r = AgentRig(tmp_path, redis_url, key_prefix, scenario=SCENARIO)
    yield r
    r.stop()


def spec(**agent) -> CallSpec:
    agent.setdefault("campaign_id", "c1")
    return CallSpec(call_type="campaign", campaign_id=agent["campaign_id"], caller_id="918000001234",
                    called_number=CUSTOMER, contact_id="k1", fields={"name": "Asha", "plan": "gold"},
                    agent=AgentCall(**agent))


def test_a_ready_agent_is_connected_at_once_and_gets_the_screen_pop(rig):
    rig.app.route("/pop", lambda p: "ok")
    rig.login("a1")
    started = time.monotonic()
    # The customer talks 40 simulated seconds (2 s) and hangs up.
    uuid = rig.call(spec(agent_url=rig.app.url("/pop"), wrap_up_seconds=5), CUSTOMER, hangup_after=40)
    call = rig.wait(uuid)
    f = call.facts
    assert f.agent_id == "a1" and not f.abandoned and f.amd_result == ""
    assert f.queue_wait_ms is not None and f.queue_wait_ms < 500, rig.lines(uuid)
    assert f.agent_connected_at and f.agent_ended_at and f.agent_ended_at > f.agent_connected_at
    assert f.wrap_up_seconds == 5 and f.app_errors == [] and f.final_status == "end"
    assert time.monotonic() - started < 6
    state = rig.acd.state("a1")
    assert state.state == "wrap_up" and state.call is None
    pops = rig.app.requests_to("/pop")
    assert len(pops) == 1
    body = json.loads(pops[0]["body"])
    assert body["agent_id"] == "a1" and body["call_uuid"] == uuid and body["campaign_id"] == "c1"
    assert body["contact_number"] == CUSTOMER and body["fields"] == {"name": "Asha", "plan": "gold"}


def test_no_ready_agent_within_2s_abandons_with_the_safe_harbour_message(rig):
    rig.login("a1", ready=False)  # logged in but paused: nobody to take the call
    started = time.monotonic()
    uuid = rig.call(spec(), CUSTOMER)
    call = rig.wait(uuid)
    f = call.facts
    assert f.abandoned and f.agent_id is None and f.queue_wait_ms is None
    assert 1.9 <= time.monotonic() - started < 6
    heard = rig.heard(uuid)
    assert heard[0] == ("speech (Joanna): Sorry we missed you. This call was from 9 1 8 0 0 0 0 0 1 2 3 4, and no "
                        "agent is free to take it right now. To reach us, please call 9 1 8 0 0 0 0 0 1 2 3 4. "
                        "Goodbye."), heard
    assert call.ended_by_platform and f.final_status == "end"
    assert rig.acd.state("a1").state == "paused"


def test_the_campaigns_safe_harbour_text_with_placeholders(rig):
    uuid = rig.call(spec(safe_harbour_text="Hello {name}, Acme called from {caller_id}.", connect_wait=0.5),
                    CUSTOMER)
    call = rig.wait(uuid)
    assert call.facts.abandoned
    assert rig.heard(uuid)[0] == "speech (Joanna): Hello Asha, Acme called from 9 1 8 0 0 0 0 0 1 2 3 4."


def test_an_agent_ready_after_1s_still_gets_the_call(rig):
    rig.login("a1", ready=False)
    gevent.spawn_later(1.0, rig.acd.ready, "a1")
    uuid = rig.call(spec(), CUSTOMER, hangup_after=60)
    call = rig.wait(uuid)
    f = call.facts
    assert f.agent_id == "a1" and not f.abandoned
    assert 800 <= f.queue_wait_ms < 2000, f.queue_wait_ms


def test_the_agent_hangs_up_then_wraps_up_then_is_ready(rig):
    rig.login("brief1")
    uuid = rig.call(spec(wrap_up_seconds=1), CUSTOMER)
    call = rig.wait(uuid)
    released = time.monotonic()
    assert call.facts.agent_id == "brief1" and call.ended_by_platform  # the agent left: we hung the customer up
    assert ("heard", "agent brief1 left the call") in [(k, t) for u, k, t in rig.transcript if u == uuid]
    assert rig.acd.state("brief1").state == "wrap_up"
    gevent.sleep(max(0, released + 1.2 - time.monotonic()))
    assert rig.acd.state("brief1").state == "ready"


def test_an_agent_who_does_not_answer_is_paused_and_the_next_one_rung(rig):
    rig.login("away1")       # the longest idle: reserved first, rings out (5 simulated seconds)
    gevent.sleep(0.05)
    rig.login("a2")
    uuid = rig.call(spec(), CUSTOMER, hangup_after=20)
    call = rig.wait(uuid)
    f = call.facts
    assert f.agent_id == "a2" and not f.abandoned, rig.lines(uuid)
    assert f.dial_results == [{"number": "user/away1", "status": "not_answered", "billsec": 0}]
    away = rig.acd.state("away1")
    assert away.state == "paused" and away.reason == "no_answer"


def test_the_customer_hanging_up_while_waiting_gives_nobody_a_call(rig):
    rig.login("a1", ready=False)
    gevent.spawn_later(1.5, rig.acd.ready, "a1")
    uuid = rig.call(spec(), CUSTOMER, hangup_after=10)  # gone 0.5 s after the answer
    call = rig.wait(uuid)
    assert call.facts.agent_id is None and not call.facts.abandoned
    gevent.sleep(0.8)
    state = rig.acd.state("a1")
    assert state.state == "ready" and state.call is None


def test_preview_rings_the_agent_who_accepted_the_contact(rig):
    rig.login("a1")
    gevent.sleep(0.05)
    rig.login("a2")
    uuid = rig.call(spec(mode="preview", reserved_agent_id="a2"), CUSTOMER, hangup_after=20)
    call = rig.wait(uuid)
    assert call.facts.agent_id == "a2"
    assert rig.acd.state("a1").state == "ready"


def test_a_nailed_up_agent_gets_the_customer_in_its_conference_room(rig):
    channel = rig.nail_up("p1")
    uuid = rig.call(spec(wrap_up_seconds=2), CUSTOMER, hangup_after=20)
    call = rig.wait(uuid)
    f = call.facts
    assert f.agent_id == "p1" and not f.abandoned and f.queue_wait_ms < 500
    assert "conference room vaani_agent_p1 (agent p1)" in rig.heard(uuid)
    assert f.agent_connected_at and f.agent_ended_at >= f.agent_connected_at
    state = rig.acd.state("p1")
    assert state.state == "wrap_up" and state.channel == channel
    assert rig.esl.api(f"uuid_exists {channel}").strip() == "true"  # the agent's channel stays up


def test_a_nailed_up_agent_whose_channel_is_gone_is_paused(rig):
    rig.acd.login("p2", "acct1", ["c1"], "user/p2", persistent=True, channel="00000000-0000-0000-0000-000000000000")
    gevent.sleep(0.05)
    rig.login("a2")
    uuid = rig.call(spec(), CUSTOMER, hangup_after=20)
    call = rig.wait(uuid)
    assert call.facts.agent_id == "a2"
    p2 = rig.acd.state("p2")
    assert p2.state == "paused" and p2.reason == "no_channel"


def test_recording_the_conversation(rig, tmp_path):
    rig.login("a1")
    uuid = rig.call(spec(record=True), CUSTOMER, hangup_after=20)
    call = rig.wait(uuid)
    [rec] = call.facts.recordings
    assert rec["url"] == f"http://api.example/recordings/{uuid}-agent.wav" and rec["duration_ms"] > 0
    assert (tmp_path / "recordings" / f"{uuid}-agent.wav").exists()


def test_amd_a_person_saying_hello_goes_to_an_agent(rig):
    rig.login("a1")
    started = time.monotonic()
    uuid = rig.call(spec(amd=True), CUSTOMER, hangup_after=200)
    call = rig.wait(uuid, timeout=20)
    f = call.facts
    assert f.amd_result == "human" and f.agent_id == "a1", rig.lines(uuid)
    assert time.monotonic() - started < 12


def test_amd_a_machine_is_hung_up_on_and_takes_no_agent(rig):
    rig.login("a1")
    uuid = rig.call(spec(amd=True), CUSTOMER, outcome="machine")
    call = rig.wait(uuid)
    f = call.facts
    assert f.amd_result == "machine" and f.agent_id is None and not f.abandoned, rig.lines(uuid)
    assert call.ended_by_platform and rig.heard(uuid) == []
    assert rig.acd.state("a1").state == "ready"


def test_amd_a_machine_gets_the_message_after_its_beep(rig):
    rig.login("a1")
    message = Announcement(text="Hello {name}, this is Acme. Please call us back.")
    uuid = rig.call(spec(amd=True, machine_action="message", message=message), CUSTOMER, outcome="machine")
    call = rig.wait(uuid, timeout=20)
    f = call.facts
    assert f.amd_result == "machine" and f.agent_id is None, rig.lines(uuid)
    assert "amd: machine: beep, leaving the message" in rig.lines(uuid)
    assert rig.heard(uuid)[0] == "speech (Joanna): Hello Asha, this is Acme. Please call us back."


def test_bad_agent_spec_values_are_app_errors_not_tracebacks(rig):
    rig.login("a1")
    uuid = rig.call(spec(connect_wait="soon", machine_action="voicemail"), CUSTOMER, hangup_after=20)
    call = rig.wait(uuid)
    f = call.facts
    assert f.agent_id == "a1"
    assert any("connect_wait 'soon'" in e for e in f.app_errors)
    assert any("machine_action 'voicemail'" in e for e in f.app_errors)
    uuid = rig.call(spec(campaign_id="no such, campaign"), CUSTOMER)
    call = rig.wait(uuid)
    assert call.facts.abandoned and call.facts.final_status == "error"
    assert any("not a valid id" in e for e in call.facts.app_errors)
    assert rig.heard(uuid)[0].startswith("speech (Joanna): Sorry we missed you.")

"""The simulator's mod_fifo over real ESL: who a consumer takes (VIP, priority slot, arrival), what a caller that
hangs up in the queue and a consumer with nobody to take fire, and module_exists / unload / load.

The bridged path as the IVR runtime drives it (socket-controlled calls, TwiML) is in
tests/ivr/test_twiml_queue.py, checked against the real switch by tests/e2e/test_twiml_queue.py.
"""

from __future__ import annotations

import uuid as uuidlib

import pytest

from freeswitch.sim.process import SimulatorProcess
from tests.freeswitch.esl_client import RawClient


@pytest.fixture(scope="module")
def sim():
    with SimulatorProcess(speed=20) as s:
        yield s


@pytest.fixture
def esl(sim):
    c = RawClient(sim.host, sim.port)
    c.auth()
    c.command("event plain CHANNEL_BRIDGE CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE_COMPLETE CUSTOM fifo::info")
    yield c
    c.close()


def api(c: RawClient, cmd: str) -> str:
    return c.command(f"api {cmd}").text()


def originate(c: RawClient, app: str, **variables) -> str:
    uuid = str(uuidlib.uuid4())
    vars_ = ",".join([f"origination_uuid={uuid}"] + [f"{k}={v}" for k, v in variables.items()])
    reply = api(c, f"originate {{{vars_}}}sofia/gateway/gw/5551234 &{app}")
    assert reply.startswith("+OK"), reply
    return uuid


def fifo_actions(events, uuid: str) -> list[str]:
    return [e.headers["FIFO-Action"] for e in events if e.name == "CUSTOM" and e.headers.get("Unique-ID") == uuid]


def test_consumers_take_the_vip_then_the_lowest_slot_then_the_oldest(esl):
    q = f"q{uuidlib.uuid4().hex[:6]}"
    c1 = originate(esl, f"fifo('{q} in undef silence')", fifo_priority=1)
    c2 = originate(esl, f"fifo('{q} in undef silence')", fifo_priority=0)
    c3 = originate(esl, f"fifo('{q} in undef silence')", fifo_priority=1, fifo_vip="true")
    pushed = []
    got = esl.events(lambda e: e.headers.get("FIFO-Action") == "push" and (pushed.append(e) or len(pushed) == 3))
    pushes = {e.headers["Unique-ID"]: e.headers for _, e in got if e.headers.get("FIFO-Action") == "push"}
    assert [pushes[c]["FIFO-Slot"] for c in (c1, c2, c3)] == ["1", "0", "1"]
    taken = []
    for _ in range(3):
        k = originate(esl, f"fifo('{q} out nowait')")
        got = [e for _, e in esl.events(lambda e: e.name == "CHANNEL_BRIDGE" and e.headers["Unique-ID"] == k)]
        caller = got[-1].headers["Bridge-B-Unique-ID"]
        taken.append(caller)
        assert api(esl, f"uuid_getvar {caller} fifo_serviced_uuid") == k
        assert api(esl, f"uuid_getvar {caller} fifo_role") == "caller"
        assert api(esl, f"uuid_getvar {caller} fifo_status") == "TALKING"
        assert api(esl, f"uuid_kill {caller}").startswith("+OK")
        # The caller left: the consumer's fifo (nowait: one caller) returns, its dialplan ends.
        rest = [e for _, e in esl.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.headers["Unique-ID"] == k)]
        done = [e for e in rest if e.name == "CHANNEL_EXECUTE_COMPLETE" and e.headers.get("Unique-ID") == k]
        assert done and done[0].headers["variable_fifo_status"] == "WAITING"
        assert done[0].headers["variable_fifo_target"] == caller
        assert fifo_actions(got + rest, k) == ["consumer_start", "consumer_pop", "channel-consumer-start",
                                               "bridge-consumer-start", "channel-consumer-stop",
                                               "bridge-consumer-stop", "consumer_stop"]
    assert taken == [c3, c2, c1]


def test_a_caller_hanging_up_in_the_queue_aborts_and_nobody_waiting_returns_at_once(esl):
    q = f"q{uuidlib.uuid4().hex[:6]}"
    c = originate(esl, f"fifo('{q} in undef silence')")
    esl.events(lambda e: e.headers.get("FIFO-Action") == "push" and e.headers["Unique-ID"] == c)
    assert api(esl, f"uuid_getvar {c} fifo_status") == "WAITING"
    assert api(esl, f"uuid_getvar {c} fifo_position") == "1"
    api(esl, f"uuid_kill {c}")
    got = [e for _, e in esl.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.headers["Unique-ID"] == c)]
    assert fifo_actions(got, c) == ["abort"]
    [done] = [e for e in got if e.name == "CHANNEL_EXECUTE_COMPLETE" and e.headers.get("Application") == "fifo"]
    assert done.headers["variable_fifo_status"] == "ABORTED" and "variable_fifo_serviced_uuid" not in done.headers
    # The queue is empty again: a consumer that does not wait returns at once, bridged to nobody.
    k = originate(esl, f"fifo('{q} out nowait')")
    got = [e for _, e in esl.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.headers["Unique-ID"] == k)]
    assert fifo_actions(got, k) == ["consumer_start", "consumer_stop"]
    assert not [e for e in got if e.name == "CHANNEL_BRIDGE"]


def test_module_exists_unload_and_load_mod_fifo(esl):
    assert api(esl, "module_exists mod_fifo") == "true"
    assert api(esl, "module_exists mod_nonesuch") == "false"
    assert api(esl, "unload mod_dptools") == "-ERR [Module is not unloadable]\n"
    try:
        assert api(esl, "unload mod_fifo") == "+OK\n"
        assert api(esl, "module_exists mod_fifo") == "false"
        assert api(esl, "unload mod_fifo") == "-ERR [No such module!]\n"
        # An application the switch does not have hangs the call up.
        c = originate(esl, "fifo('q in')")
        got = [e for _, e in esl.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.headers["Unique-ID"] == c)]
        assert got[-1].headers["Hangup-Cause"] == "DESTINATION_OUT_OF_ORDER"
    finally:
        assert api(esl, "load mod_fifo") == "+OK\n"
    assert api(esl, "module_exists mod_fifo") == "true"
    assert api(esl, "load mod_fifo") == "-ERR [Module already loaded]\n"

"""Caller profiles across bridges on the simulator, as FreeSWITCH 1.10.12 keeps them (freeswitch/sim/profile.py):
the originator/originatee clones on the events after a bridge, the B leg dialled from the A leg's profile and
running no application, the teardown order when the B leg hangs up, and the new profile a transfer or a
uuid_bridge gives a leg."""

from __future__ import annotations

import pytest

from freeswitch.sim.process import SimulatorProcess
from tests.freeswitch.esl_client import RawClient

SCENARIO = {"defaults": {"outcome": "answer", "ring": 0.5}}


@pytest.fixture(scope="module")
def sim():
    with SimulatorProcess(speed=20, scenario=SCENARIO) as s:
        yield s


@pytest.fixture
def api(sim):
    c = RawClient(sim.host, sim.port)
    c.auth()
    yield c
    c.close()


@pytest.fixture
def watch(sim):
    c = RawClient(sim.host, sim.port)
    c.auth()
    c.command("event plain ALL")
    yield c
    c.close()


def run(c: RawClient, text: str) -> str:
    return c.command(f"api {text}").text()


def events_until(watch: RawClient, name: str, uuid: str) -> list:
    """Every channel event up to ``uuid``'s ``name`` (HEARTBEATs and the like left out)."""
    got = [e for _, e in watch.events(lambda e: e.name == name and e.headers.get("Unique-ID") == uuid)]
    return [e for e in got if e.headers.get("Unique-ID")]


def test_a_b_leg_that_hangs_up_is_reported_before_the_unbridge_and_both_keep_their_clones(api, watch):
    a = run(api, "originate sofia/gateway/gw/5100 &bridge(sofia/gateway/gw/5101)").split()[1]
    bridged = watch.events(lambda e: e.name == "CHANNEL_BRIDGE")[-1][1].headers
    b = bridged["Other-Leg-Unique-ID"]
    assert bridged["Other-Type"] == "originatee" and "Other-Leg-Profile-Index" not in bridged
    assert bridged["Other-Leg-Logical-Direction"] == "inbound"
    # The A leg took the B leg's callee id; the B leg's profile is a copy of the A leg's.
    assert bridged["Caller-Callee-ID-Name"] == "Outbound Call" and bridged["Caller-Callee-ID-Number"] == "5101"
    assert bridged["Other-Leg-Caller-ID-Number"] == bridged["Caller-Caller-ID-Number"]
    assert bridged["Other-Leg-Orig-Caller-ID-Number"] == bridged["Caller-Orig-Caller-ID-Number"]
    assert run(api, f"uuid_getvar {b} call_uuid") == a  # the A leg's while bridged
    run(api, f"uuid_kill {b}")
    seen = events_until(watch, "CHANNEL_DESTROY", a)
    order = [(e.name, e.headers["Unique-ID"]) for e in seen]
    assert order.index(("CHANNEL_HANGUP_COMPLETE", b)) < order.index(("CHANNEL_UNBRIDGE", a)) \
        < order.index(("CHANNEL_DESTROY", b))
    mine = [e for e in seen if e.headers["Unique-ID"] == b]
    # The B leg ran no application: CS_EXCHANGE_MEDIA, no CHANNEL_EXECUTE, no current_application/last_app.
    assert not [e for e in mine if e.name.startswith("CHANNEL_EXECUTE")]
    assert "CS_EXCHANGE_MEDIA" in [e.headers["Channel-State"] for e in mine if e.name == "CHANNEL_STATE"]
    b_done = next(e for e in mine if e.name == "CHANNEL_HANGUP_COMPLETE").headers
    assert "variable_current_application" not in b_done and "variable_last_app" not in b_done
    assert b_done["Other-Type"] == "originator" and b_done["Other-Leg-Unique-ID"] == a
    assert b_done["Other-Leg-Channel-Answered-Time"] == "0"  # a clone with a zeroed timetable
    assert next(e for e in mine if e.name == "CHANNEL_DESTROY").headers["Channel-Call-UUID"] == b
    a_done = next(e for e in seen if e.name == "CHANNEL_HANGUP_COMPLETE" and e.headers["Unique-ID"] == a).headers
    assert a_done["Other-Type"] == "originatee" and a_done["Other-Leg-Unique-ID"] == b


def test_a_transfer_gives_the_leg_a_new_profile_without_the_clone(api, watch):
    a = run(api, "originate sofia/gateway/gw/5110 &bridge(sofia/gateway/gw/5111)").split()[1]
    watch.events(lambda e: e.name == "CHANNEL_BRIDGE")
    assert run(api, f"uuid_transfer {a} 'park' inline") == "+OK\n"
    park = watch.events(lambda e: e.name == "CHANNEL_PARK" and e.headers["Unique-ID"] == a)[-1][1].headers
    assert park["Caller-Profile-Index"] == "2" and "Other-Type" not in park
    assert park["Caller-Channel-Transfer-Time"] == "0" and park["Caller-Channel-Bridged-Time"] == "0"
    run(api, f"uuid_kill {a}")
    events_until(watch, "CHANNEL_DESTROY", a)


def test_uuid_bridge_runs_no_application_and_sets_both_clones(api, watch):
    a = run(api, "originate sofia/gateway/gw/5120 &park()").split()[1]
    b = run(api, "originate {origination_caller_id_number=5555}sofia/gateway/gw/5121 &park()").split()[1]
    assert run(api, f"uuid_bridge {a} {b}") == f"+OK {b}\n"
    seen = events_until(watch, "CHANNEL_BRIDGE", a)
    executes = [(e.headers["Unique-ID"], e.headers.get("Application-Data")) for e in seen
                if e.name == "CHANNEL_EXECUTE" and e.headers.get("Application") == "uuid_bridge"]
    assert executes == [(a, b), (b, a)]
    assert not [e for e in seen if e.name == "CHANNEL_EXECUTE" and e.headers["Application"].startswith("_")]
    bridged = seen[-1].headers
    assert bridged["Caller-Profile-Index"] == "2"
    assert bridged["Other-Type"] == "originatee" and bridged["Other-Leg-Unique-ID"] == b
    states = [e.headers["Channel-State"] for e in events_until(watch, "CHANNEL_STATE", b)
              if e.name == "CHANNEL_STATE"]
    assert states[-1] == "CS_EXCHANGE_MEDIA"
    run(api, f"uuid_kill {a}")
    b_done = events_until(watch, "CHANNEL_HANGUP_COMPLETE", b)[-1].headers
    assert b_done["Other-Type"] == "originator" and b_done["Other-Leg-Unique-ID"] == a
    assert b_done["Caller-Caller-ID-Number"] == bridged["Caller-Caller-ID-Number"]  # the originator's caller id
    assert b_done["Hangup-Cause"] == "NORMAL_CLEARING"
    assert b_done["variable_last_app"] == "park"  # its last application: uuid_bridge ran none

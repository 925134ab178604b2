"""The platform's inbound ESL client against the simulator: commands, exact event bodies, reconnect."""

from __future__ import annotations

import uuid

import gevent
import pytest

from freeswitch.inbound import ESLError, InboundClient
from freeswitch.sim.process import SimulatorProcess
from tests.conftest import free_port


def _wait(predicate, timeout=10.0):
    deadline = gevent.get_hub().loop.now() + timeout
    while gevent.get_hub().loop.now() < deadline:
        if predicate():
            return True
        gevent.sleep(0.02)
    return False


def test_api_bgapi_and_exact_background_job_body(simulator):
    events = []
    client = InboundClient(simulator.host, simulator.port, simulator.password,
                           events=["BACKGROUND_JOB"], on_event=events.append).start()
    try:
        assert client.wait_connected(5)
        assert "UP" in client.api("status")
        assert client.api("no_such_command").startswith("-ERR")
        job = str(uuid.uuid4())
        call = str(uuid.uuid4())
        assert client.bgapi(f"originate {{origination_uuid={call}}}loopback/9199/default &park()", job) == job
        assert _wait(lambda: any(e.headers.get("Job-UUID") == job for e in events))
        done = next(e for e in events if e.headers.get("Job-UUID") == job)
        # greenswitch would fold this body into the Content-Length header; ours keeps it apart.
        assert done.body.strip() == f"+OK {call}"
        assert client.uuid_exists(call)
        assert call in client.channel_uuids()
        client.api(f"uuid_kill {call}")
        assert _wait(lambda: not client.uuid_exists(call))
    finally:
        client.stop()


def test_wrong_password_never_connects_and_commands_fail_readably(simulator):
    client = InboundClient(simulator.host, simulator.port, "wrong", backoff_max=0.2).start()
    try:
        assert not client.wait_connected(1.0)
        with pytest.raises(ESLError, match="not connected"):
            client.api("status")
    finally:
        client.stop()


def test_reconnects_and_resubscribes_after_the_switch_restarts():
    port = free_port()
    sim = SimulatorProcess(speed=20, port=port).start()
    connects = []
    events = []
    client = InboundClient(sim.host, port, sim.password, events=["CHANNEL_CREATE"], on_event=events.append,
                           on_connect=lambda c: connects.append(c.generation),
                           backoff_min=0.05, backoff_max=0.2).start()
    try:
        assert client.wait_connected(5)
        sim.stop()
        assert _wait(lambda: not client.connected, 5)
        with pytest.raises(ESLError):
            client.api("status")
        sim = SimulatorProcess(speed=20, port=port).start()
        assert client.wait_connected(10)
        assert _wait(lambda: len(connects) >= 2)
        # The subscription was made again on the new connection: its events arrive.
        client.api("originate loopback/9199/default &park()")
        assert _wait(lambda: any(e.headers.get("Event-Name") == "CHANNEL_CREATE" for e in events))
    finally:
        client.stop()
        sim.stop()


def test_json_events_pass_the_same_filters_and_read_like_plain_ones(simulator):
    # Two subscriptions with the dialer's filters, one per format: both get exactly the events of the
    # prefixed call (and every BACKGROUND_JOB), with the same decoded headers and bodies.
    names = ["BACKGROUND_JOB", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"]
    filters = [("variable_vaani_prefix", "jsontest"), ("Event-Name", "BACKGROUND_JOB")]
    got = {"plain": [], "json": []}
    clients = {fmt: InboundClient(simulator.host, simulator.port, simulator.password, events=names,
                                  filters=filters, on_event=got[fmt].append, event_format=fmt).start()
               for fmt in got}
    try:
        assert all(c.wait_connected(5) for c in clients.values())
        ours, other = str(uuid.uuid4()), str(uuid.uuid4())
        note = "a b:c%d é"
        c = clients["json"]
        c.bgapi(f"originate {{origination_uuid={ours},vaani_prefix=jsontest,vaani_note='{note}'}}"
                f"loopback/9199/default &park()", ours)
        c.bgapi(f"originate {{origination_uuid={other},vaani_prefix=someone_else}}loopback/9199/default &park()",
                other)
        assert _wait(lambda: all(any(e.headers.get("Event-Name") == "CHANNEL_ANSWER" for e in evs)
                                 for evs in got.values()))
        c.api(f"uuid_kill {ours}")
        c.api(f"uuid_kill {other}")
        assert _wait(lambda: all(any(e.headers.get("Event-Name") == "CHANNEL_HANGUP_COMPLETE" for e in evs)
                                 for evs in got.values()))
        gevent.sleep(0.3)  # anything the filters should have stopped would have come by now
        for evs in got.values():
            channel = [e for e in evs if e.headers["Event-Name"] != "BACKGROUND_JOB"]
            assert {e.headers["Unique-ID"] for e in channel} == {ours}
            assert {e.headers["Job-UUID"] for e in evs if e.headers["Event-Name"] == "BACKGROUND_JOB"} == \
                {ours, other}
        assert [e.headers for e in got["json"]] == [e.headers for e in got["plain"]]
        assert [e.body for e in got["json"]] == [e.body for e in got["plain"]]
        hangup = next(e for e in got["json"] if e.headers["Event-Name"] == "CHANNEL_HANGUP_COMPLETE")
        assert hangup.headers["variable_vaani_note"] == note
    finally:
        for client in clients.values():
            client.stop()


def test_unknown_event_format_is_refused():
    with pytest.raises(ValueError, match="event_format"):
        InboundClient("127.0.0.1", 8021, "ClueCon", event_format="xml")

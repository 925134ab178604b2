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

"""greenswitch 0.0.19, unmodified, drives the simulator in both directions (InboundESL, OutboundESLServer)."""

from __future__ import annotations

import gevent
import gevent.event
import pytest
from greenswitch import esl

from freeswitch.sim.process import SimulatorProcess


@pytest.fixture(scope="module")
def sim():
    with SimulatorProcess(speed=20) as s:
        yield s


@pytest.fixture
def inbound(sim):
    client = esl.InboundESL(host=sim.host, port=sim.port, password=sim.password)
    client.connect()
    yield client
    client.stop()


def test_inbound_api_and_bgapi_with_events(inbound):
    assert inbound.send("api status").data.startswith("UP ")
    answered = gevent.event.AsyncResult()
    jobs = gevent.event.AsyncResult()
    done = gevent.event.AsyncResult()
    inbound.register_handle("CHANNEL_ANSWER", answered.set)
    inbound.register_handle("BACKGROUND_JOB", jobs.set)
    inbound.register_handle("CHANNEL_HANGUP_COMPLETE", done.set)
    assert inbound.send("event plain CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB").data == \
        "+OK event listener enabled plain"
    reply = inbound.send("bgapi originate {origination_caller_id_number=08012345678,sim_hangup_after=2}"
                         "sofia/gateway/gw/9812345678 &park()")
    job = reply.headers["Job-UUID"]
    ev = answered.get(timeout=10)
    assert ev.headers["Caller-Destination-Number"] == "9812345678"
    assert ev.headers["variable_origination_caller_id_number"] == "08012345678"
    # greenswitch folds the job output into the last header; the job id still identifies it
    assert jobs.get(timeout=10).headers["Job-UUID"] == job
    hc = done.get(timeout=10)
    assert hc.headers["Hangup-Cause"] == "NORMAL_CLEARING"
    assert int(hc.headers["variable_billsec"]) >= 1


def test_inbound_unknown_command_and_uuid_commands(inbound):
    assert inbound.send("api nope").data == "-ERR nope Command not found!\n"
    uuid = inbound.send("api create_uuid").data
    assert inbound.send(f"api uuid_exists {uuid}").data == "false"
    out = inbound.send("api originate {origination_uuid=%s,vaani_call=xyz}sofia/gateway/gw/5551 &park()" % uuid).data
    assert out == f"+OK {uuid}\n"
    assert inbound.send(f"api uuid_exists {uuid}").data == "true"
    assert inbound.send(f"api uuid_getvar {uuid} vaani_call").data == "xyz"
    assert inbound.send(f"api uuid_getvar {uuid} nothing_here").data == "_undef_"
    assert inbound.send(f"api uuid_setvar {uuid} foo bar").data == "+OK\n"
    assert inbound.send(f"api uuid_getvar {uuid} foo").data == "bar"
    assert inbound.send(f"api uuid_kill {uuid} USER_BUSY").data == "+OK\n"


class _App:
    """A small IVR on greenswitch's OutboundSession, as the runtime would write one."""

    results: dict = {}

    def __init__(self, session):
        self.session = session

    def run(self):
        s = self.session
        s.connect()
        s.myevents()
        s.linger()
        s.answer()
        r = _App.results
        r["uuid"] = s.uuid
        r["vaani_call"] = s.session_data.get("variable_vaani_call")
        played = s.playback("tone_stream://%(200,0,440)")
        r["playback"] = played.headers.get("Application-Response")
        r["digits"] = s.play_and_get_digits(1, 1, 5, 4000, "#", "silence_stream://300", "silence_stream://100",
                                            "choice", "\\d", 2000)
        s.hangup("NORMAL_CLEARING")
        r["done"] = True


def test_outbound_server_drives_a_call(sim, inbound):
    _App.results = {}
    server = esl.OutboundESLServer(bind_address="127.0.0.1", bind_port=0, application=_App, max_connections=5)
    # bind_port=0: greenswitch treats 0 as falsy for bound_port; bind a real free port instead
    from tests.conftest import free_port

    server.bind_port = [free_port()]
    listener = gevent.spawn(server.listen)
    try:
        for _ in range(100):
            if server.bound_port:
                break
            gevent.sleep(0.02)
        done = gevent.event.AsyncResult()
        inbound.register_handle("CHANNEL_HANGUP_COMPLETE", done.set)
        inbound.send("event plain CHANNEL_HANGUP_COMPLETE")
        # greenswitch polls its listening socket every 0.1 s (2 s of simulated time at speed 20),
        # so the caller presses 7 ten simulated seconds after answering, well inside the collection window.
        reply = inbound.send("api originate {vaani_call=abc,sim_dtmf=7@10}sofia/gateway/gw/5552 "
                             f"&socket('127.0.0.1:{server.bound_port} async full')").data
        assert reply.startswith("+OK")
        hc = done.get(timeout=15)
        for _ in range(100):
            if _App.results.get("done"):
                break
            gevent.sleep(0.05)
        assert _App.results["uuid"] == reply.split()[1]
        assert _App.results["vaani_call"] == "abc"
        assert _App.results["playback"] == "FILE PLAYED"
        assert _App.results["digits"] == "7"
        assert hc.headers["variable_choice"] == "7"
    finally:
        server.stop()
        listener.kill()

"""originate: dial-string grammar, outcomes and causes, retries, failover, simultaneous legs, session limits."""

from __future__ import annotations

import pytest

from freeswitch.sim.process import SimulatorProcess
from tests.freeswitch.esl_client import RawClient, capture_frame

SCENARIO = {
    "defaults": {"outcome": "answer", "ring": 1},
    "rules": [
        {"match": "1000", "outcome": "busy"},
        {"match": "1001", "outcome": "no_answer"},
        {"match": "1002", "outcome": "rejected"},
        {"match": "1003", "outcome": "unallocated"},
        {"match": "1004", "outcome": "congestion"},
        {"match": "1005", "outcome": "machine"},
        {"match": "1006", "ring": 4},
        {"match": "1007", "early_media": True},
        {"match": "/^2\\d{3}$/", "outcome": "fail", "cause": "NORMAL_TEMPORARY_FAILURE"},
    ],
}


@pytest.fixture(scope="module")
def sim():
    with SimulatorProcess(speed=20, scenario=SCENARIO) as s:
        yield s


@pytest.fixture
def c(sim):
    client = RawClient(sim.host, sim.port)
    client.auth()
    yield client
    client.close()


def api(c, text):
    return c.command("api " + text).text()


@pytest.mark.parametrize("number, reply", [
    ("1000", "-ERR USER_BUSY\n"),
    ("1002", "-ERR CALL_REJECTED\n"),
    ("1003", "-ERR UNALLOCATED_NUMBER\n"),
    ("1004", "-ERR NORMAL_CIRCUIT_CONGESTION\n"),
    ("2000", "-ERR NORMAL_TEMPORARY_FAILURE\n"),
])
def test_failed_outcomes_reply_with_the_cause(c, number, reply):
    c.command("event plain CHANNEL_HANGUP_COMPLETE")
    assert api(c, f"originate sofia/gateway/gw/{number} &park()") == reply
    (frame, ev), = c.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE")
    assert ev.headers["Hangup-Cause"] == reply.split()[1]
    assert ev.headers["variable_billsec"] == "0"


def test_no_answer_until_originate_timeout(c):
    assert api(c, "originate {originate_timeout=3}sofia/gateway/gw/1001 &park()") == "-ERR NO_ANSWER\n"
    assert api(c, "originate sofia/gateway/gw/1001 &park() XML default caller 123 2") == "-ERR NO_ANSWER\n"


def test_answering_machine_answers(c):
    reply = api(c, "originate sofia/gateway/gw/1005 &park()")
    assert reply.startswith("+OK ")
    api(c, f"uuid_kill {reply.split()[1]}")


def test_early_media_fires_progress_media(c):
    c.command("event plain CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_ANSWER")
    reply = api(c, "originate sofia/gateway/gw/1007 &park()")
    got = c.events(lambda e: e.name == "CHANNEL_ANSWER")
    assert [e.name for _, e in got] == ["CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER"]
    api(c, f"uuid_kill {reply.split()[1]}")


def test_usage_and_bad_endpoints(c):
    assert api(c, "originate").startswith("-USAGE: <call url> <exten>|&<application_name>(<app_args>)")
    assert api(c, "originate sofia/gateway/gw/1").startswith("-USAGE:")
    assert api(c, "originate foo/bar &park()") == "-ERR CHAN_NOT_IMPLEMENTED\n"
    assert api(c, "originate error/user_busy &park()") == "-ERR USER_BUSY\n"


def test_caller_id_uuid_and_variables_land_on_the_channel(c):
    c.command("event plain CHANNEL_CREATE CHANNEL_ANSWER")
    uuid = "5e0c0c0c-1111-4222-8333-944444444444"
    reply = api(c, "originate {origination_uuid=%s,origination_caller_id_name='Vaani Test',"
                   "origination_caller_id_number=08047000000,vaani_request_id=42}"
                   "[vaani_attempt_id=7]sofia/gateway/gw/9812345678 &park()" % uuid)
    assert reply == f"+OK {uuid}\n"
    got = c.events(lambda e: e.name == "CHANNEL_ANSWER")
    create = next(e for _, e in got if e.name == "CHANNEL_CREATE").headers
    assert create["Unique-ID"] == uuid
    assert create["Caller-Caller-ID-Name"] == "Vaani Test"
    assert create["Caller-Caller-ID-Number"] == "08047000000"
    assert create["Caller-Destination-Number"] == "9812345678"
    assert create["Call-Direction"] == "outbound"
    assert create["variable_vaani_request_id"] == "42"
    assert create["variable_vaani_attempt_id"] == "7"
    assert create["variable_sip_gateway_name"] == "gw"
    assert "variable_origination_uuid" not in create
    assert api(c, f"uuid_getvar {uuid} originate_endpoint") == "sofia"
    api(c, f"uuid_kill {uuid}")


def test_sequential_failover_tries_the_next_group(c):
    c.command("event plain CHANNEL_HANGUP_COMPLETE CHANNEL_ANSWER")
    reply = api(c, "originate sofia/gateway/gw/1000|sofia/gateway/gw/5550001 &park()")
    assert reply.startswith("+OK ")
    got = c.events(lambda e: e.name == "CHANNEL_ANSWER")
    busy = [e for _, e in got if e.name == "CHANNEL_HANGUP_COMPLETE"]
    assert busy[0].headers["Caller-Destination-Number"] == "1000"
    assert busy[0].headers["Hangup-Cause"] == "USER_BUSY"
    answer = [e for _, e in got if e.name == "CHANNEL_ANSWER"][0]
    assert answer.headers["Caller-Destination-Number"] == "5550001"
    api(c, f"uuid_kill {reply.split()[1]}")


def test_simultaneous_legs_first_answer_wins_others_lose_the_race(c):
    c.command("event plain CHANNEL_HANGUP_COMPLETE")
    reply = api(c, "originate [leg=a]sofia/gateway/gw/1006,[leg=b]sofia/gateway/gw/5550002 &park()")
    uuid = reply.split()[1]
    assert api(c, f"uuid_getvar {uuid} leg") == "b"
    (frame, ev), = c.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE")
    assert ev.headers["Caller-Destination-Number"] == "1006"
    assert ev.headers["Hangup-Cause"] == "LOSE_RACE"
    assert ev.headers["variable_group_dial_status"] == "loser"
    api(c, f"uuid_kill {uuid}")


def test_originate_retries(c):
    c.command("event plain CHANNEL_CREATE")
    assert api(c, "originate {originate_retries=3,originate_retry_sleep_ms=500}sofia/gateway/gw/1000 &park()") == \
        "-ERR USER_BUSY\n"
    # The events follow the api reply (the listener writes them once the blocking command is done).
    assert not c.pending
    creates = []
    c.events(lambda e: creates.append(e) or len(creates) == 3)
    assert [e.name for e in creates] == ["CHANNEL_CREATE"] * 3


def test_extension_goes_through_the_dialplan(c):
    reply = api(c, "originate sofia/gateway/gw/5550003 9999 XML default")
    uuid = reply.split()[1]
    assert api(c, f"uuid_getvar {uuid} current_application") == "park"
    api(c, f"uuid_kill {uuid}")


def test_uuid_commands(c):
    uuid = api(c, "originate sofia/gateway/gw/5550004 &park()").split()[1]
    reply = api(c, f"uuid_send_dtmf {uuid} 1234")
    template = capture_frame("14_api_uuid_send_dtmf_reply.bin").text()
    assert reply == template.replace("b9ea7a95-5b51-49ba-bda4-15e62214894d", uuid)
    assert api(c, f"uuid_break {uuid}") == "+OK\n"
    assert api(c, f"uuid_setvar {uuid} a") == "+OK\n"
    assert api(c, f"uuid_getvar {uuid} a") == "_undef_"
    # The last argument keeps the rest of the line, as FreeSWITCH's tokenizer leaves it (argv is full).
    assert api(c, f"uuid_setvar {uuid} greeting hello  there, world") == "+OK\n"
    assert api(c, f"uuid_getvar {uuid} greeting") == "hello  there, world"
    assert api(c, "uuid_getvar 00000000-0000-0000-0000-000000000000 a") == "-ERR No such channel!\n"
    assert api(c, "uuid_setvar x") == "-USAGE: <uuid> <var> [value]\n"
    assert api(c, "create_uuid") != api(c, "create_uuid")
    assert api(c, "global_getvar hostname")
    assert api(c, f"hupall NORMAL_CLEARING vaani_nothing x") == \
        "+OK hangup all channels matching [vaani_nothing]=[x] with cause: NORMAL_CLEARING\n"
    assert api(c, f"uuid_exists {uuid}") == "true"
    c.command("event plain CHANNEL_HANGUP_COMPLETE")
    assert api(c, "hupall MANAGER_REQUEST") == "+OK hangup all channels with cause MANAGER_REQUEST\n"
    got = c.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.headers["Unique-ID"] == uuid)
    assert got[-1][1].headers["Hangup-Cause"] == "MANAGER_REQUEST"


def test_uuid_transfer_and_bridge(sim, c):
    a = api(c, "originate sofia/gateway/gw/5550005 &park()").split()[1]
    b = api(c, "originate sofia/gateway/gw/5550006 &park()").split()[1]
    c.command("event plain CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_HANGUP_COMPLETE")
    assert api(c, f"uuid_bridge {a} {b}") == f"+OK {b}\n"
    (frame, ev), = c.events(lambda e: e.name == "CHANNEL_BRIDGE")
    assert ev.headers["Bridge-A-Unique-ID"] == a and ev.headers["Other-Leg-Unique-ID"] == b
    assert api(c, f"uuid_getvar {a} bridge_to") == b and api(c, f"uuid_getvar {b} bridge_to") == a
    assert api(c, f"uuid_kill {b}") == "+OK\n"
    # The originator is left with nothing to run (its park was interrupted): it hangs up too.
    got = c.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.headers["Unique-ID"] == a)
    assert [e.name for _, e in got].count("CHANNEL_UNBRIDGE") == 1
    hangup = got[-1][1].headers
    assert hangup["Hangup-Cause"] == "NORMAL_CLEARING" and hangup["variable_bridge_hangup_cause"] == "NORMAL_CLEARING"
    assert hangup["variable_transfer_source"].endswith(f":{a}:uuid_br:{b}")
    d = api(c, "originate sofia/gateway/gw/5550007 &park()").split()[1]
    assert api(c, f"uuid_transfer {d} 7000 XML default") == "+OK\n"
    assert api(c, f"uuid_getvar {d} max_forwards") == "70"
    assert api(c, f"uuid_getvar {d} transfer_source").endswith(f":{d}:bl_xfer:7000/default/XML")
    assert api(c, "uuid_transfer 00000000-0000-0000-0000-000000000000 1") == "-ERR No such channel!\n"
    assert api(c, f"uuid_transfer {d}") == "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
    assert api(c, f"uuid_bridge {d} 00000000-0000-0000-0000-000000000000") == "-ERR Invalid uuid\n"
    api(c, f"uuid_kill {d}")


def test_max_sessions_and_fsctl():
    with SimulatorProcess(speed=20, max_sessions=2) as s:
        c = RawClient(s.host, s.port)
        c.auth()
        try:
            a = api(c, "originate sofia/gateway/gw/5551 &park()")
            b = api(c, "originate sofia/gateway/gw/5552 &park()")
            assert a.startswith("+OK") and b.startswith("+OK")
            assert api(c, "originate sofia/gateway/gw/5553 &park()") == "-ERR DESTINATION_OUT_OF_ORDER\n"
            assert api(c, "fsctl max_sessions") == "+OK max sessions: 2\n"
            assert api(c, "fsctl max_sessions 3") == "+OK max sessions: 3\n"
            assert api(c, "originate sofia/gateway/gw/5553 &park()").startswith("+OK")
            status = api(c, "status")
            assert "3 session(s) - peak 3" in status and "3 session(s) max" in status
        finally:
            c.close()


def test_sessions_per_second_throttle():
    with SimulatorProcess(speed=20, sps=4) as s:
        c = RawClient(s.host, s.port)
        c.auth()
        try:
            assert api(c, "fsctl sps") == "+OK sessions per second: 4\n"
            c.command("event plain BACKGROUND_JOB")
            for i in range(8):
                c.command(f"bgapi originate sofia/gateway/gw/600{i} &park()")
            results = []
            while len(results) < 8:
                frame = c.read()
                if frame.content_type == "text/event-plain" and b"BACKGROUND_JOB" in frame.body:
                    results.append(frame.body.split(b"\n\n", 1)[1].decode())
            refused = [r for r in results if r == "-ERR DESTINATION_OUT_OF_ORDER\n"]
            # FreeSWITCH admits sps-1 sessions in a second (it refuses when the counter reaches 0).
            # (8 commands normally fall in one second: 5 refused; a busy machine may spread them over two)
            assert 2 <= len(refused) <= 5
            assert api(c, "fsctl sps 100") == "+OK sessions per second: 100\n"
        finally:
            c.close()


def test_fsctl_pause_outbound_refuses_originates(c):
    assert api(c, "fsctl pause outbound") == "+OK\n"
    try:
        assert api(c, "originate sofia/gateway/gw/5551 &park()") == "-ERR DESTINATION_OUT_OF_ORDER\n"
    finally:
        assert api(c, "fsctl resume outbound") == "+OK\n"
    reply = api(c, "originate sofia/gateway/gw/5551 &park()")
    assert reply.startswith("+OK")
    api(c, f"uuid_kill {reply.split()[1]}")

"""Inbound Event Socket conformance: the simulator's bytes against a real FreeSWITCH 1.10.12's (captures)."""

from __future__ import annotations

import json
import re

import pytest

from freeswitch import wire
from freeswitch.sim.process import SimulatorProcess
from tests.freeswitch.esl_client import CAPTURES, RawClient, capture, capture_frame, header_names

pytestmark = pytest.mark.skipif(not CAPTURES.is_dir(), reason="FreeSWITCH captures not available")

UUID_RE = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def sim():
    with SimulatorProcess(speed=20) as s:
        yield s


@pytest.fixture
def client(sim):
    c = RawClient(sim.host, sim.port)
    yield c
    c.close()


def test_banner_and_auth_are_byte_identical(client):
    assert client.read() is not None
    assert bytes(client.raw) == capture("01_auth_request_banner.bin")
    client.raw.clear()
    client.command("auth ClueCon")
    assert bytes(client.raw) == capture("02_auth_reply_ok.bin")


def test_commands_before_auth_are_refused_and_the_connection_stays(client):
    client.read()
    reply = client.command("api status")
    assert reply.headers == {"Content-Type": "command/reply", "Reply-Text": "-ERR command not found"}
    assert client.command("auth ClueCon").headers["Reply-Text"] == "+OK accepted"


def test_wrong_password_gets_err_invalid_then_disconnect_notice_and_close(client):
    client.read()
    client.raw.clear()
    client.send("auth nope")
    frames = []
    while True:
        f = client.read()
        if f is None:
            break
        frames.append(f)
    assert bytes(client.raw) == capture("09_auth_reply_invalid.bin") + capture("08_disconnect_notice.bin")


def test_exit_replies_bye_then_disconnect_notice(client):
    client.auth()
    client.raw.clear()
    client.send("exit")
    while client.read() is not None:
        pass
    assert bytes(client.raw) == capture("07_exit_reply.bin") + capture("08_disconnect_notice.bin")


@pytest.mark.parametrize("command, name", [
    ("api show channels", "04_api_show_channels_reply.bin"),
    ("api show channels as json", "05_api_show_channels_json_reply.bin"),
    ("api no_such_command", "06_api_unknown_command_reply.bin"),
    ("event plain ALL", "10_event_plain_all_reply.bin"),
    ("event json CHANNEL_CREATE", "11_event_json_reply.bin"),
    ("event xml CHANNEL_CREATE", "12_event_xml_reply.bin"),
])
def test_replies_are_byte_identical(sim, command, name):
    c = RawClient(sim.host, sim.port)
    try:
        c.auth()
        c.raw.clear()
        c.command(command)
        assert bytes(c.raw) == capture(name)
    finally:
        c.close()


def test_api_status_has_freeswitch_shape(client):
    client.auth()
    client.raw.clear()
    reply = client.command("api status")
    assert list(reply.headers) == ["Content-Type", "Content-Length"]
    ours = reply.text().splitlines()
    theirs = capture_frame("03_api_status_reply.bin").text().splitlines()
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert re.sub(r"\d+(\.\d+)?", "N", a) == re.sub(r"\d+(\.\d+)?", "N", b)


def test_bgapi_reply_and_background_job_match_captures(client):
    client.auth()
    client.command("event plain BACKGROUND_JOB")
    client.raw.clear()
    reply = client.command("bgapi create_uuid")
    assert list(reply.headers) == list(capture_frame("13_bgapi_reply.bin").headers)
    job = reply.headers["Job-UUID"]
    assert reply.headers["Reply-Text"] == f"+OK Job-UUID: {job}"
    (frame, ev), = client.events(lambda e: e.name == "BACKGROUND_JOB")
    theirs = capture_frame("evplain_BACKGROUND_JOB.bin")
    assert header_names(frame) == header_names(theirs)[:-3] + ["Job-UUID", "Job-Command", "Content-Length"] \
        or header_names(frame) == [n for n in header_names(theirs) if n != "Job-Command-Arg"]
    assert ev.headers["Job-UUID"] == job
    assert UUID_RE.fullmatch(ev.body.encode())


def test_bgapi_honours_a_client_job_uuid_and_reports_originate_output(client):
    client.auth()
    client.command("event plain BACKGROUND_JOB")
    job = "11111111-2222-3333-4444-555555555555"
    reply = client.command(f"bgapi originate loopback/9199/default &park()\nJob-UUID: {job}")
    assert reply.headers["Job-UUID"] == job
    (frame, ev), = client.events(lambda e: e.name == "BACKGROUND_JOB")
    assert header_names(frame) == header_names(capture_frame("evplain_BACKGROUND_JOB.bin"))
    assert ev.headers["Job-Command"] == "originate"
    assert ev.headers["Job-Command-Arg"] == "loopback/9199/default &park()"
    assert re.fullmatch(r"\+OK [0-9a-f-]{36}\n", ev.body)
    client.command(f"api uuid_kill {ev.body.split()[1]}")


# --- channel events of a loopback originate, against the loopback capture ---------

PROFILE_OPTIONAL = {"Caller-Dialplan", "Caller-Caller-ID-Name", "Caller-Orig-Caller-ID-Name", "Caller-Callee-ID-Name",
                    "Caller-Network-Addr", "Caller-Callee-ID-Number"}


APP_VARS = {"variable_digits_dialed", "variable_last_dtmf_duration", "variable_current_application_data",
            "variable_current_application_response", "variable_last_arg", "variable_playback_last_offset_pos",
            "variable_playback_ms", "variable_playback_samples", "variable_playback_seconds",
            "variable_playback_terminators", "variable_current_loop", "variable_total_loops"}


def _names(frame) -> list[str]:
    return [n for n in header_names(frame) if not n.startswith("variable_") and n not in PROFILE_OPTIONAL]


@pytest.fixture(scope="module")
def loopback_events(sim):
    c = RawClient(sim.host, sim.port)
    c.auth()
    c.command("event plain ALL")
    reply = c.command("api originate loopback/9199/default &park()")
    uuid = reply.text().split()[1]
    c.command(f"api uuid_recv_dtmf {uuid} 5")
    got = c.events(lambda e: e.name == "DTMF")
    c.command(f"api uuid_kill {uuid}")
    got += c.events(lambda e: e.name == "CHANNEL_STATE" and e.headers.get("Channel-State") == "CS_DESTROY")
    c.close()
    return uuid, [(f, e) for f, e in got if e.headers.get("Unique-ID") == uuid]


def test_loopback_originate_fires_freeswitch_event_sequence(loopback_events):
    uuid, events = loopback_events
    seq = [e.name for _, e in events]
    # The A leg of the capture: it answers without ringing (its B leg rings).
    expected = ["CHANNEL_OUTGOING", "CHANNEL_STATE", "CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_STATE",
                "CHANNEL_STATE", "CHANNEL_ANSWER", "CHANNEL_CALLSTATE",
                "CALL_UPDATE", "CHANNEL_STATE", "CHANNEL_EXECUTE", "CHANNEL_PARK", "DTMF", "CHANNEL_HANGUP",
                "CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_STATE", "CHANNEL_CALLSTATE", "CHANNEL_STATE",
                "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY", "CHANNEL_STATE"]
    assert seq == expected
    states = [e.headers["Channel-State"] for _, e in events if e.name == "CHANNEL_STATE"]
    assert states == ["CS_INIT", "CS_ROUTING", "CS_CONSUME_MEDIA", "CS_EXECUTE", "CS_HANGUP", "CS_REPORTING",
                      "CS_DESTROY"]


@pytest.mark.parametrize("kind", [
    "CHANNEL_OUTGOING", "CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_ANSWER", "CHANNEL_STATE", "CALL_UPDATE",
    "CHANNEL_EXECUTE", "CHANNEL_PARK", "CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY", "DTMF",
])
def test_channel_event_headers_match_capture(loopback_events, kind):
    _, events = loopback_events
    ours = next(f for f, e in events if e.name == kind)
    theirs = capture_frame(f"evplain_{kind}.bin")
    if kind.startswith("CHANNEL_EXECUTE"):
        # The capture's application had data and ran before the hangup; park has none and ends with it.
        drop = {"Application-Data", "Hangup-Cause"}
        assert [n for n in _names(ours) if n not in drop] == [n for n in _names(theirs) if n not in drop]
    else:
        assert _names(ours) == _names(theirs)
    # Variables FreeSWITCH sends are there too (those of the capture's other applications aside).
    their_vars = {n for n in header_names(theirs) if n.startswith("variable_")}
    our_vars = {n for n in header_names(ours) if n.startswith("variable_")}
    missing = their_vars - our_vars - APP_VARS
    assert not missing, missing


def test_callstate_headers_match_capture(loopback_events):
    _, events = loopback_events
    ours = next(f for f, e in events if e.name == "CHANNEL_CALLSTATE")
    assert _names(ours) == _names(capture_frame("evplain_CHANNEL_CALLSTATE.bin"))


def test_hangup_complete_carries_cdr_variables(loopback_events):
    _, events = loopback_events
    ev = next(e for _, e in events if e.name == "CHANNEL_HANGUP_COMPLETE")
    h = ev.headers
    assert h["Hangup-Cause"] == "NORMAL_CLEARING"
    assert h["variable_hangup_cause_q850"] == "16"
    for name in ("billsec", "duration", "answer_epoch", "end_epoch", "start_epoch", "billmsec", "answer_uepoch"):
        assert re.fullmatch(r"\d+", h[f"variable_{name}"]), name
    assert int(h["variable_end_epoch"]) - int(h["variable_answer_epoch"]) == int(h["variable_billsec"])
    assert int(h["variable_end_epoch"]) - int(h["variable_start_epoch"]) == int(h["variable_duration"])
    assert int(h["variable_billmsec"]) <= int(h["variable_mduration"])


def test_event_values_are_url_encoded_like_freeswitch(sim):
    c = RawClient(sim.host, sim.port)
    try:
        c.auth()
        c.command("event plain CHANNEL_CREATE")
        odd = "a b:c%d+e\nf&g=hé"
        reply = c.command("api originate {vaani_x='" + odd.replace("\n", "\\n") + "'}sofia/gateway/gw/5551234 &park()")
        uuid = reply.text().split()[1]
        (frame, ev), = c.events(lambda e: e.name == "CHANNEL_CREATE")
        assert f"variable_vaani_x: {wire.url_encode(odd)}\n".encode() in frame.body
        assert ev.headers["variable_vaani_x"] == odd
        c.command(f"api uuid_kill {uuid}")
    finally:
        c.close()


def test_json_events_are_cjson_shaped(sim):
    c = RawClient(sim.host, sim.port)
    try:
        c.auth()
        c.command("event json CHANNEL_ANSWER BACKGROUND_JOB")
        c.command("bgapi originate sofia/gateway/gw/5551234 &park()")
        got = c.events(lambda e: e.name == "BACKGROUND_JOB")
        answer = next(f for f, e in got if e.name == "CHANNEL_ANSWER")
        job = next(f for f, e in got if e.name == "BACKGROUND_JOB")
        assert list(answer.headers) == ["Content-Length", "Content-Type"]
        keys = [k for k, _ in json.loads(answer.body, object_pairs_hook=lambda p: p)]
        their = [k for k, _ in json.loads(capture_frame("evjson_CHANNEL_ANSWER.bin").body, object_pairs_hook=lambda p: p)]
        assert keys[:13] == their[:13]
        pairs = json.loads(job.body, object_pairs_hook=lambda p: p)
        assert [k for k, _ in pairs][-2:] == ["Content-Length", "_body"]
        body = dict(pairs)["_body"]
        assert dict(pairs)["Content-Length"] == str(len(body))
        c.command(f"api uuid_kill {body.split()[1]}")
    finally:
        c.close()


def test_show_channels_lists_active_legs_like_freeswitch(sim):
    c = RawClient(sim.host, sim.port)
    try:
        c.auth()
        uuid = c.command("api originate sofia/gateway/gw/5551234 &park()").text().split()[1]
        text = c.command("api show channels").text()
        lines = text.split("\n")
        assert lines[0] == capture_frame("15_api_show_channels_2_active.bin").text().split("\n")[0]
        assert any(line.startswith(uuid + ",outbound,") for line in lines)
        assert re.search(r"\n\n\d+ total\.\n$", text)
        data = json.loads(c.command("api show channels as json").text())
        assert data["row_count"] >= 1 and any(r["uuid"] == uuid for r in data["rows"])
        assert c.command(f"api uuid_kill {uuid}").text() == "+OK\n"
        for _ in range(100):  # destroyed a moment after the hangup
            if c.command(f"api uuid_exists {uuid}").text() == "false":
                break
        assert c.command(f"api uuid_kill {uuid}").text() == "-ERR No such channel!\n"
    finally:
        c.close()


def test_event_subscription_commands(client):
    client.auth()
    assert client.command("event").headers["Reply-Text"] == "-ERR no keywords supplied"
    assert client.command("event plain").headers["Reply-Text"] == "-ERR no keywords supplied"
    assert client.command("event plain CHANNEL_ANSWER").headers["Reply-Text"] == "+OK event listener enabled plain"
    assert client.command("nixevent CHANNEL_ANSWER").headers["Reply-Text"] == "+OK events nixed"
    assert client.command("noevents").headers["Reply-Text"] == "+OK no longer listening for events"
    assert client.command("noevents").headers["Reply-Text"] == "-ERR not listening for events"
    assert client.command("filter Unique-ID abc").headers["Reply-Text"] == "+OK filter added. [Unique-ID]=[abc]"
    assert client.command("filter delete Unique-ID abc").headers["Reply-Text"] == "+OK filter deleted. [Unique-ID][abc]"
    assert client.command("linger").headers["Reply-Text"] == "-ERR not controlling a session"
    assert client.command("nolinger").headers["Reply-Text"] == "-ERR not controlling a session"
    assert client.command("divert_events on").headers["Reply-Text"] == "-ERR not controlling a session."
    assert client.command("myevents 00000000-0000-0000-0000-000000000000 plain").headers["Reply-Text"] == \
        "-ERR invalid uuid"
    assert client.command("sendmsg 00000000-0000-0000-0000-000000000000\ncall-command: hangup").headers[
        "Reply-Text"] == "-ERR invalid session id [00000000-0000-0000-0000-000000000000]"
    assert client.command("bogus").headers["Reply-Text"] == "-ERR command not found"


def test_filter_limits_events_to_matching_channel(sim):
    c = RawClient(sim.host, sim.port)
    try:
        c.auth()
        c.command("event plain CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE")
        target = "aaaaaaaa-0000-4000-8000-000000000001"
        c.command(f"filter Unique-ID {target}")
        other = c.command("api originate sofia/gateway/gw/5550001 &park()").text().split()[1]
        c.command(f"api originate {{origination_uuid={target}}}sofia/gateway/gw/5550002 &park()")
        c.command(f"api uuid_kill {other}")
        c.command(f"api uuid_kill {target}")
        got = c.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE")
        assert {e.headers["Unique-ID"] for _, e in got} == {target}
    finally:
        c.close()


def test_myevents_on_inbound_socket_follows_one_channel(sim):
    c = RawClient(sim.host, sim.port)
    try:
        c.auth()
        uuid = c.command("api originate sofia/gateway/gw/5551234 &park()").text().split()[1]
        assert c.command(f"myevents {uuid}").headers["Reply-Text"] == "+OK Events Enabled"
        assert c.command(f"myevents {uuid}").headers["Reply-Text"] == "-ERR aready enabled."
        c.command("api originate sofia/gateway/gw/5559999 &hangup()")
        c.command(f"api uuid_kill {uuid}")
        got = c.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE")
        assert {e.headers["Unique-ID"] for _, e in got} == {uuid}
    finally:
        c.close()


def test_myevents_connection_is_let_go_when_its_channel_ends(sim):
    c = RawClient(sim.host, sim.port)
    try:
        c.auth()
        uuid = c.command("api originate sofia/gateway/gw/5551234 &park()").text().split()[1]
        c.command(f"myevents {uuid}")
        c.command(f"api uuid_kill {uuid}")
        frames = []
        while True:
            f = c.read()
            if f is None:
                break
            frames.append(f)
        assert frames[-1].headers["Content-Type"] == "text/disconnect-notice"
        assert frames[-1].headers["Controlled-Session-UUID"] == uuid
        assert frames[-1].headers["Content-Disposition"] == "disconnect"
    finally:
        c.close()


def test_sofia_leg_events_match_the_sipp_captures(sim):
    c = RawClient(sim.host, sim.port)
    try:
        c.auth()
        c.command("event plain CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE")
        uuid = c.command("api originate sofia/internal/sipp@127.0.0.1:5080 &park()").text().split()[1]
        c.command(f"api uuid_kill {uuid}")
        got = c.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE")
        for frame, ev in got:
            name = "50_sofia_sipp_CHANNEL_ANSWER.bin" if ev.name == "CHANNEL_ANSWER" else \
                "51_sofia_sipp_CHANNEL_HANGUP_COMPLETE.bin"
            theirs = capture_frame(name)
            assert [n for n in header_names(frame) if not n.startswith("variable_")] == \
                [n for n in header_names(theirs) if not n.startswith("variable_")]
            ours_vars = {n for n in header_names(frame) if n.startswith("variable_")}
            media = ("variable_rtp", "variable_sip_", "variable_switch_r", "variable_ep_", "variable_remote_",
                     "variable_local_media", "variable_advertised", "variable_original_")
            missing = [n for n in header_names(theirs) if n.startswith("variable_") and n not in ours_vars
                       and not n.startswith(media) and n not in ("variable_digits_dialed", "variable_call_uuid")]
            assert not missing, missing
        hc = got[-1][1].headers
        assert hc["variable_sip_hangup_disposition"] == "send_bye"
    finally:
        c.close()


def test_far_end_hangup_and_refusal_dispositions(sim):
    c = RawClient(sim.host, sim.port)
    try:
        c.auth()
        c.command("event plain CHANNEL_HANGUP_COMPLETE")
        c.command("api originate {sim_hangup_after=1}sofia/gateway/gw/5551234 &park()")
        assert c.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE")[-1][1].headers[
            "variable_sip_hangup_disposition"] == "recv_bye"
        c.command("api originate {sim_outcome=busy}sofia/gateway/gw/5551234 &park()")
        assert c.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE")[-1][1].headers[
            "variable_sip_hangup_disposition"] == "recv_refuse"
    finally:
        c.close()


def test_custom_events_go_to_subscribers_of_their_subclass(sim):
    c = RawClient(sim.host, sim.port)
    try:
        c.auth()
        c.command("event plain CUSTOM vaani::test")
        assert c.command("sendevent CUSTOM\nEvent-Subclass: other::thing").headers["Reply-Text"].startswith("+OK ")
        assert c.command("sendevent CUSTOM\nEvent-Subclass: vaani::test\nX-Note: hello").headers[
            "Reply-Text"].startswith("+OK ")
        (frame, ev), = c.events(lambda e: e.name == "CUSTOM")
        assert ev.headers["Event-Subclass"] == "vaani::test"
        assert ev.headers["X-Note"] == "hello"
    finally:
        c.close()


@pytest.mark.parametrize("kind", ["CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"])
def test_json_channel_events_keep_freeswitch_key_order(sim, kind):
    c = RawClient(sim.host, sim.port)
    try:
        c.auth()
        c.command(f"event json {kind}")
        uuid = c.command("api originate loopback/9199/default &park()").text().split()[1]
        c.command(f"api uuid_kill {uuid}")
        (frame, ev), = c.events(lambda e: e.name == kind)
        ours = [k for k, _ in json.loads(frame.body, object_pairs_hook=lambda p: p)]
        theirs = [k for k, _ in json.loads(capture_frame(f"evjson_{kind}.bin").body, object_pairs_hook=lambda p: p)]
        strip = lambda keys: [k for k in keys if not k.startswith("variable_") and k not in PROFILE_OPTIONAL]  # noqa: E731
        assert strip(ours) == strip(theirs)
    finally:
        c.close()


def test_xml_channel_events_have_freeswitch_layout(sim):
    c = RawClient(sim.host, sim.port)
    try:
        c.auth()
        c.command("event xml CHANNEL_CREATE")
        uuid = c.command("api originate loopback/9199/default &park()").text().split()[1]
        c.command(f"api uuid_kill {uuid}")
        frame = c.read()
        while frame.content_type != "text/event-xml":
            frame = c.read()
        theirs = capture_frame("evxml_CHANNEL_CREATE.bin")
        assert list(frame.headers) == list(theirs.headers)
        tags = lambda body: [t for t in re.findall(rb"^\s*<([A-Za-z][^>]*)>", body, re.M)  # noqa: E731
                             if not t.startswith(b"variable_") and t.decode() not in PROFILE_OPTIONAL]
        assert tags(frame.body) == tags(theirs.body)
        assert frame.body.endswith(b"  </headers>\n</event>\n")
    finally:
        c.close()

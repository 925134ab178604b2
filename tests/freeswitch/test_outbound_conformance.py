"""Outbound Event Socket conformance: the `socket` application against a raw listener, compared with captures 30–41."""

from __future__ import annotations

import pytest

from freeswitch import wire
from freeswitch.sim.process import SimulatorProcess
from tests.freeswitch.esl_client import CAPTURES, RawClient, RawListener, capture, capture_frame, header_names

pytestmark = pytest.mark.skipif(not CAPTURES.is_dir(), reason="FreeSWITCH captures not available")


@pytest.fixture(scope="module")
def sim():
    with SimulatorProcess(speed=20) as s:
        yield s


@pytest.fixture
def listener():
    lst = RawListener()
    yield lst
    lst.close()


@pytest.fixture
def api(sim):
    c = RawClient(sim.host, sim.port)
    c.auth()
    yield c
    c.close()


def originate(api, listener, number="5551234", socket_args=None, vars_=""):
    args = socket_args or f"'{listener.address} async full'"
    reply = api.command(f"api originate {vars_}sofia/gateway/gw/{number} &socket({args})")
    assert reply.text().startswith("+OK"), reply.text()
    return reply.text().split()[1]


def sendmsg(conn, app, arg=None, event_uuid=None, extra=""):
    lines = ["sendmsg", "call-command: execute", f"execute-app-name: {app}"]
    if arg is not None:
        lines.append(f"execute-app-arg: {arg}")
    if event_uuid:
        lines.append(f"Event-UUID: {event_uuid}")
    if extra:
        lines.append(extra)
    return conn.command("\n".join(lines))


PROFILE_OPTIONAL = {"Caller-Dialplan", "Caller-Caller-ID-Name", "Caller-Orig-Caller-ID-Name", "Caller-Callee-ID-Name",
                    "Caller-Network-Addr", "Caller-Callee-ID-Number"}


def _names_no_vars(frame):
    return [n for n in header_names(frame) if not n.startswith("variable_") and n not in PROFILE_OPTIONAL]


def test_connect_reply_matches_capture_30(api, listener):
    uuid = originate(api, listener)
    conn = listener.accept()
    try:
        conn.send("connect")
        reply = conn.read()
        raw = bytes(conn.raw)
        theirs = capture("30_outbound_async_connect_reply.bin")
        # One header block, no body, no Content-Length; the same header names in the same order.
        assert "Content-Length" not in reply.headers and reply.body == b""
        ours_names = [line.split(b":")[0] for line in raw.split(b"\n") if line and not line.startswith(b"variable_")]
        their_names = [line.split(b":")[0] for line in theirs.split(b"\n") if line and not line.startswith(b"variable_")]
        optional = {b"Channel-Dialplan", b"Caller-Dialplan", b"Channel-Callee-ID-Name", b"Caller-Callee-ID-Name",
                    b"Channel-Network-Addr", b"Caller-Network-Addr", b"Channel-Caller-ID-Name",
                    b"Caller-Caller-ID-Name", b"Channel-Orig-Caller-ID-Name", b"Caller-Orig-Caller-ID-Name"}
        assert [n for n in ours_names if n not in optional] == [n for n in their_names if n not in optional]
        assert raw.endswith(b"Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: async\nControl: full\n\n")
        assert reply.headers["Unique-ID"] == uuid
        assert reply.headers["Channel-Unique-ID"] == uuid
        assert wire.url_decode(reply.headers["variable_current_application_data"]) == f"{listener.address} async full"
        assert reply.headers["variable_socket_host"] == "127.0.0.1"
        assert reply.headers["Event-Date-Local"].count("%20") == 1  # URL-encoded values
    finally:
        conn.close()
        api.command(f"api uuid_kill {uuid}")


def test_full_async_session_like_capture_41(api, listener):
    uuid = originate(api, listener)
    conn = listener.accept()
    try:
        conn.command("connect")
        conn.raw.clear()
        assert conn.command("myevents").headers == capture_frame("31_outbound_async_myevents_reply.bin").headers
        assert conn.command("linger").headers == capture_frame("32_outbound_async_linger_reply.bin").headers
        status = conn.command("api status")
        assert list(status.headers) == ["Content-Type", "Content-Length"]
        assert status.text().startswith("UP ")
        a_uuid = "9ea25162-c2af-4744-aff2-a30365da446c"
        reply = sendmsg(conn, "answer", event_uuid=a_uuid)
        assert reply.headers == capture_frame("34_outbound_async_sendmsg_answer_reply.bin").headers
        got = conn.events(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE")
        complete = got[-1]
        assert complete[1].headers["Application"] == "answer"
        assert complete[1].headers["Application-Response"] == "_none_"
        assert complete[1].headers["Application-UUID"] == a_uuid
        theirs = capture_frame("35_outbound_async_answer_CHANNEL_EXECUTE_COMPLETE.bin")
        assert _names_no_vars(complete[0]) == _names_no_vars(theirs)
        p_uuid = "8e6fa6db-176a-4261-bcac-cee8ec6028cc"
        sendmsg(conn, "playback", "tone_stream://%(300,0,440)", p_uuid)
        got = conn.events(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE")
        frame, ev = got[-1]
        theirs = capture_frame("37_outbound_async_playback_CHANNEL_EXECUTE_COMPLETE.bin")
        assert _names_no_vars(frame) == _names_no_vars(theirs)
        assert ev.headers["Application-Response"] == "FILE PLAYED"
        assert ev.headers["Application-Data"] == "tone_stream://%(300,0,440)"
        assert b"Application-Data: tone_stream%3A//%25(300,0,440)\n" in frame.body
        assert ev.headers["variable_playback_ms"] == "300"
        assert ev.headers["variable_playback_samples"] == "2400"
        reply = conn.command("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING")
        assert reply.headers == capture_frame("38_outbound_async_sendmsg_hangup_reply.bin").headers
        got = []
        while True:
            frame = conn.read()
            assert frame is not None
            got.append(frame)
            if frame.content_type == "text/disconnect-notice":
                break
        names = [wire.parse_event(f).name for f in got if f.content_type == "text/event-plain"]
        assert names == ["CHANNEL_HANGUP", "CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_STATE",
                         "CHANNEL_STATE", "CHANNEL_HANGUP_COMPLETE"]
        hc = next(f for f in got if f.content_type == "text/event-plain"
                  and wire.parse_event(f).name == "CHANNEL_HANGUP_COMPLETE")
        ours = [n for n in _names_no_vars(hc)]
        theirs = _names_no_vars(capture_frame("39_outbound_async_CHANNEL_HANGUP_COMPLETE.bin"))
        assert ours == theirs
        socket_done = wire.parse_event(got[2])
        assert socket_done.headers["Application"] == "socket"
        notice = bytes(conn.raw).rsplit(b"Content-Type: text/disconnect-notice", 1)[1]
        expected = capture("40_outbound_async_text_disconnect-notice.bin").replace(
            b"0e417eb0-b4a2-4f97-a7ba-3c26b9509f1f", uuid.encode()).replace(
            b"loopback/7000-b", b"sofia/vaani/5551234")
        assert b"Content-Type: text/disconnect-notice" + notice == expected
    finally:
        conn.close()


def test_caller_hangup_mid_playback_ends_the_app_and_lingers(api, listener):
    uuid = originate(api, listener, vars_="{sim_hangup_after=2}")
    conn = listener.accept()
    try:
        conn.command("connect")
        conn.command("myevents")
        conn.command("linger")
        sendmsg(conn, "answer")
        sendmsg(conn, "playback", "silence_stream://60000")
        frames = []
        while True:
            frame = conn.read()
            assert frame is not None
            frames.append(frame)
            if frame.content_type == "text/disconnect-notice":
                break
        events = [wire.parse_event(f) for f in frames if f.content_type == "text/event-plain"]
        play_done = [e for e in events if e.name == "CHANNEL_EXECUTE_COMPLETE" and e.headers["Application"] == "playback"]
        assert play_done and play_done[0].headers["Application-Response"] == "PLAYBACK ERROR"
        names = [e.name for e in events]
        assert names.index("CHANNEL_HANGUP") < names.index("CHANNEL_HANGUP_COMPLETE")
        hangup = next(e for e in events if e.name == "CHANNEL_HANGUP_COMPLETE")
        assert hangup.headers["Hangup-Cause"] == "NORMAL_CLEARING"
        assert frames[-1].headers["Content-Disposition"] == "linger"
        # While lingering the socket stays open; closing it releases the channel.
        conn.close()
        import time

        for _ in range(200):
            if api.command(f"api uuid_exists {uuid}").text() == "false":
                break
            time.sleep(0.05)
        assert api.command(f"api uuid_exists {uuid}").text() == "false"
    finally:
        conn.close()


def test_without_linger_the_final_disconnect_notice_closes_the_socket(api, listener):
    uuid = originate(api, listener)
    conn = listener.accept()
    try:
        conn.command("connect")
        conn.command("myevents")
        sendmsg(conn, "hangup", "USER_BUSY")
        frames = []
        while True:
            frame = conn.read()
            if frame is None:
                break
            frames.append(frame)
        notice = frames[-1]
        assert notice.headers == {"Content-Type": "text/disconnect-notice", "Controlled-Session-UUID": uuid,
                                  "Content-Disposition": "disconnect", "Content-Length": "67"}
        assert notice.body == wire.DISCONNECT_GOODBYE.encode()
        hc = [wire.parse_event(f) for f in frames if f.content_type == "text/event-plain"
              and wire.parse_event(f).name == "CHANNEL_HANGUP_COMPLETE"]
        assert hc[0].headers["Hangup-Cause"] == "USER_BUSY"
    finally:
        conn.close()


def test_linger_with_seconds_and_nolinger(api, listener):
    uuid = originate(api, listener)
    conn = listener.accept()
    try:
        conn.command("connect")
        assert conn.command("linger 5").headers["Reply-Text"] == "+OK will linger 5 seconds"
        assert conn.command("nolinger").headers["Reply-Text"] == "+OK will not linger"
        assert conn.command("linger 1").headers["Reply-Text"] == "+OK will linger 1 seconds"
        conn.command("sendmsg\ncall-command: hangup")
        frames = []
        while True:
            frame = conn.read()
            if frame is None:
                break
            frames.append(frame)
        notices = [f for f in frames if f.content_type == "text/disconnect-notice"]
        assert [n.headers["Content-Disposition"] for n in notices] == ["linger", "disconnect"]
        assert notices[0].headers["Linger-Time"] == "1"
    finally:
        conn.close()


def test_unquoted_socket_arguments_are_lost_and_the_socket_runs_static(api, listener):
    uuid = originate(api, listener, socket_args=f"{listener.address} async full")
    conn = listener.accept()
    try:
        reply = conn.command("connect")
        assert reply.headers["Socket-Mode"] == "static"
        assert reply.headers["Control"] == "single-channel"
        assert wire.url_decode(reply.headers["variable_current_application_data"]) == listener.address
        assert conn.command("linger").headers["Reply-Text"] == "-ERR command not found"
        assert conn.command("api status").headers["Reply-Text"] == "-ERR command not found"
        assert conn.command("myevents").headers["Reply-Text"] == "+OK Events Enabled"
        # static mode: the reply comes after the application has run
        reply = sendmsg(conn, "playback", "silence_stream://400")
        assert reply.headers["Reply-Text"] == "+OK"
        done = [e for _, e in conn.events(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE")]
        assert done[-1].headers["Application"] == "playback"
    finally:
        conn.close()
        api.command(f"api uuid_kill {uuid}")


def test_sync_full_socket_reports_static_full(api, listener):
    uuid = originate(api, listener, socket_args=f"'{listener.address} full'")
    conn = listener.accept()
    try:
        reply = conn.command("connect")
        assert (reply.headers["Socket-Mode"], reply.headers["Control"]) == ("static", "full")
        assert conn.command("linger").headers["Reply-Text"] == "+OK will linger"
    finally:
        conn.close()
        api.command(f"api uuid_kill {uuid}")


def test_getvar_resume_and_body_argument(api, listener):
    uuid = originate(api, listener, vars_="{vaani_call=abc123}")
    conn = listener.accept()
    try:
        conn.command("connect")
        conn.command("myevents")
        assert conn.command("getvar vaani_call").headers["Reply-Text"] == "abc123"
        assert conn.command("resume").headers["Reply-Text"] == "+OK"
        # the application argument in a body (content-type text/plain), as clients send long arguments
        body = "vaani_note=a value with spaces"
        conn.sock.sendall(f"sendmsg\ncall-command: execute\nexecute-app-name: set\ncontent-type: text/plain\n"
                          f"content-length: {len(body)}\n\n{body}".encode())
        got = conn.events(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE")
        assert got[-1][1].headers["Application-Data"] == body
        assert conn.command("getvar vaani_note").headers["Reply-Text"] == "a value with spaces"
    finally:
        conn.close()
        api.command(f"api uuid_kill {uuid}")


def test_bgapi_on_outbound_socket_reports_job_owner(api, listener):
    uuid = originate(api, listener)
    conn = listener.accept()
    try:
        conn.command("connect")
        conn.command("myevents")
        conn.command("event plain BACKGROUND_JOB")
        reply = conn.command("bgapi uuid_getvar " + uuid + " originate_endpoint")
        job = reply.headers["Job-UUID"]
        (frame, ev), = [x for x in conn.events(lambda e: e.name == "BACKGROUND_JOB") if x[1].name == "BACKGROUND_JOB"]
        assert ev.headers["Job-UUID"] == job
        assert ev.headers["Job-Owner-UUID"] == uuid
        assert ev.body == "sofia"
    finally:
        conn.close()
        api.command(f"api uuid_kill {uuid}")


def test_socket_to_a_closed_port_continues_the_dialplan(api):
    lst = RawListener()
    address = lst.address
    lst.close()
    api.command("event plain CHANNEL_HANGUP_COMPLETE")
    reply = api.command(f"api originate sofia/gateway/gw/5551234 &socket('{address} async full')")
    uuid = reply.text().split()[1]
    got = api.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.headers["Unique-ID"] == uuid)
    assert got[-1][1].headers["Hangup-Cause"] == "NORMAL_CLEARING"
    api.command("noevents")


def test_static_full_session_orders_replies_events_and_notice_like_capture_41_sync(api, listener):
    uuid = originate(api, listener, socket_args=f"'{listener.address} full'")
    conn = listener.accept()
    try:
        conn.command("connect")
        conn.command("myevents")
        conn.command("linger")
        conn.raw.clear()
        conn.send("sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: silence_stream://300")
        kinds = []
        while len(kinds) < 3:
            f = conn.read()
            kinds.append(f.headers.get("Reply-Text") or wire.parse_event(f).name)
        assert kinds == ["+OK", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"]
        conn.send("sendmsg\ncall-command: hangup")
        kinds = []
        while len(kinds) < 3:
            f = conn.read()
            kinds.append(f.headers.get("Reply-Text") or f.headers.get("Content-Disposition")
                         or wire.parse_event(f).name)
        assert kinds == ["+OK", "linger", "CHANNEL_HANGUP"]
    finally:
        conn.close()

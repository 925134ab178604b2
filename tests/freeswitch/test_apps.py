"""Dialplan applications over a raw outbound socket: timing, variables, responses, files, far-end behaviour."""

from __future__ import annotations

import http.server
import io
import os
import threading
import uuid as uuidlib
import wave

import pytest

from freeswitch import wire
from freeswitch.sim.process import SimulatorProcess
from tests.freeswitch.esl_client import RawClient, RawListener

SCENARIO = {
    "defaults": {"outcome": "answer", "ring": 0.5},
    "rules": [
        {"match": "3000", "outcome": "busy"},
        {"match": "3001", "hangup_after": 2, "ring": 1},
    ],
}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    rec = tmp_path_factory.mktemp("recordings")
    with SimulatorProcess(speed=20, scenario=SCENARIO, recordings_dir=str(rec)) as s:
        s.recdir = str(rec)
        yield s


@pytest.fixture(scope="module")
def api(sim):
    c = RawClient(sim.host, sim.port)
    c.auth()
    yield c
    c.close()


class Call:
    """A call handed to our raw listener with &socket(... async full)."""

    def __init__(self, api, vars_="", number="5551234"):
        self.listener = RawListener()
        reply = api.command(f"api originate {vars_}sofia/gateway/gw/{number} "
                            f"&socket('{self.listener.address} async full')").text()
        assert reply.startswith("+OK"), reply
        self.uuid = reply.split()[1]
        self.conn = self.listener.accept()
        self.data = self.conn.command("connect").headers
        self.conn.command("myevents")
        self.events: list[wire.Event] = []

    def run(self, app, arg=None, timeout=15.0) -> wire.Event:
        """Execute an app and return its CHANNEL_EXECUTE_COMPLETE."""
        event_uuid = str(uuidlib.uuid4())
        lines = ["sendmsg", "call-command: execute", f"execute-app-name: {app}", f"Event-UUID: {event_uuid}"]
        if arg is not None:
            lines.append(f"execute-app-arg: {arg}")
        assert self.conn.command("\n".join(lines)).headers["Reply-Text"] == "+OK"
        got = self.conn.events(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE"
                               and e.headers.get("Application-UUID") == event_uuid, timeout=timeout)
        self.events += [e for _, e in got]
        return got[-1][1]

    def close(self):
        self.conn.close()
        self.listener.close()


@pytest.fixture
def call(api):
    calls = []

    def make(**kw):
        c = Call(api, **kw)
        calls.append(c)
        return c
    yield make
    for c in calls:
        api.command(f"api uuid_kill {c.uuid}")
        c.close()


def test_answer_set_export_and_variables(call):
    c = call()
    done = c.run("set", "vaani_x=1")
    assert done.headers["Application-Data"] == "vaani_x=1"
    assert done.headers["variable_vaani_x"] == "1"
    done = c.run("export", "vaani_y=2")
    assert done.headers["variable_vaani_y"] == "2"
    assert "vaani_y" in done.headers["variable_export_vars"]
    done = c.run("set", "vaani_x=")
    assert "variable_vaani_x" not in done.headers


def test_playback_sources(call, tmp_path):
    c = call()
    wav = tmp_path / "prompt.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 8000 * 2)  # two seconds
    done = c.run("playback", str(wav))
    assert done.headers["Application-Response"] == "FILE PLAYED"
    assert done.headers["variable_playback_seconds"] == "2"
    assert done.headers["variable_playback_ms"] == "2000"
    done = c.run("playback", "/nonexistent/prompt.wav")
    assert done.headers["Application-Response"] == "FILE NOT FOUND"
    done = c.run("playback", "silence_stream://500")
    assert done.headers["variable_playback_ms"] == "500"
    done = c.run("playback", "file_string://silence_stream://200!tone_stream://%(100,100,440)")
    assert done.headers["variable_playback_ms"] == "400"


class _Audio(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/hello.wav":
            self.send_response(404)
            self.end_headers()
            return
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\0\0" * 4000)  # half a second
        body = buf.getvalue()
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def test_playback_fetches_http_urls(call):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Audio)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        c = call()
        done = c.run("playback", f"{base}/hello.wav")
        assert done.headers["Application-Response"] == "FILE PLAYED"
        assert done.headers["variable_playback_ms"] == "500"
        done = c.run("playback", f"{base}/missing.wav")
        assert done.headers["Application-Response"] == "FILE NOT FOUND"
    finally:
        server.shutdown()


def test_play_and_get_digits_collects_caller_dtmf(call):
    c = call(vars_="{sim_dtmf='12#@1'}")
    done = c.run("play_and_get_digits", "1 4 1 4000 # silence_stream://3000 silence_stream://100 vaani_digits \\d+")
    assert done.headers["variable_vaani_digits"] == "12"
    assert done.headers["variable_read_result"] == "success"
    assert done.headers["variable_read_terminator_used"] == "#"
    assert done.headers["Application-Data"].startswith("1 4 1 4000 #")


def test_play_and_get_digits_regex_failure_sets_invalid(call):
    c = call(vars_="{sim_dtmf='9@0.5'}")
    done = c.run("play_and_get_digits", "1 1 1 1500 # silence_stream://200 silence_stream://100 choice [12]")
    assert "variable_choice" not in done.headers
    assert done.headers["variable_choice_invalid"] == "9"


def test_play_and_get_digits_timeout(call):
    c = call()
    done = c.run("play_and_get_digits", "1 1 2 1000 # silence_stream://100 silence_stream://100 choice")
    assert "variable_choice" not in done.headers
    assert done.headers["variable_read_result"] == "failure" or done.headers["variable_read_result"] == "timeout"


def test_read_app(call):
    c = call(vars_="{sim_dtmf='5@0.5'}")
    done = c.run("read", "1 1 silence_stream://2000 vaani_read 3000 #")
    assert done.headers["variable_vaani_read"] == "5"
    assert done.headers["variable_read_result"] == "success"


def test_dtmf_events_carry_digit_duration_and_source(call):
    c = call(vars_="{sim_dtmf='3@0.2'}")
    c.run("sleep", "1500")
    dtmf = next(e for e in c.events if e.name == "DTMF")
    assert dtmf.headers["DTMF-Digit"] == "3"
    assert dtmf.headers["DTMF-Duration"] == "2000"
    assert dtmf.headers["DTMF-Source"] == "RTP"


def test_record_writes_the_callers_talk_to_a_wav(sim, call):
    c = call(vars_="{sim_talk_seconds=2}")
    os.makedirs(os.path.join(sim.recdir, "sub"), exist_ok=True)  # record creates no directory
    path = os.path.join(sim.recdir, "sub", "msg.wav")
    done = c.run("record", f"{path} 20 200 1")
    assert int(done.headers["variable_record_ms"]) == 3000  # 2 s of talk, then 1 s of silence
    assert done.headers["variable_record_seconds"] == "3"
    with wave.open(path) as w:
        assert w.getframerate() == 8000
        assert w.getnframes() == 3 * 8000
        talk = w.readframes(8000)
        assert any(talk[i] for i in range(0, len(talk), 2))
    c.run("set", f"sound_prefix={sim.recdir}")  # where FreeSWITCH puts a relative path
    relative = c.run("record", "msg2.wav 1")
    # The 1 s limit is checked in whole epoch seconds: the recording ends at the second after it.
    assert 1000 < int(relative.headers["variable_record_ms"]) <= 2000
    assert os.path.exists(os.path.join(sim.recdir, "msg2.wav"))


def test_record_stops_on_terminator(sim, call):
    c = call(vars_="{sim_talk_seconds=10,sim_dtmf='#@3'}")
    c.run("set", "playback_terminators=#")
    done = c.run("record", f"{sim.recdir}/term.wav 20")
    assert done.headers["variable_playback_terminator_used"] == "#"
    assert int(done.headers["variable_record_ms"]) < 20000  # not the time limit


def test_caller_hangs_up_mid_collect(api, call):
    c = call(number="3001")
    done = c.run("play_and_get_digits", "1 1 3 5000 # silence_stream://500 silence_stream://100 choice")
    assert "variable_choice" not in done.headers
    got = c.conn.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE")
    assert got[-1][1].headers["Hangup-Cause"] == "NORMAL_CLEARING"


def test_bridge_success_and_failure(api, call):
    c = call()
    c.run("answer")
    done = c.run("bridge", "{sim_hangup_after=1}sofia/gateway/gw/5557777")
    assert done.headers["variable_originate_disposition"] == "SUCCESS"
    assert done.headers["variable_bridge_hangup_cause"] == "NORMAL_CLEARING"
    names = [e.name for e in c.events]
    assert names.index("CHANNEL_BRIDGE") < names.index("CHANNEL_UNBRIDGE")
    bridge = next(e for e in c.events if e.name == "CHANNEL_BRIDGE")
    assert bridge.headers["Other-Leg-Destination-Number"] == "5557777"
    failed = c.run("bridge", "sofia/gateway/gw/3000")
    assert failed.headers["variable_originate_disposition"] == "USER_BUSY"
    assert failed.headers["variable_DIALSTATUS"] == "BUSY"


def test_caller_hangs_up_mid_bridge(api, call):
    c = call(vars_="{sim_hangup_after=2}")
    api.command("event plain CHANNEL_HANGUP_COMPLETE")
    done = c.run("bridge", "sofia/gateway/gw/5558888")
    assert done.headers["Application"] == "bridge"
    names = [e.name for e in c.events]
    assert "CHANNEL_UNBRIDGE" in names
    got = api.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE"
                     and e.headers["Caller-Destination-Number"] == "5558888")
    b_leg = got[-1][1]
    assert b_leg.headers["Hangup-Cause"] == "NORMAL_CLEARING"
    assert b_leg.headers["variable_last_bridge_role"] == "originatee"
    api.command("noevents")


def test_show_calls_pairs_bridged_legs(api, call):
    c = call()
    c.conn.send(f"sendmsg\ncall-command: execute\nexecute-app-name: bridge\nexecute-app-arg: sofia/gateway/gw/5559999")
    c.conn.events(lambda e: e.name == "CHANNEL_BRIDGE")
    text = api.command("api show calls").text()
    row = next(line for line in text.split("\n") if line.startswith(c.uuid))
    assert ",5559999," in row
    assert text.split("\n")[0].startswith("uuid,direction,created,created_epoch,name,state")
    assert "b_uuid" in text.split("\n")[0]


def test_hangup_app_with_cause(call):
    c = call()
    c.conn.send("sendmsg\ncall-command: execute\nexecute-app-name: hangup\nexecute-app-arg: USER_BUSY")
    got = c.conn.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE")
    assert got[-1][1].headers["Hangup-Cause"] == "USER_BUSY"


def test_sched_hangup_and_speak(call):
    c = call()
    done = c.run("speak", "flite|slt|Hello there, this is a test of the speaking clock.")
    assert done.headers["Application"] == "speak"
    c.run("sched_hangup", "+1 ALLOTTED_TIMEOUT")
    got = c.conn.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE")
    assert got[-1][1].headers["Hangup-Cause"] == "ALLOTTED_TIMEOUT"


def test_unknown_application_hangs_up(call):
    c = call()
    c.conn.send("sendmsg\ncall-command: execute\nexecute-app-name: no_such_app")
    got = c.conn.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE")
    assert got[-1][1].headers["Hangup-Cause"] == "DESTINATION_OUT_OF_ORDER"


def test_inbound_call_reaches_the_ivr_socket():
    lst = RawListener()
    try:
        with SimulatorProcess(speed=20, inbound_socket=lst.address) as s:
            c = RawClient(s.host, s.port)
            c.auth()
            reply = c.command("api sim_inbound 9876543210 08040000000 {sim_dtmf=4@0.5,vaani_tag=x}").text()
            assert reply.startswith("+OK ")
            conn = lst.accept()
            data = conn.command("connect").headers
            assert data["Call-Direction"] == "inbound"
            assert data["Caller-Caller-ID-Number"] == "9876543210"
            assert data["Caller-Destination-Number"] == "08040000000"
            assert data["Answer-State"] == "ringing"
            assert data["variable_vaani_tag"] == "x"
            conn.command("myevents")
            conn.send("sendmsg\ncall-command: execute\nexecute-app-name: answer")
            got = conn.events(lambda e: e.name == "DTMF")
            assert got[-1][1].headers["DTMF-Digit"] == "4"
            conn.close()
            c.close()
    finally:
        lst.close()


def test_hangup_message_interrupts_a_playback(call):
    c = call()
    c.conn.send("sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: silence_stream://60000")
    c.conn.events(lambda e: e.name == "CHANNEL_EXECUTE")
    c.conn.send("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING")
    got = c.conn.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE", timeout=5)
    done = next(e for _, e in got if e.name == "CHANNEL_EXECUTE_COMPLETE" and e.headers["Application"] == "playback")
    assert done.headers["Application-Response"] == "PLAYBACK ERROR"


def test_say_parts_inside_file_string_cannot_be_opened(call):
    """FreeSWITCH 1.10 opens each file_string:// part as a file: 'say:' parts fail ('Invalid file format'),
    the read ends at once with no digits and read_result unset, although the caller pressed a key."""
    c = call(vars_="{sim_dtmf='1@0.5'}")
    c.run("answer")
    done = c.run("play_and_get_digits",
                 "1 1 1 4000 # 'file_string://say:Press 1 for sales!say:Press 2 for help' silence_stream://1 pick")
    assert "variable_pick" not in done.headers
    assert "variable_read_result" not in done.headers
    # One openable part is enough: the say: parts are skipped and the tone plays, digits are read.
    done = c.run("play_and_get_digits",
                 "1 1 1 4000 # 'file_string://say:skipped!tone_stream://%(1000,0,440)' silence_stream://1 pick")
    assert done.headers.get("variable_read_result") == "success"
    assert done.headers.get("variable_pick") == "1"


def test_playback_delimiter_speaks_say_parts_in_one_prompt(call):
    """With playback_delimiter, switch_ivr_play_file walks the parts itself and speaks 'say:' ones;
    a key during the second part ends the whole prompt and is the collected digit."""
    c = call(vars_="{sim_dtmf='2@2.5'}")
    c.run("answer")
    c.run("multiset", "playback_delimiter=! playback_sleep_val=0 tts_engine=flite tts_voice=slt")
    done = c.run("play_and_get_digits",
                 "1 1 1 4000 # 'say:Press 1 for sales!say:Press 2 for help, or wait for the operator' "
                 "silence_stream://1 pick")
    assert done.headers.get("variable_read_result") == "success"
    assert done.headers.get("variable_pick") == "2"
    # Played as a prompt, a missing last part makes the read fail as the file_string did.
    done = c.run("play_and_get_digits", "1 1 1 2000 # 'say:Hello!/no/such/file.wav' silence_stream://1 pick")
    assert "variable_read_result" not in done.headers



def test_ring_ready_rings_an_inbound_call_once_and_not_after_early_media():
    """switch_channel_perform_ring_ready_value: 180 (CHANNEL_PROGRESS) on a ringing inbound channel; nothing once
    it has early media (or is answered) — a 183 is not followed by a 180."""
    lst = RawListener()
    try:
        with SimulatorProcess(speed=20, inbound_socket=lst.address) as s:
            c = RawClient(s.host, s.port)
            c.auth()
            names = []
            for number in ("08040000001", "08040000002"):
                assert c.command(f"api sim_inbound 9876543210 {number}").text().startswith("+OK ")
                conn = lst.accept()
                conn.command("connect")
                conn.command("myevents")
                apps = ("ring_ready",) if number.endswith("1") else ("pre_answer", "ring_ready")
                for app_name in apps + ("hangup",):
                    conn.send(f"sendmsg\ncall-command: execute\nexecute-app-name: {app_name}")
                got = conn.events(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE")
                names.append([e.name for _, e in got if e.name in ("CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA")])
                conn.close()
            c.close()
    finally:
        lst.close()
    assert names == [["CHANNEL_PROGRESS"], ["CHANNEL_PROGRESS_MEDIA"]]

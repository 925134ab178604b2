"""Event Socket interactions that run unchanged against a real FreeSWITCH and against the simulator.

Each interaction opens plain TCP connections (the inbound socket, and a listener for the ``socket``
application's outbound connection), sends commands and keeps every byte it receives, frame by frame.
``python -m tests.e2e.capture`` runs them on a private real FreeSWITCH and writes the transcripts as
fixtures (tests/freeswitch/fixtures/real_<version>/); tests/freeswitch/test_real_captures.py runs them on
the simulator and compares the two with :func:`signatures` and :func:`event_frames`.

A transcript file holds, for each connection, a ``### connection <label>`` line and then, in the order
they happened on that connection: ``>>> `` lines for what the client sent (every line of the command,
the blank line that ends it as ``>>> `` alone) and the exact frames the switch sent (header block, blank
line, ``Content-Length`` body bytes). ``### closed`` marks the switch closing the connection.

Calls go through gateway ``vaani_trunk`` to the sipp carrier of the e2e suite (sipp/carrier_uas.xml),
whose behaviour depends on the number's last digits; :data:`CARRIER_SCENARIO` is the same far end for the
simulator. Times are switch seconds: :meth:`Target.sleep` divides them by the simulator's speed factor.
"""

from __future__ import annotations

import io
import os
import re
import socket
import threading
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Callable

from freeswitch import wire

#: Channel events the inbound interactions subscribe to (not ALL: HEARTBEAT, RE_SCHEDULE, CODEC and
#: PRESENCE_* come at moments that have nothing to do with the interaction).
CALL_EVENTS = ("CHANNEL_CREATE CHANNEL_OUTGOING CHANNEL_ORIGINATE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA "
               "CHANNEL_ANSWER CHANNEL_STATE CHANNEL_CALLSTATE CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE "
               "CHANNEL_PARK CHANNEL_UNPARK CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY CALL_UPDATE "
               "DTMF BACKGROUND_JOB")

GATEWAY = "sofia/gateway/vaani_trunk/"
NO_SUCH_UUID = "00000000-0000-0000-0000-000000000000"

#: The sipp carrier (sipp/carrier_uas.xml) as a simulator scenario: 180 at once and 200 after 0.3 s;
#: ...486 answers 486 at once (no 180), ...404 answers 404, ...480 rings until cancelled, ...10D presses D
#: (RFC 2833) about 3 s after the answer, ...312 hangs up itself about 14 s after the answer.
CARRIER_SCENARIO = {
    "description": "the e2e suite's sipp carrier (tests/e2e/sipp/carrier_uas.xml)",
    "defaults": {"outcome": "answer", "ring": 0.3, "talk": 60},
    "rules": [
        {"match": "/486$/", "outcome": "busy", "ring": 0},
        {"match": "/404$/", "outcome": "unallocated"},
        {"match": "/480$/", "outcome": "no_answer", "ring": None},
        {"match": "/100$/", "dtmf": "0@3.1"},
        {"match": "/101$/", "dtmf": "1@3.1"},
        {"match": "/102$/", "dtmf": "2@3.1"},
        {"match": "/109$/", "dtmf": "9@3.1"},
        {"match": "/312$/", "hangup_after": 14.5},
    ],
}

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Target:
    """Where the interactions run: an inbound event socket, and the clock the switch keeps."""

    esl_port: int
    host: str = "127.0.0.1"
    password: str = "ClueCon"
    speed: float = 1.0      # switch seconds per real second (the simulator's --speed)
    #: Where the shipped dialplan sends inbound calls (vaani_ivr_address / the simulator's --inbound-socket).
    inbound_address: str = ""
    #: Makes a call arrive on our SIP profile: (caller, called) -> None (a sipp caller, or sim_inbound).
    call_in: Callable[[str, str], None] | None = None

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of switch time."""
        time.sleep(seconds / self.speed)

    def timeout(self, seconds: float) -> float:
        """A real-time limit for something that takes ``seconds`` of switch time (with slack)."""
        return seconds / self.speed + 10.0


class Conn:
    """One recorded connection: a reader thread keeps every frame's bytes in arrival order."""

    def __init__(self, sock: socket.socket, label: str):
        self.sock = sock
        self.label = label
        self.entries: list[tuple] = []          # ("sent", bytes) | ("frame", bytes, Frame) | ("closed",)
        self._cv = threading.Condition()
        self._seen = {"reply": 0, "other": 0}     # where the next wait for a reply / anything else starts
        self._file = sock.makefile("rb")
        self._closing = False                   # we close: the end of the stream is not the switch's doing
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        tee = _Tee(self._file)
        while True:
            try:
                frame = wire.read_frame(tee)
            except (OSError, ValueError, wire.ProtocolError):
                frame = None
            with self._cv:
                if frame is None:
                    if not self._closing:
                        self.entries.append(("closed",))
                else:
                    self.entries.append(("frame", tee.take(), frame))
                self._cv.notify_all()
            if frame is None:
                return

    def send(self, *commands: str) -> None:
        """Send commands in ONE write (several: pipelined), each recorded as sent."""
        encoded = [_encode(c) for c in commands]
        with self._cv:
            self.entries += [("sent", e) for e in encoded]
        self.sock.sendall(b"".join(encoded))

    def wait(self, predicate: Callable[[wire.Frame], bool], timeout: float = 20.0, kind: str = "other") -> wire.Frame:
        """The first frame satisfying ``predicate`` after the one the last wait of the same ``kind`` found.

        Replies and events keep separate places, so that a wait for an event also finds one that came
        before the reply of the command that caused it.
        """
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                start = self._seen[kind]
                for i, e in enumerate(self.entries[start:], start):
                    if e[0] == "closed":
                        raise ConnectionError(f"{self.label}: closed while waiting")
                    if e[0] == "frame" and predicate(e[2]):
                        self._seen[kind] = i + 1
                        return e[2]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.label}: nothing matched within {timeout:.0f} s")
                self._cv.wait(left)

    def command(self, text: str, timeout: float = 30.0) -> wire.Frame:
        """Send one command and return its reply (``command/reply`` or ``api/response``)."""
        with self._cv:
            self._seen["reply"] = len(self.entries)
        self.send(text)
        return self.wait(is_reply, timeout, "reply")

    def event(self, name: str, timeout: float = 20.0) -> wire.Frame:
        """Wait for the next event called ``name``."""
        return self.wait(lambda f: event_name(f) == name, timeout)

    def wait_closed(self, timeout: float = 20.0) -> None:
        """Wait until the switch closes the connection."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while not (self.entries and self.entries[-1][0] == "closed"):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.label}: still open after {timeout:.0f} s")
                self._cv.wait(left)

    def settle(self, seconds: float = 0.3) -> None:
        """Let frames still on their way arrive (real seconds)."""
        time.sleep(seconds)

    def close(self) -> None:
        """Close our side (the switch sees the client go away)."""
        with self._cv:
            self._closing = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        # The reader ends at the end of the stream; only then may its file be closed.
        self._thread.join(5)
        for step in (self._file.close, self.sock.close):
            try:
                step()
            except OSError:
                pass

    def transcript(self) -> bytes:
        """This connection's part of a transcript file."""
        out = [f"### connection {self.label}\n".encode()]
        with self._cv:
            for e in self.entries:
                if e[0] == "sent":
                    out += [b">>> " + line + b"\n" for line in e[1].split(b"\n")[:-1]]
                elif e[0] == "frame":
                    out.append(e[1])
                else:
                    out.append(b"### closed\n")
        return b"".join(out)


def _encode(command: str) -> bytes:
    # A command line, its header lines if any (sendmsg), and the blank line that ends it.
    return command.encode() + b"\n\n"


class _Tee:
    """A file wrapper that keeps the bytes read since the last :meth:`take`."""

    def __init__(self, f):
        self.f, self.buf = f, bytearray()

    def readline(self, *a):
        data = self.f.readline(*a)
        self.buf += data
        return data

    def read(self, n):
        data = self.f.read(n)
        self.buf += data
        return data

    def take(self) -> bytes:
        data, self.buf = bytes(self.buf), bytearray()
        return data


class Session:
    """The connections of one interaction run."""

    def __init__(self, target: Target):
        self.t = target
        self.conns: list[Conn] = []
        self._servers: list[socket.socket] = []

    def esl(self, events: str | None = None, label: str = "esl") -> Conn:
        """An authenticated inbound connection, subscribed to ``events`` (plain) when given."""
        sock = socket.create_connection((self.t.host, self.t.esl_port), timeout=60)
        sock.settimeout(None)
        c = Conn(sock, label)
        self.conns.append(c)
        c.wait(lambda f: f.content_type == "auth/request")
        c.command(f"auth {self.t.password}")
        if events:
            c.command(f"event plain {events}")
        return c

    def listen(self) -> tuple[socket.socket, str]:
        """A listener for the ``socket`` application: (server socket, 'host:port')."""
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", 0))
        srv.listen(5)
        self._servers.append(srv)
        return srv, f"127.0.0.1:{srv.getsockname()[1]}"

    def listen_at(self, address: str) -> socket.socket:
        """A listener on a given 'host:port' (where the dialplan's socket application connects)."""
        host, _, port = address.rpartition(":")
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((host, int(port)))
        srv.listen(5)
        self._servers.append(srv)
        return srv

    def accept(self, srv: socket.socket, label: str = "socket", timeout: float = 30.0) -> Conn:
        """The switch's outbound connection."""
        srv.settimeout(timeout)
        sock, _ = srv.accept()
        sock.settimeout(None)
        c = Conn(sock, label)
        self.conns.append(c)
        return c

    def socket_call(self, number: str, mode: str = "async full", events: str = "BACKGROUND_JOB "
                    "CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY") -> tuple[Conn, Conn]:
        """``bgapi originate`` a carrier number into ``socket`` on our listener: (esl, socket connection)."""
        esl = self.esl(events)
        srv, address = self.listen()
        esl.command(f"bgapi originate {GATEWAY}{number} &socket('{address} {mode}')")
        return esl, self.accept(srv)

    def close(self) -> None:
        """Close everything still open."""
        for c in self.conns:
            c.close()
        for s in self._servers:
            s.close()

    def transcript(self) -> bytes:
        """The whole transcript file."""
        return b"".join(c.transcript() for c in self.conns)


# ---------------------------------------------------------------------------
# Reading transcripts back and comparing them
# ---------------------------------------------------------------------------

def parse_transcript(data: bytes) -> dict[str, list[tuple]]:
    """A transcript file as {label: [("sent", text) | ("frame", raw, Frame) | ("closed",)]}."""
    out: dict[str, list[tuple]] = {}
    entries: list[tuple] | None = None
    stream = io.BytesIO(data)
    pos = 0
    while pos < len(data):
        if data.startswith(b"### ", pos) or data.startswith(b">>> ", pos):
            end = data.index(b"\n", pos)
            line = data[pos:end].decode()
            pos = end + 1
            if line.startswith("### connection "):
                entries = out.setdefault(line[len("### connection "):], [])
            elif line == "### closed":
                entries.append(("closed",))
            elif line.startswith(">>> "):
                lines = [line[4:]]
                while lines[-1]:
                    end = data.index(b"\n", pos)
                    lines.append(data[pos + 4:end].decode())
                    pos = end + 1
                entries.append(("sent", "\n".join(lines[:-1])))
            continue
        stream.seek(pos)
        frame = wire.read_frame(stream)
        entries.append(("frame", data[pos:stream.tell()], frame))
        pos = stream.tell()
    return out


def transcript_entries(session: Session) -> dict[str, list[tuple]]:
    """What a run recorded, in the shape :func:`parse_transcript` gives (sent texts decoded)."""
    out = {}
    for c in session.conns:
        out[c.label] = [("sent", e[1].decode()[:-2]) if e[0] == "sent" else e for e in list(c.entries)]
    return out


def is_reply(frame: wire.Frame) -> bool:
    """A command's reply (not an event or a notice)."""
    return frame.content_type in ("command/reply", "api/response")


def event_name(frame: wire.Frame) -> str | None:
    """The Event-Name of an event frame (None for anything else)."""
    if not frame.content_type.startswith("text/event-"):
        return None
    return wire.parse_event(frame).headers.get("Event-Name")


def normalize(text: str) -> str:
    """Reply texts without what differs from run to run (uuids)."""
    return _UUID.sub("<uuid>", text)


#: For these events the signature also names the field that tells one from the next of its kind.
_DETAIL = {"CHANNEL_EXECUTE": "Application", "CHANNEL_EXECUTE_COMPLETE": "Application",
           "CHANNEL_STATE": "Channel-State", "CHANNEL_CALLSTATE": "Channel-Call-State", "DTMF": "DTMF-Digit",
           "BACKGROUND_JOB": "Job-Command", "API": "API-Command"}


def signature(entry: tuple) -> str:
    """One line saying what an entry is: the command sent, the reply and its text, the event, the notice."""
    if entry[0] == "sent":
        return ">>> " + normalize(entry[1]).replace("\n", " | ")
    if entry[0] == "closed":
        return "closed"
    frame = entry[2]
    ctype = frame.content_type
    if ctype == "command/reply":
        if frame.headers.get("Event-Name") == "CHANNEL_DATA":
            return "connect reply"
        return "reply " + normalize(wire.url_decode(frame.headers.get("Reply-Text", "")))
    if ctype == "api/response":
        return "api/response " + normalize(frame.text()).rstrip("\n").replace("\n", " | ")
    if ctype.startswith("text/event-"):
        ev = wire.parse_event(frame)
        name = ev.headers.get("Event-Name", "?")
        detail = _DETAIL.get(name)
        return f"event {name}" + (f" {ev.headers.get(detail, '')}" if detail else "")
    if ctype == "text/disconnect-notice":
        return "notice " + frame.headers.get("Content-Disposition", "")
    return ctype


def frame_order(entries: list[tuple]) -> list[str]:
    """The signatures of the frames a connection received (replies with their texts, events, notices, the
    close), in order.

    What the client sent is left out: where a command falls among frames that arrive at the same moment
    depends on the client's own threads, not on the switch.
    """
    return [signature(e) for e in entries if e[0] != "sent"]


def comparable_order(entries: list[tuple]) -> list[str]:
    """:func:`frame_order` with the one race of mod_event_socket taken out: a linger notice moved past
    the events right after it.

    The listener thread writes its queued events, then looks at the channel and sends the linger
    notice once the channel is down; the channel's teardown events are queued by other threads meanwhile,
    so the notice may fall anywhere among them (runs of one capture differ). Sorting it after them keeps
    everything else exact.
    """
    order = frame_order(entries)
    out: list[str] = []
    pending = []
    for sig in order:
        if sig == "notice linger":
            pending.append(sig)
            continue
        if pending and not sig.startswith("event "):
            out += pending
            pending = []
        out.append(sig)
    return out + pending


def event_frames(entries: list[tuple], name: str) -> list[wire.Event]:
    """The parsed events called ``name`` among a connection's entries."""
    out = []
    for e in entries:
        if e[0] == "frame" and event_name(e[2]) == name:
            out.append(wire.parse_event(e[2]))
    return out


# ---------------------------------------------------------------------------
# The interactions
# ---------------------------------------------------------------------------

INTERACTIONS: dict[str, Callable[[Session], None]] = {}


def interaction(fn: Callable[[Session], None]) -> Callable[[Session], None]:
    """Register an interaction under its function name."""
    INTERACTIONS[fn.__name__] = fn
    return fn


#: api commands with a uuid that names no channel, missing arguments, unknown commands, failures that
#: need no call; then Event Socket commands refused on an inbound connection or given bad arguments.
API_ERRORS = [
    "nosuchcommand", "nosuchcommand with args", f"uuid_kill {NO_SUCH_UUID}", "uuid_kill",
    f"uuid_getvar {NO_SUCH_UUID} x", "uuid_getvar", f"uuid_setvar {NO_SUCH_UUID} x y", "uuid_setvar",
    f"uuid_setvar_multi {NO_SUCH_UUID} a=1;b=2", f"uuid_answer {NO_SUCH_UUID}",
    f"uuid_bridge {NO_SUCH_UUID} {NO_SUCH_UUID}", f"uuid_broadcast {NO_SUCH_UUID} /tmp/x.wav",
    f"uuid_send_dtmf {NO_SUCH_UUID} 1", f"uuid_recv_dtmf {NO_SUCH_UUID} 1",
    f"uuid_record {NO_SUCH_UUID} start /tmp/x.wav", f"uuid_break {NO_SUCH_UUID}", f"uuid_exists {NO_SUCH_UUID}",
    f"uuid_dump {NO_SUCH_UUID}", f"uuid_transfer {NO_SUCH_UUID} 1000", "originate", "originate foo",
    "originate foo/bar &park()", "originate error/user_busy &park()", "fsctl", "show nothing",
    "eval ${nosuchvar}", "echo", "global_getvar nosuchvar",
]
ESL_ERRORS = [
    f"sendmsg {NO_SUCH_UUID}\ncall-command: execute\nexecute-app-name: answer", f"myevents {NO_SUCH_UUID} plain",
    "linger", "nolinger", "divert_events on", "getvar x", "resume", "nosuch", "api", "bgapi", "event",
    "event plain NOSUCH", "nixevent", "nixevent NOSUCH", "noevents", "noevents", "filter", "filter Unique-ID",
    "filter delete Unique-ID", "filter delete all", "filter Unique-ID abc", "log nosuch", "nolog", "log 0",
    "nolog",
]


@interaction
def api_errors(s: Session) -> None:
    """Reply texts of failing api commands and refused Event Socket commands (no call)."""
    esl = s.esl()
    for cmd in API_ERRORS:
        esl.command(f"api {cmd}")
    for cmd in ESL_ERRORS:
        esl.command(cmd)
    # `log` at debug level, and `nolog` in the same write: the switch reads both before it would send
    # any log line (nothing is written between pipelined commands), and nolog drops the queued ones.
    esl.send("log", "nolog")
    esl.settle()


@interaction
def api_event_after_reply(s: Session) -> None:
    """The API event an ``api`` command raises comes after its api/response; bgapi: API then BACKGROUND_JOB."""
    esl = s.esl("API BACKGROUND_JOB")
    esl.command(f"api uuid_exists {NO_SUCH_UUID}")
    esl.event("API")
    esl.command(f"bgapi uuid_exists {NO_SUCH_UUID}")
    esl.event("BACKGROUND_JOB")
    esl.settle()


@interaction
def originate_answered_then_killed(s: Session) -> None:
    """A blocking originate answered by the carrier: every event after the reply; then a pipelined kill
    and uuid_exists (both replies before the events, and the hung-up channel no longer found)."""
    esl = s.esl(CALL_EVENTS)
    reply = esl.command(f"api originate {GATEWAY}919900000001 &park()")
    uuid = reply.text().split()[1]
    esl.event("CHANNEL_PARK")
    s.t.sleep(1.0)
    esl.send(f"api uuid_kill {uuid}", f"api uuid_exists {uuid}")
    esl.event("CHANNEL_DESTROY", s.t.timeout(5))
    esl.settle()
    esl.command(f"api uuid_exists {uuid}")


def _failed_originate(s: Session, number: str, variables: str = "") -> None:
    esl = s.esl(CALL_EVENTS)
    esl.command(f"api originate {variables}{GATEWAY}{number} &park()", s.t.timeout(30))
    esl.event("CHANNEL_DESTROY", s.t.timeout(5))
    esl.settle()


@interaction
def originate_busy(s: Session) -> None:
    """486 Busy Here from the carrier: -ERR USER_BUSY, the leg's events after it, sofia's failure variables."""
    _failed_originate(s, "919900000486")


@interaction
def originate_unallocated(s: Session) -> None:
    """404 Not Found: -ERR UNALLOCATED_NUMBER."""
    _failed_originate(s, "919900000404")


@interaction
def originate_no_answer(s: Session) -> None:
    """A carrier that rings until cancelled: -ERR NO_ANSWER at originate_timeout (our CANCEL)."""
    _failed_originate(s, "919900000480", "{originate_timeout=2}")


@interaction
def bgapi_originate_answered(s: Session) -> None:
    """The dialer's originate: bgapi (reply at once, BACKGROUND_JOB when answered), then bgapi uuid_kill."""
    esl = s.esl(CALL_EVENTS)
    esl.command(f"bgapi originate {{origination_caller_id_number=918000000001,vaani_call=e2e}}{GATEWAY}919900000002"
                " &park()")
    job = esl.event("BACKGROUND_JOB", s.t.timeout(10))
    uuid = wire.parse_event(job).body.split()[1]
    esl.event("CHANNEL_PARK")
    s.t.sleep(1.0)
    esl.command(f"bgapi uuid_kill {uuid}")
    esl.event("CHANNEL_DESTROY", s.t.timeout(5))
    esl.settle()


@interaction
def dtmf_from_carrier(s: Session) -> None:
    """An RFC 2833 digit from the carrier (DTMF-Source RTP), then uuid_recv_dtmf (its reply, DTMF-Source APP)."""
    esl = s.esl("CHANNEL_ANSWER DTMF CHANNEL_HANGUP_COMPLETE")
    reply = esl.command(f"api originate {GATEWAY}919900000101 &park()")
    uuid = reply.text().split()[1]
    esl.event("DTMF", s.t.timeout(5))
    esl.command(f"api uuid_recv_dtmf {uuid} 5")
    esl.event("DTMF")
    esl.command(f"api uuid_kill {uuid}")
    esl.event("CHANNEL_HANGUP_COMPLETE", s.t.timeout(5))
    esl.settle()


def _socket_start(sock: Conn, s: Session, linger: str | None = "linger") -> str:
    """connect, myevents, linger: returns the channel's uuid."""
    reply = sock.command("connect")
    # The application's next command comes a moment after the connect reply, as a real one's does: the
    # switch has parked the channel by then (and the park is not seen).
    s.t.sleep(0.1)
    sock.command("myevents")
    if linger:
        sock.command(linger)
    return reply.headers["Unique-ID"]


def _execute(sock: Conn, app: str, arg: str | None = None, timeout: float = 30.0) -> wire.Frame:
    lines = ["sendmsg", "call-command: execute", f"execute-app-name: {app}"]
    if arg is not None:
        lines.append(f"execute-app-arg: {arg}")
    sock.command("\n".join(lines))
    return sock.wait(lambda f: event_name(f) == "CHANNEL_EXECUTE_COMPLETE"
                     and wire.parse_event(f).headers.get("Application") == app, timeout)


def _socket_hangup_and_close(sock: Conn, s: Session) -> None:
    sock.command("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING")
    sock.wait(lambda f: f.content_type == "text/disconnect-notice", s.t.timeout(5))
    sock.settle()
    sock.close()


@interaction
def socket_session(s: Session) -> None:
    """An async full outbound socket: connect, myevents, linger, answer, playback, then a hangup pipelined
    with getvar (the hangup acts after its +OK; the unset variable's getvar is refused)."""
    esl, sock = s.socket_call("919900000001")
    _socket_start(sock, s)
    _execute(sock, "answer")
    _execute(sock, "playback", "silence_stream://300", s.t.timeout(2))
    _execute(sock, "set", "capture_note=after playback")  # its Application-Response: _none_ again
    sock.send("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING", "getvar hangup_cause")
    sock.wait(lambda f: f.content_type == "text/disconnect-notice", s.t.timeout(5))
    sock.settle()
    sock.close()
    esl.event("CHANNEL_DESTROY", s.t.timeout(5))
    esl.settle()


@interaction
def socket_play_and_get_digits_timeout(s: Session) -> None:
    """play_and_get_digits with no digit: two tries, the invalid file between them, read_result failure."""
    esl, sock = s.socket_call("919900000001")
    _socket_start(sock, s)
    _execute(sock, "play_and_get_digits",
             "1 4 2 1000 # silence_stream://500 silence_stream://200 digits \\d+ 1000", s.t.timeout(6))
    _socket_hangup_and_close(sock, s)


@interaction
def socket_play_and_get_digits_digit(s: Session) -> None:
    """play_and_get_digits collecting the carrier's RFC 2833 digit: read_result success, the variable set."""
    esl, sock = s.socket_call("919900000101")
    _socket_start(sock, s)
    _execute(sock, "play_and_get_digits",
             "1 1 1 6000 # silence_stream://500 silence_stream://200 digits \\d+ 1000", s.t.timeout(8))
    _socket_hangup_and_close(sock, s)


@interaction
def socket_play_and_get_digits_terminator(s: Session) -> None:
    """play_and_get_digits ended by a terminator before min digits: read_terminator_used, read_result failure."""
    esl, sock = s.socket_call("919900000101")
    _socket_start(sock, s)
    _execute(sock, "play_and_get_digits",
             "2 4 1 6000 1 silence_stream://500 silence_stream://200 digits \\d+ 1000", s.t.timeout(8))
    _socket_hangup_and_close(sock, s)


@interaction
def socket_record(s: Session) -> None:
    """record with a 2 s limit while the carrier talks: record_ms, record_seconds, record_samples, file size."""
    esl, sock = s.socket_call("919900000001")
    _socket_start(sock, s)
    path = f"/tmp/vaani-capture-{uuidlib.uuid4().hex}.wav"
    try:
        _execute(sock, "record", f"{path} 2", s.t.timeout(5))
        _socket_hangup_and_close(sock, s)
    finally:
        if os.path.exists(path):
            os.remove(path)


@interaction
def socket_record_without_directory(s: Session) -> None:
    """record into a directory that does not exist: the file cannot be opened and the call is hung up
    (DESTINATION_OUT_OF_ORDER); a relative path would be under sound_prefix, not the recordings directory."""
    esl, sock = s.socket_call("919900000001")
    _socket_start(sock, s)
    _execute(sock, "record", f"/tmp/vaani-capture-{uuidlib.uuid4().hex}/no/such/dir/x.wav 2", s.t.timeout(5))
    sock.wait(lambda f: f.content_type == "text/disconnect-notice", s.t.timeout(5))
    sock.settle()
    sock.close()
    esl.event("CHANNEL_DESTROY", s.t.timeout(5))
    esl.settle()


@interaction
def socket_far_end_hangup(s: Session) -> None:
    """The carrier hangs up (BYE) while the socket lingers: sofia's recv_bye variables, the linger notice."""
    esl, sock = s.socket_call("919900000312")
    _socket_start(sock, s)
    sock.wait(lambda f: f.content_type == "text/disconnect-notice", s.t.timeout(40))
    sock.settle()
    sock.close()
    esl.event("CHANNEL_DESTROY", s.t.timeout(5))
    esl.settle()


@interaction
def socket_linger_timeout(s: Session) -> None:
    """``linger 2`` and a uuid_kill: the linger notice, then after the linger time the final notice and the
    close; the channel is destroyed only then."""
    esl, sock = s.socket_call("919900000001")
    uuid = _socket_start(sock, s, "linger 2")
    # Not a multiple of the switch's 20 ms listener poll after the last command: the hangup lands
    # mid-poll, and the listener drains its events before it looks at the channel.
    s.t.sleep(0.31)
    esl.command(f"api uuid_kill {uuid}")
    sock.wait(lambda f: f.content_type == "text/disconnect-notice", s.t.timeout(5))
    # The channel is still there (the socket holds it) but hung up: the api commands no longer find it.
    # (A moment first: the inbound listener writes the channel's last events at the end of its poll.)
    esl.settle(0.1)
    esl.command(f"api uuid_exists {uuid}")
    esl.command(f"api uuid_kill {uuid}")
    esl.command(f"api uuid_getvar {uuid} hangup_cause")
    sock.wait_closed(s.t.timeout(5))
    esl.event("CHANNEL_DESTROY", s.t.timeout(5))
    esl.settle()


@interaction
def socket_no_linger(s: Session) -> None:
    """No linger: at the hangup the events, then the final notice, and the switch closes the socket."""
    esl, sock = s.socket_call("919900000001")
    uuid = _socket_start(sock, s, None)
    s.t.sleep(0.31)
    esl.command(f"api uuid_kill {uuid}")
    sock.wait_closed(s.t.timeout(5))
    esl.event("CHANNEL_DESTROY", s.t.timeout(5))
    esl.settle()


@interaction
def socket_client_closes(s: Session) -> None:
    """The application closes its socket while the call is up: the call hangs up (NORMAL_CLEARING)."""
    esl, sock = s.socket_call("919900000001")
    _socket_start(sock, s)
    s.t.sleep(0.31)
    sock.close()
    esl.event("CHANNEL_DESTROY", s.t.timeout(5))
    esl.settle()


@interaction
def socket_bridge(s: Session) -> None:
    """A socket call bridges a second carrier leg; the B leg is killed: CHANNEL_BRIDGE, the B leg's end,
    CHANNEL_UNBRIDGE and the bridge's EXECUTE_COMPLETE with its variables, then our hangup."""
    esl, sock = s.socket_call("919900000001", events="BACKGROUND_JOB CHANNEL_BRIDGE CHANNEL_UNBRIDGE "
                              "CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY")
    _socket_start(sock, s)
    sock.command("sendmsg\ncall-command: execute\nexecute-app-name: bridge\nexecute-app-arg: "
                 f"{GATEWAY}919900000002")
    bridge = sock.wait(lambda f: event_name(f) == "CHANNEL_BRIDGE", s.t.timeout(10))
    b_leg = wire.parse_event(bridge).headers["Other-Leg-Unique-ID"]
    s.t.sleep(1.0)
    esl.command(f"api uuid_kill {b_leg}")
    sock.wait(lambda f: event_name(f) == "CHANNEL_EXECUTE_COMPLETE"
              and wire.parse_event(f).headers.get("Application") == "bridge", s.t.timeout(5))
    _socket_hangup_and_close(sock, s)
    esl.wait(lambda f: event_name(f) == "CHANNEL_DESTROY"
             and wire.parse_event(f).headers.get("Unique-ID") != b_leg, s.t.timeout(5))
    esl.settle()


@interaction
def inbound_call(s: Session) -> None:
    """A caller dials one of our numbers: the shipped dialplan hands the call to the IVR's socket (the
    channel's events and variables as it arrives, is answered, plays and is hung up by us)."""
    esl = s.esl(CALL_EVENTS)
    srv = s.listen_at(s.t.inbound_address)
    s.t.call_in("919990000001", "918000680001")
    sock = s.accept(srv)
    _socket_start(sock, s)
    _execute(sock, "answer")
    _execute(sock, "playback", "silence_stream://300", s.t.timeout(2))
    _socket_hangup_and_close(sock, s)
    esl.event("CHANNEL_DESTROY", s.t.timeout(5))
    esl.settle()


@interaction
def socket_static(s: Session) -> None:
    """A static socket (``full`` without ``async``): each sendmsg runs before its +OK; getvar of an unset
    variable is refused; after a hangup the linger notice and the channel's events."""
    esl, sock = s.socket_call("919900000001", "full")
    _socket_start(sock, s)
    sock.command("sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: "
                 "silence_stream://300", s.t.timeout(2))
    sock.command("getvar no_such_variable")
    sock.command("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING")
    sock.wait(lambda f: event_name(f) == "CHANNEL_HANGUP", s.t.timeout(2))
    sock.settle()
    sock.close()
    esl.event("CHANNEL_DESTROY", s.t.timeout(5))
    esl.settle()


def run(name: str, target: Target) -> Session:
    """Run one interaction; the session keeps what every connection received (closed at the end).

    It returns once the switch has no channel left, so that the next interaction's connections see
    none of this one's events.
    """
    s = Session(target)
    try:
        INTERACTIONS[name](s)
    finally:
        s.close()
        wait_no_channels(target)
    return s


def wait_no_channels(target: Target, timeout: float = 30.0) -> None:
    """Wait until ``show channels count`` says 0 (on a connection of its own, not recorded)."""
    sock = socket.create_connection((target.host, target.esl_port), timeout=10)
    f = sock.makefile("rb")
    try:
        wire.read_frame(f)
        sock.sendall(_encode(f"auth {target.password}"))
        wire.read_frame(f)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.sendall(_encode("api show channels count"))
            if wire.read_frame(f).text().strip() == "0 total.":
                return
            time.sleep(0.1)
        raise TimeoutError(f"channels still up {timeout:.0f} s after the interaction")
    finally:
        f.close()
        sock.close()

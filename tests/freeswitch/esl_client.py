"""A raw-socket ESL client and outbound listener for the conformance tests (exact bytes, no library)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from freeswitch import wire

CAPTURES = Path("/work/shared/freeswitch-wire")
_alt = Path(__file__).resolve().parents[3] / "shared" / "freeswitch-wire"
if _alt.is_dir():
    CAPTURES = _alt


def capture(name: str) -> bytes:
    """The bytes of one capture file."""
    return (CAPTURES / name).read_bytes()


def capture_frame(name: str) -> wire.Frame:
    """The single frame of a capture file."""
    return wire.split_frames(capture(name))[0]


def header_names(payload_or_frame) -> list[str]:
    """Header names of an event payload in order (plain events: the raw lines)."""
    payload = payload_or_frame.body if isinstance(payload_or_frame, wire.Frame) else payload_or_frame
    head = payload.partition(b"\n\n")[0]
    return [line.split(b":", 1)[0].decode() for line in head.split(b"\n") if line]


class RawClient:
    """An inbound ESL connection that records every byte it receives."""

    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.rfile = self.sock.makefile("rb")
        self.raw = bytearray()
        self.pending: list[wire.Frame] = []

    def read(self) -> wire.Frame | None:
        """The next frame (None when the server closed)."""
        if self.pending:
            return self.pending.pop(0)
        return wire.read_frame(_Tee(self.rfile, self.raw))

    def send(self, text: str) -> None:
        """Send a command (the blank line is added)."""
        self.sock.sendall((text + "\n\n").encode())

    def command(self, text: str) -> wire.Frame:
        """Send a command and return its reply, keeping events that arrive first for later."""
        self.send(text)
        while True:
            frame = wire.read_frame(_Tee(self.rfile, self.raw))
            assert frame is not None, f"connection closed waiting for the reply to {text!r}"
            if frame.content_type in ("command/reply", "api/response"):
                return frame
            self.pending.append(frame)

    def auth(self, password: str = "ClueCon") -> None:
        """Read the banner and authenticate."""
        assert self.read().content_type == "auth/request"
        assert self.command(f"auth {password}").headers["Reply-Text"] == "+OK accepted"

    def events(self, until, timeout: float = 10.0) -> list[wire.Event]:
        """Collect parsed events until ``until(event)`` is true (inclusive)."""
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = self.read()
            assert frame is not None, "connection closed while waiting for events"
            if not frame.content_type.startswith("text/event-"):
                continue
            ev = wire.parse_event(frame)
            ev = wire.Event(ev.headers, ev.body)
            out.append((frame, ev))
            if until(ev):
                return out
        raise AssertionError(f"timed out; got {[e.name for _, e in out]}")

    def close(self) -> None:
        """Close the socket (and its file, which would otherwise keep it open)."""
        for closer in (self.rfile.close, lambda: self.sock.shutdown(socket.SHUT_RDWR), self.sock.close):
            try:
                closer()
            except OSError:
                pass


class _Tee:
    """A file wrapper that also keeps what was read."""

    def __init__(self, f, sink: bytearray):
        self.f, self.sink = f, sink

    def readline(self, *a):
        data = self.f.readline(*a)
        self.sink += data
        return data

    def read(self, n):
        data = self.f.read(n)
        self.sink += data
        return data


class RawListener:
    """A plain TCP listener standing in for the IVR runtime's outbound-socket server."""

    def __init__(self):
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(50)
        self.port = self.server.getsockname()[1]

    @property
    def address(self) -> str:
        """host:port."""
        return f"127.0.0.1:{self.port}"

    def accept(self, timeout: float = 10.0) -> RawClient:
        """The next connection from the simulator, as a RawClient."""
        self.server.settimeout(timeout)
        sock, _ = self.server.accept()
        sock.settimeout(timeout)
        client = RawClient.__new__(RawClient)
        client.sock = sock
        client.rfile = sock.makefile("rb")
        client.raw = bytearray()
        client.pending = []
        return client

    def close(self) -> None:
        """Stop listening."""
        self.server.close()


def watch_events(host: str, port: int, events: str):
    """A RawClient subscribed to ``events`` (``event plain`` names) and a greenlet appending each event's headers
    to a list as they come: returns (that list, the greenlet, the client). Kill the greenlet and close the
    client when done."""
    import gevent

    esl = RawClient(host, port)
    esl.auth()
    esl.command(f"event plain {events}")
    got: list[dict] = []

    def read():
        while True:
            try:
                frame = esl.read()
            except OSError:
                return
            if frame is None:
                return
            if frame.content_type == "text/event-plain":
                got.append(wire.parse_event(frame).headers)

    esl.sock.settimeout(None)
    return got, gevent.spawn(read), esl

"""One FreeSWITCH outbound-socket session: the connection FreeSWITCH opens per call to ``socket ... async full``.

The IVR runtime drives a call through this class: :meth:`OutboundSession.start`
(``connect``, ``myevents``, ``linger``), :meth:`execute` of dialplan
applications, :meth:`hangup`, and the channel's events as they arrive.

Why not greenswitch's ``OutboundSession`` as it is (greenswitch 0.0.19):

* its frame reader URL-unquotes the whole frame before splitting it into
  headers, so a value holding ``%0A`` becomes a line break and corrupts the
  headers after it, and it folds an event's own body into its last header.
  Frames and events here are read with :mod:`freeswitch.wire`, which decodes
  each header value on its own and reads bodies by ``Content-Length``;
* its blocking ``call_command`` waits for the next ``CHANNEL_EXECUTE_COMPLETE``
  whose ``current_application`` has the same *name*: two ``playback`` in a row,
  or a stale completion after a barge-in, wake the wrong waiter. Here every
  ``execute`` carries its own ``Event-UUID`` and its waiter is matched on the
  completion's ``Application-UUID``;
* ``send`` has no timeout: a FreeSWITCH that stops reading would block the
  call greenlet forever. Writes here are bounded by ``send_timeout``;
* it runs two greenlets per call (reader and dispatcher) with a 1-second
  polling ``get``; here one reader greenlet dispatches directly.

What does serve is kept: greenswitch's exception for "the call is gone"
(:class:`CallGone` subclasses its ``OutboundSessionHasGoneAway``) so code
written against greenswitch catches ours too.
"""

from __future__ import annotations

import itertools
import socket
import time
import uuid as _uuid
from collections import deque
from typing import Callable

import gevent
import gevent.event
from greenswitch.esl import OutboundSessionHasGoneAway

from freeswitch import wire


#: A random UUID's first 24 characters, drawn once per process; _app_uuid() appends a counter.
_UUID_PREFIX = str(_uuid.uuid4())[:24]
_uuid_counter = itertools.count(1)


def _app_uuid() -> str:
    """A fresh UUID-shaped ``Event-UUID`` for one ``execute``.

    Unique within the process (a counter) and across processes (a random
    prefix); ``uuid4()`` per command would read the kernel's random source
    with a syscall every time.
    """
    return f"{_UUID_PREFIX}{next(_uuid_counter) & 0xFFFFFFFFFFFF:012x}"


class CallGone(OutboundSessionHasGoneAway):
    """The channel hung up or the socket closed; ``cause`` is the hangup cause when known."""

    def __init__(self, cause: str | None = None):
        super().__init__(cause or "session gone")
        self.cause = cause


class CommandError(RuntimeError):
    """FreeSWITCH answered a command with ``-ERR ...`` or did not answer in time."""


#: Events the session itself (and the IVR runtime's listeners) act on; others are skipped unread
#: unless ``all_events`` is set. A channel under ``myevents`` emits many more (CHANNEL_STATE,
#: CALL_UPDATE, PLAYBACK_START, ...), each 2-3 KB: decoding them all costs more CPU than the call.
WANTED_EVENTS = frozenset({"CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE",
                           "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "DTMF"})


class RawHeaders:
    """An event-plain header block whose values are found and URL-decoded only when asked for.

    A call reads five or six headers of a 100-header event; finding them in the
    text is several times cheaper than decoding every header up front. The
    first occurrence of a repeated header wins.
    """

    __slots__ = ("_text",)

    def __init__(self, block: str):
        self._text = "\n" + block

    def get(self, name: str, default: str | None = None) -> str | None:
        """The decoded value of header ``name``, or ``default``."""
        key = "\n" + name + ": "
        i = self._text.find(key)
        if i < 0:
            return default
        i += len(key)
        j = self._text.find("\n", i)
        return wire.url_decode(self._text[i:] if j < 0 else self._text[i:j])

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: str) -> bool:
        return ("\n" + name + ": ") in self._text

    def to_dict(self) -> dict[str, str]:
        """Every header, decoded (for logs and debugging)."""
        return wire.parse_event_plain(self._text[1:] + "\n\n").headers


def _event_name(payload: bytes) -> str:
    # Event-Name is the first header FreeSWITCH writes; fall back to a search when it is not.
    if payload.startswith(b"Event-Name: "):
        end = payload.find(b"\n")
        return payload[12:end].decode("ascii", "replace")
    i = payload.find(b"\nEvent-Name: ")
    if i < 0:
        return ""
    end = payload.find(b"\n", i + 1)
    return payload[i + 13:end].decode("ascii", "replace")


def fast_event(frame: wire.Frame, wanted: frozenset | None = None) -> wire.Event | None:
    """A ``text/event-plain`` frame as an Event with lazily decoded headers; None when not wanted.

    Other event formats go through :func:`freeswitch.wire.parse_event`.
    """
    if frame.content_type != "text/event-plain":
        event = wire.parse_event(frame)
        return event if wanted is None or event.name in wanted else None
    payload = frame.body
    if wanted is not None and _event_name(payload) not in wanted:
        return None
    head, _, rest = payload.partition(b"\n\n")
    headers = RawHeaders(head.decode("utf-8", "replace"))
    body = ""
    length = headers.get("Content-Length")
    if length and length.isdigit():
        body = rest[:int(length)].decode("utf-8", "replace")
    return wire.Event(headers, body)


#: Channel-State-Number values that say a channel is being taken out of the application it runs:
#: CS_ROUTING (uuid_transfer, switch_ivr_session_transfer), CS_SOFT_EXECUTE, CS_PARK (uuid_park),
#: CS_HIBERNATE and CS_RESET (uuid_bridge, att_xfer completing). The header holds the state the
#: channel is going to, while Channel-State still names the one it runs in (switch_channel.c).
LEAVING_STATES = frozenset({"2", "3", "6", "8", "9"})

#: Headers of the ``connect`` reply that are not channel data.
_REPLY_HEADERS = ("Content-Type", "Reply-Text", "Socket-Mode", "Control")


class OutboundSession:
    """The ESL conversation of one call on an outbound socket (one reader greenlet).

    ``channel`` holds the ``connect`` reply's channel data with decoded values
    (``variable_vaani_call``, ``Caller-Caller-ID-Number``, ...). ``listeners``
    are called with every :class:`freeswitch.wire.Event` as it arrives (from
    the reader greenlet: they must not block). ``on_hangup`` is called once with
    the hangup cause when the channel hangs up.
    """

    def __init__(self, sock: socket.socket, *, send_timeout: float = 5.0, reply_timeout: float = 10.0):
        self.sock = sock
        self.rfile = sock.makefile("rb")
        # gevent's socket wraps a non-blocking OS socket: writes try it directly first (see _write).
        raw = getattr(sock, "_sock", None)
        self._raw = raw if raw is not None and raw.gettimeout() == 0.0 else None
        self._writing = False
        self.send_timeout = send_timeout
        self.reply_timeout = reply_timeout
        self.channel: dict[str, str] = {}
        self.listeners: list[Callable[[wire.Event], None]] = []
        #: Deliver every event to listeners, not only WANTED_EVENTS (transcripts, debugging).
        self.all_events = False
        self.on_hangup: Callable[[str], None] | None = None
        #: Called just before each ``execute`` is written (latency instrumentation).
        self.on_command: Callable[[], None] | None = None
        self.hangup_cause: str | None = None
        #: Headers of CHANNEL_HANGUP_COMPLETE (billsec, durations), once it came.
        self.hangup_complete: dict[str, str] | None = None
        self.closed = gevent.event.Event()
        #: perf_counter() when the latest event frame was read (for latency figures).
        self.last_event_at = 0.0
        #: Seconds start() spent on its three round trips to FreeSWITCH.
        self.setup_seconds = 0.0
        self._setup_replies: list[gevent.event.AsyncResult] = []
        self._replies: deque[gevent.event.AsyncResult] = deque()
        self._waits: dict[str, gevent.event.AsyncResult] = {}
        self._reader: gevent.Greenlet | None = None
        self._gone = False
        self.transferred = False

    # -- properties -----------------------------------------------------------------

    @property
    def uuid(self) -> str:
        """The controlled channel's UUID."""
        return self.channel.get("Unique-ID") or self.channel.get("variable_uuid", "")

    @property
    def hung_up(self) -> bool:
        """True once the channel hung up, left the socket application (``transferred``), or the socket closed."""
        return self.hangup_cause is not None or self._gone or self.transferred

    def var(self, name: str, default: str | None = None) -> str | None:
        """A channel variable from the ``connect`` reply (``variable_<name>``)."""
        return self.channel.get("variable_" + name, default)

    # -- set-up -----------------------------------------------------------------------

    def start(self) -> dict[str, str]:
        """``connect``, then ``myevents`` and ``linger``; starts the reader. Returns the channel data.

        ``myevents`` and ``linger`` are written together and their replies are
        not waited for here: FreeSWITCH handles a socket's commands in order, so
        every later command is behind them anyway, and the app's first request
        (which needs only the channel data) goes out one round trip sooner. The
        replies are checked before the first command of the call is sent.
        """
        began = time.perf_counter()
        self._write(wire.encode_command("connect"))
        frame = wire.read_frame(self.rfile)
        if frame is None:
            raise CallGone("socket closed before the connect reply")
        # The connect reply is one header block: CHANNEL_DATA headers, URL-encoded like an event's.
        decoded = {k: wire.url_decode(v) for k, v in frame.headers.items()}
        if not decoded.get("Reply-Text", "").startswith("+OK"):
            raise CommandError(f"connect refused: {decoded.get('Reply-Text', '')!r}")
        self.channel = {k: v for k, v in decoded.items() if k not in _REPLY_HEADERS}
        self._reader = gevent.spawn(self._read_loop)
        # One write for both: each send on loopback costs a syscall and a wake-up of the peer.
        first, second = gevent.event.AsyncResult(), gevent.event.AsyncResult()
        self._replies.extend((first, second))
        self._write(wire.encode_command("myevents") + wire.encode_command("linger"))
        self._setup_replies = [first, second]
        self.setup_seconds = time.perf_counter() - began
        return self.channel

    def _confirm_setup(self) -> None:
        """Check the ``myevents`` and ``linger`` replies (once, before the call's first command)."""
        pending, self._setup_replies = self._setup_replies, []
        for name, reply in zip(("myevents", "linger"), pending):
            try:
                self._check_reply(self._get(reply, self.reply_timeout))
            except CommandError as exc:
                # The usual cause: a socket application without `async full` (static mode refuses linger).
                raise CommandError(f"FreeSWITCH refused {name} ({exc}); the socket application must run "
                                   f"'<host:port> async full'") from None

    # -- commands -----------------------------------------------------------------------

    def command(self, line: str, headers: list[tuple[str, str]] = (), body: str | None = None) -> wire.Frame:
        """Send a command and return its reply frame; ``-ERR`` raises :class:`CommandError`."""
        if self._setup_replies:
            self._confirm_setup()
        frame = self._get(self._command_async(line, headers, body), self.reply_timeout)
        self._check_reply(frame)
        return frame

    def api(self, command: str) -> str:
        """``api <command>`` over the socket; returns the response body."""
        return self.command(f"api {command}").text()

    def execute_async(self, app: str, arg: str | None = None) -> gevent.event.AsyncResult:
        """Queue a dialplan application on the channel; the result resolves to its CHANNEL_EXECUTE_COMPLETE.

        The completion is matched by ``Application-UUID`` (the ``Event-UUID``
        sent here), never by the application's name.
        """
        if self.hung_up:
            raise CallGone(self.hangup_cause)
        app_uuid = _app_uuid()
        done = gevent.event.AsyncResult()
        self._waits[app_uuid] = done
        headers = [("call-command", "execute"), ("execute-app-name", app), ("Event-UUID", app_uuid)]
        body = None
        if arg:
            if "\n" in arg or "\r" in arg:
                # A header cannot hold a line break; sendmsg takes the argument as a text/plain body instead.
                headers.append(("content-type", "text/plain"))
                body = arg
            else:
                headers.append(("execute-app-arg", arg))
        if self.on_command is not None:
            self.on_command()
        try:
            self.command("sendmsg", headers, body)
        except BaseException:
            self._waits.pop(app_uuid, None)
            raise
        return done

    def execute(self, app: str, arg: str | None = None, timeout: float | None = None) -> wire.Event:
        """Run a dialplan application and wait for its completion event.

        Raises :class:`CallGone` when the call ends before the application
        completes (FreeSWITCH completes the running application on hangup, so
        its result still arrives; queued ones never run).
        """
        return self._get(self.execute_async(app, arg), timeout)

    def set_var(self, name: str, value: str) -> None:
        """Set a channel variable (``set`` application, waited for)."""
        self.execute("set", f"{name}={value}")

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """Hang the channel up with ``cause`` (a no-op when it is already gone)."""
        if self.hung_up:
            return
        try:
            self.command("sendmsg", [("call-command", "hangup"), ("hangup-cause", cause)])
        except (CallGone, CommandError, OSError):
            pass

    def break_media(self) -> None:
        """Stop the application playing now (``uuid_break``), e.g. to end a prompt early."""
        try:
            self.api(f"uuid_break {self.uuid} all")
        except (CallGone, CommandError, OSError):
            pass

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until FreeSWITCH has finished with the call (hangup complete or socket closed)."""
        return self.closed.wait(timeout)

    def close(self) -> None:
        """Close the socket and stop the reader; every pending wait raises :class:`CallGone`."""
        self._fail_all()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        # The reader may be blocked inside rfile.read: stop it before closing the file under it.
        if self._reader is not None and self._reader is not gevent.getcurrent():
            self._reader.kill(block=True, timeout=1)
        try:
            self.rfile.close()
        except (OSError, RuntimeError):
            pass
        self.sock.close()
        self.closed.set()

    # -- internals -----------------------------------------------------------------------

    def _command_async(self, line: str, headers=(), body=None) -> gevent.event.AsyncResult:
        if self._gone or self.transferred:
            raise CallGone(self.hangup_cause)
        reply = gevent.event.AsyncResult()
        self._replies.append(reply)
        try:
            self._write(wire.encode_command(line, headers, body))
        except BaseException:
            self._replies.remove(reply)
            raise
        return reply

    def _write(self, data: bytes) -> None:
        # A command frame is small and the kernel's send buffer nearly always has room: one
        # non-blocking send on the underlying socket writes it whole in one syscall, without
        # gevent's sendall loop or a Timeout object per command. Only what is left over (a full
        # buffer: FreeSWITCH not reading) goes the slow way.
        # Not while another greenlet's slow write is under way: its remainder must go out first.
        raw = self._raw if not self._writing else None
        try:
            sent = raw.send(data) if raw is not None else 0
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._gone = True
            raise CallGone(self.hangup_cause or f"socket error: {exc}") from None
        if sent == len(data):
            return
        # gevent's socket timeout would also apply to the reader's recv, which legitimately
        # waits for minutes during a long prompt; a Timeout around the write bounds only the send.
        self._writing = True
        try:
            with gevent.Timeout(self.send_timeout, CommandError(f"send timed out after {self.send_timeout}s")):
                self.sock.sendall(data[sent:] if sent else data)
        except OSError as exc:
            self._gone = True
            raise CallGone(self.hangup_cause or f"socket error: {exc}") from None
        finally:
            self._writing = False

    def _get(self, result: gevent.event.AsyncResult, timeout: float | None):
        try:
            return result.get(timeout=timeout)
        except gevent.Timeout:
            raise CommandError(f"no answer from FreeSWITCH within {timeout}s") from None

    @staticmethod
    def _check_reply(frame: wire.Frame) -> None:
        text = frame.headers.get("Reply-Text", "")
        if text.startswith("-ERR"):
            raise CommandError(text)
        if frame.content_type == "api/response" and frame.body.startswith(b"-ERR"):
            raise CommandError(frame.text().strip())

    def _read_loop(self) -> None:
        try:
            while True:
                frame = wire.read_frame(self.rfile)
                if frame is None:
                    break
                ctype = frame.content_type
                if ctype in ("command/reply", "api/response"):
                    if self._replies:
                        self._replies.popleft().set(frame)
                elif ctype.startswith("text/event-"):
                    self.last_event_at = time.perf_counter()
                    event = fast_event(frame, None if self.all_events else WANTED_EVENTS)
                    if event is not None:
                        self._dispatch(event)
                elif ctype == "text/disconnect-notice":
                    if frame.headers.get("Content-Disposition") == "linger":
                        continue  # the channel is gone; its remaining events still follow
                    break
        except (OSError, wire.ProtocolError):
            pass
        finally:
            self._fail_all()
            self.closed.set()

    def _dispatch(self, event: wire.Event) -> None:
        name = event.name
        headers = event.headers
        if name == "CHANNEL_EXECUTE_COMPLETE":
            waiter = self._waits.pop(headers.get("Application-UUID", ""), None)
            if waiter is not None:
                waiter.set(event)
            if self.hangup_cause is None and not self.transferred and (
                    headers.get("Channel-State-Number") in LEAVING_STATES or headers.get("Application") == "socket"):
                self._note_transfer()
        elif name == "CHANNEL_HANGUP":
            self._note_hangup(headers.get("Hangup-Cause") or "NORMAL_CLEARING")
        elif name == "CHANNEL_HANGUP_COMPLETE":
            self.hangup_complete = headers
            self._note_hangup(headers.get("Hangup-Cause") or "NORMAL_CLEARING")
            # Nothing queued can run on a finished channel.
            self._fail_waits()
            self.closed.set()
        for listener in self.listeners:
            listener(event)

    def _note_transfer(self) -> None:
        self.transferred = True
        # Executes still queued would run in whatever the channel was sent to: none is ours to wait for.
        self._fail_waits()
        self.closed.set()

    def _note_hangup(self, cause: str) -> None:
        if self.hangup_cause is not None:
            return
        self.hangup_cause = cause
        if self.on_hangup is not None:
            self.on_hangup(cause)

    def _fail_waits(self) -> None:
        waits, self._waits = self._waits, {}
        for waiter in waits.values():
            waiter.set_exception(CallGone(self.hangup_cause))

    def _fail_all(self) -> None:
        self._gone = True
        if self.hangup_cause is None:
            self._note_hangup("NORMAL_CLEARING")
        self._fail_waits()
        while self._replies:
            self._replies.popleft().set_exception(CallGone(self.hangup_cause))

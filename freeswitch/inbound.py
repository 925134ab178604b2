"""The platform's inbound Event Socket client: one long-lived connection to a FreeSWITCH node.

Built on greenswitch's ``InboundESL`` for the connection, the authentication
handshake and the event-dispatch greenlet, with three things replaced because
greenswitch gets them wrong for a dialer:

* **Reading.** greenswitch URL-decodes a whole event before splitting its
  lines (an encoded newline in a value splits the header) and folds an
  event's own body into its last header (a BACKGROUND_JOB's ``+OK <uuid>``
  ends up inside ``Content-Length``). Frames and events are read here with
  :mod:`freeswitch.wire`, so :class:`wire.Event` has exact headers and a
  separate ``body``.
* **Sending.** greenswitch's ``send`` waits forever for a reply and leaves
  waiters hanging when the socket dies. :meth:`InboundClient.api` and
  :meth:`bgapi` have a timeout, and a lost connection fails every pending
  command with :class:`ESLError` at once.
* **Staying connected.** A supervisor greenlet reconnects with exponential
  backoff, re-subscribes (``event <format> ...`` and ``filter ...``) and then
  calls ``on_connect`` so the owner can reconcile what it missed.

Events come as ``text/event-plain`` by default, or ``text/event-json`` with
``event_format="json"`` (FreeSWITCH 1.10 writes both; JSON values need no URL
decoding, which makes an event several times cheaper to read). Either way the
owner gets the same :class:`wire.Event`: decoded headers and a separate body.

``bgapi`` takes a client-supplied ``Job-UUID`` header (FreeSWITCH honours it),
so the dialer can name a job after the call it launches and match the
BACKGROUND_JOB event to the attempt in any process.

Everything is gevent-friendly: the caller's process must be monkey-patched.
"""

from __future__ import annotations

import logging
import uuid as _uuid
from typing import Callable, Iterable

import gevent
import gevent.event
import gevent.lock
import gevent.socket
from greenswitch.esl import InboundESL

from freeswitch import wire

log = logging.getLogger(__name__)


class ESLError(RuntimeError):
    """A command could not be completed: not connected, timed out, refused, or the connection dropped."""


class _Connection(InboundESL):
    """One TCP session to FreeSWITCH: greenswitch's connect/auth/dispatch with exact frame reading."""

    def __init__(self, host, port, password, timeout, on_event, on_lost):
        super().__init__(host, port, password, timeout=timeout)
        self._on_event = on_event
        self._on_lost = on_lost
        self._send_lock = gevent.lock.Semaphore()
        self.register_handle("*", self._dispatch)
        self.register_handle("DISCONNECT", self._dispatch)

    # greenswitch's reader, replaced: exact frames, bodies kept apart from headers.
    def receive_events(self):
        try:
            while self._run:
                frame = wire.read_frame(self.sock_file)
                if frame is None:
                    break
                self._handle_frame(frame)
        except (OSError, wire.ProtocolError, ValueError) as exc:
            log.debug("ESL %s:%s read ended: %s", self.host, self.port, exc)
        finally:
            self.connected = False
            self._run = False
            self._auth_request_event.set()  # wake a connect() still waiting for the banner
            self._fail_pending(ESLError(f"connection to {self.host}:{self.port} lost"))
            try:
                self.sock.close()
            except OSError:
                pass
            self._on_lost(self)

    def _handle_frame(self, frame: wire.Frame) -> None:
        ctype = frame.content_type
        if ctype == "auth/request":
            self._auth_request_event.set()
        elif ctype in ("command/reply", "api/response"):
            if self._commands_sent:
                self._commands_sent.pop(0).set(frame)
        elif ctype == "text/disconnect-notice":
            self.connected = False
        elif ctype == "text/rude-rejection":
            self.connected = False
            self._auth_request_event.set()
        elif ctype.startswith("text/event-"):
            try:
                event = wire.parse_event(frame)
            except wire.ProtocolError as exc:
                log.warning("ESL %s:%s sent an unreadable event: %s", self.host, self.port, exc)
                return
            self._esl_event_queue.put(event)

    def _fail_pending(self, exc: Exception) -> None:
        pending, self._commands_sent = self._commands_sent, []
        for waiter in pending:
            waiter.set_exception(exc)

    def _dispatch(self, event) -> None:
        self._on_event(event)

    def command(self, data: bytes, timeout: float) -> wire.Frame:
        """Send one command frame and wait for its reply frame."""
        if not self.connected:
            raise ESLError(f"not connected to {self.host}:{self.port}")
        waiter = gevent.event.AsyncResult()
        # Replies come back in the order commands were written; the lock keeps
        # the append and the write together so that order holds across greenlets.
        with self._send_lock:
            self._commands_sent.append(waiter)
            try:
                self.sock.sendall(data)
            except OSError as exc:
                self.connected = False
                raise ESLError(f"send to {self.host}:{self.port} failed: {exc}") from None
        try:
            return waiter.get(timeout=timeout)
        except gevent.Timeout:
            # The reply may still come; it must not be taken by the next command.
            waiter.set_exception(ESLError("late reply"))
            self.connected = False
            try:
                self.sock.close()
            except OSError:
                pass
            raise ESLError(f"no reply from {self.host}:{self.port} within {timeout} s") from None

    def authenticate(self):
        reply = self.command(wire.encode_command(f"auth {self.password}"), self.timeout)
        if not reply.headers.get("Reply-Text", "").startswith("+OK"):
            raise ESLError(f"FreeSWITCH at {self.host}:{self.port} refused the password")

    def close(self) -> None:
        """Drop the connection without waiting (used on stop and on timeouts)."""
        self._run = False
        self.connected = False
        try:
            self.sock.shutdown(gevent.socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


class InboundClient:
    """A supervised inbound ESL connection with reconnect, subscriptions and timed commands.

    ``on_event(event)`` receives every :class:`wire.Event` the subscription
    lets through; ``on_connect(client)`` runs in its own greenlet after each
    (re)connect and subscription (it may send commands: the owner reconciles
    there what it missed while disconnected).

    ``event_format`` is how FreeSWITCH is asked to write events: ``"plain"``
    (the default) or ``"json"``. Filters apply to headers in either format.
    """

    EVENT_FORMATS = ("plain", "json")

    def __init__(self, host: str, port: int, password: str, *,
                 events: Iterable[str] = (), filters: Iterable[tuple[str, str]] = (),
                 on_event: Callable[[wire.Event], None] | None = None,
                 on_connect: Callable[["InboundClient"], None] | None = None,
                 send_timeout: float = 5.0, connect_timeout: float = 5.0,
                 backoff_min: float = 0.05, backoff_max: float = 5.0, name: str | None = None,
                 event_format: str = "plain"):
        if event_format not in self.EVENT_FORMATS:
            raise ValueError(f"event_format must be one of {self.EVENT_FORMATS}, not {event_format!r}")
        self.host, self.port, self.password = host, int(port), password
        self.event_format = event_format
        self.events = list(events)
        self.filters = list(filters)
        self.on_event = on_event
        self.on_connect = on_connect
        self.send_timeout = send_timeout
        self.connect_timeout = connect_timeout
        self.backoff_min, self.backoff_max = backoff_min, backoff_max
        self.name = name or f"{host}:{port}"
        self.generation = 0  # how many times a connection was established
        self._conn: _Connection | None = None
        self._ready = gevent.event.Event()
        self._lost = gevent.event.Event()
        self._stopping = False
        self._supervisor: gevent.Greenlet | None = None

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> "InboundClient":
        """Start connecting in the background (returns at once)."""
        if self._supervisor is None:
            self._stopping = False
            self._supervisor = gevent.spawn(self._supervise)
        return self

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Block until connected and subscribed (True) or ``timeout`` passed (False)."""
        return self._ready.wait(timeout)

    @property
    def connected(self) -> bool:
        """True while a connection is up and subscribed."""
        return self._ready.is_set() and self._conn is not None and self._conn.connected

    def stop(self) -> None:
        """Close the connection and stop reconnecting."""
        self._stopping = True
        conn = self._conn
        if conn is not None:
            conn.close()
        if self._supervisor is not None:
            self._supervisor.kill(block=True, timeout=2)
            self._supervisor = None
        self._ready.clear()

    def drop(self) -> None:
        """Close the current connection as if the network failed (the supervisor reconnects)."""
        conn = self._conn
        if conn is not None:
            conn.close()

    def _supervise(self) -> None:
        delay = self.backoff_min
        while not self._stopping:
            conn = _Connection(self.host, self.port, self.password, self.connect_timeout,
                               self._deliver, self._connection_lost)
            self._lost.clear()
            try:
                conn.connect()
                if not conn.connected:
                    raise ESLError("closed during authentication")
                self._conn = conn
                self._subscribe(conn)
            except Exception as exc:  # refused, timed out, bad password, dropped mid-handshake
                log.info("ESL %s: connect failed (%s); retrying in %.2f s", self.name, exc, delay)
                conn.close()
                gevent.sleep(delay)
                delay = min(self.backoff_max, delay * 2)
                continue
            if not conn.connected:
                gevent.sleep(delay)
                continue
            delay = self.backoff_min
            self.generation += 1
            self._ready.set()
            if self.on_connect is not None:
                gevent.spawn(self._run_on_connect)
            self._lost.wait()
            self._ready.clear()
            conn.close()
            if not self._stopping:
                log.info("ESL %s: connection lost, reconnecting", self.name)

    def _run_on_connect(self) -> None:
        try:
            self.on_connect(self)
        except Exception:
            log.exception("ESL %s: on_connect failed", self.name)

    def _subscribe(self, conn: _Connection) -> None:
        if self.events:
            self._expect_ok(conn, f"event {self.event_format} " + " ".join(self.events))
        for header, value in self.filters:
            self._expect_ok(conn, f"filter {header} {value}")

    def _expect_ok(self, conn: _Connection, command: str) -> None:
        reply = conn.command(wire.encode_command(command), self.send_timeout)
        text = reply.headers.get("Reply-Text", "")
        if not text.startswith("+OK"):
            raise ESLError(f"{command!r} refused: {text}")

    def _deliver(self, event: wire.Event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def _connection_lost(self, conn: _Connection) -> None:
        if conn is self._conn:
            self._ready.clear()
            self._lost.set()

    # -- commands --------------------------------------------------------------
    def _current(self, wait: float) -> _Connection:
        if not self._ready.wait(wait):
            raise ESLError(f"not connected to FreeSWITCH at {self.name}")
        conn = self._conn
        if conn is None or not conn.connected:
            raise ESLError(f"not connected to FreeSWITCH at {self.name}")
        return conn

    def api(self, command: str, *, timeout: float | None = None, wait_connected: float = 0.0) -> str:
        """Run ``api <command>`` and return its body (FreeSWITCH's output, e.g. ``+OK ...`` or ``-ERR ...``)."""
        conn = self._current(wait_connected)
        frame = conn.command(wire.encode_command(f"api {command}"), timeout or self.send_timeout)
        return frame.text()

    def bgapi(self, command: str, job_uuid: str | None = None, *, timeout: float | None = None,
              wait_connected: float = 0.0) -> str:
        """Run ``bgapi <command>`` with a Job-UUID (given or fresh); returns the Job-UUID FreeSWITCH confirmed.

        The job's output arrives later as a BACKGROUND_JOB event with that Job-UUID.
        """
        job_uuid = job_uuid or str(_uuid.uuid4())
        conn = self._current(wait_connected)
        frame = conn.command(wire.encode_command(f"bgapi {command}", [("Job-UUID", job_uuid)]),
                             timeout or self.send_timeout)
        text = frame.headers.get("Reply-Text", "")
        if not text.startswith("+OK"):
            raise ESLError(f"bgapi refused: {text}")
        return frame.headers.get("Job-UUID", job_uuid)

    def uuid_exists(self, call_uuid: str, *, timeout: float | None = None) -> bool:
        """Whether FreeSWITCH has a channel with this uuid right now."""
        return self.api(f"uuid_exists {call_uuid}", timeout=timeout).strip() == "true"

    def channel_uuids(self, *, timeout: float | None = None) -> set[str]:
        """The uuids of every channel FreeSWITCH has (``show channels as json``)."""
        import json

        text = self.api("show channels as json", timeout=timeout)
        try:
            data = json.loads(text)
        except ValueError:
            raise ESLError(f"unreadable 'show channels as json' reply: {text[:80]!r}") from None
        return {row.get("uuid") for row in data.get("rows", []) or [] if row.get("uuid")}


def parse_node(spec: str) -> dict:
    """Read one FREESWITCH_NODES entry ``host:port:password[:max_sessions[:sps]]``."""
    parts = spec.strip().split(":")
    if len(parts) < 3 or not parts[0] or not parts[1].isdigit():
        raise ValueError(f"FreeSWITCH node {spec!r} is not host:port:password[:max_sessions[:sps]]")
    node = {"host": parts[0], "port": int(parts[1]), "password": parts[2],
            "max_sessions": 1000, "sps": 30}
    try:
        if len(parts) > 3 and parts[3]:
            node["max_sessions"] = int(parts[3])
        if len(parts) > 4 and parts[4]:
            node["sps"] = int(parts[4])
    except ValueError:
        raise ValueError(f"FreeSWITCH node {spec!r}: max_sessions and sps must be whole numbers") from None
    if node["max_sessions"] <= 0 or node["sps"] <= 0:
        raise ValueError(f"FreeSWITCH node {spec!r}: max_sessions and sps must be positive")
    return node

"""One Event Socket connection (inbound or outbound): its event subscription and its ordered writer.

Everything a connection sends (replies and events) goes through one queue and
one writer greenlet, so that frames never interleave. While the connection
runs a command its events are held back and queued after the reply, as
FreeSWITCH's single listener thread writes them (see reader.py).
"""

from __future__ import annotations

import logging
import re
import time

import gevent
import gevent.queue

from freeswitch.sim.events import EVENT_NAMES, SimEvent

log = logging.getLogger("freeswitch.sim")

# The events `myevents` subscribes to (mod_event_socket.c).
MYEVENTS = frozenset("""
CHANNEL_ANSWER CHANNEL_APPLICATION CHANNEL_BRIDGE CHANNEL_CREATE CHANNEL_DATA CHANNEL_DESTROY CHANNEL_EXECUTE
CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_ORIGINATE CHANNEL_UUID CHANNEL_OUTGOING
CHANNEL_PARK CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_STATE CHANNEL_UNBRIDGE CHANNEL_UNPARK DETECTED_SPEECH
DTMF NOTALK TALK
""".split())

_CLOSE = object()

# mod_event_socket's MAX_QUEUE_LEN: a listener that does not read loses events beyond this.
MAX_QUEUE_LEN = 100000
# read_packet's switch_poll timeout: how long an idle listener sleeps before it writes queued events.
POLL_SECONDS = 0.02


class Listener:
    """Subscription state and output queue of one connection."""

    def __init__(self, sock, switch, session=None):
        self.sock = sock
        self.switch = switch
        self.session = session            # the controlled channel (outbound sockets, `myevents <uuid>`)
        self.fmt = "plain"
        self.events_on = False
        self.all_events = False
        self.event_names: set[str] = set()
        self.custom_subclasses: set[str] = set()
        self.all_custom = False
        self.myevents = False
        self.filters: list[tuple[str, str]] = []
        self.linger = False
        self.linger_time = -1
        self._queue: gevent.queue.Queue = gevent.queue.Queue()
        self._held: list[bytes] | None = None   # events written at the next drain (see command_started)
        self._busy = False
        self._poll_start = time.monotonic()
        self._writer = gevent.spawn(self._write_loop)
        self.closed = False

    # -- subscription ------------------------------------------------------

    def wants(self, name: str, uuid: str | None) -> bool:
        """Cheap pre-check before an event is built (filters are applied in :meth:`accepts`)."""
        if not self.events_on or self.closed:
            return False
        if self.myevents and self.session is not None and uuid != self.session.uuid and name != "BACKGROUND_JOB":
            return False
        return self.all_events or name in self.event_names

    def accepts(self, event: SimEvent) -> bool:
        """Should this built event be sent to this connection?"""
        if not self.wants(event.name, event.uuid):
            return False
        if event.name == "CUSTOM" and not self.all_events:
            # mod_event_socket: a CUSTOM event goes only to listeners of its subclass
            subclass = event.get("Event-Subclass")
            if subclass and subclass not in self.custom_subclasses:
                return False
        if self.myevents and self.session is not None and event.name == "BACKGROUND_JOB":
            if event.get("Job-Owner-UUID") != self.session.uuid:
                return False
        if self.filters:
            return self._passes_filters(event)
        return True

    def _passes_filters(self, event: SimEvent) -> bool:
        # mod_event_socket: an event passes when one of its headers matches a filter (a
        # value in /slashes/ is a regular expression); a filter on a header the event
        # lacks does not count against it.
        matched = False
        for name, value in self.filters:
            have = event.get(name)
            if have is None:
                continue
            if len(value) > 1 and value.startswith("/") and value.endswith("/"):
                if re.search(value[1:-1], have):
                    matched = True
            elif have.lower() == value.lower():
                matched = True
        return matched

    def subscribe(self, names: list[str]) -> int:
        """`event <names>`: returns how many known keywords were given."""
        count = 0
        custom = False
        for word in names:
            if custom:
                self.custom_subclasses.add(word)
                continue
            up = word.upper()
            if up not in EVENT_NAMES:
                continue
            count += 1
            if up == "ALL":
                self.all_events = True
                self.all_custom = True
            elif up == "CUSTOM":
                custom = True
                self.event_names.add(up)
            else:
                self.event_names.add(up)
        if count:
            self.events_on = True
        return count

    def unsubscribe(self, names: list[str]) -> int:
        """`nixevent <names>`: returns how many known keywords were given."""
        count = 0
        custom = False
        for word in names:
            if custom:
                self.custom_subclasses.discard(word)
                continue
            up = word.upper()
            if up not in EVENT_NAMES:
                continue
            count += 1
            if up == "CUSTOM":
                custom = True
            elif up == "ALL":
                self.all_events = False
                self.event_names.clear()
            else:
                if self.all_events:
                    self.all_events = False
                    self.event_names = set(EVENT_NAMES) - {"ALL"}
                self.event_names.discard(up)
        if count:
            self.events_on = True
        return count

    def no_events(self) -> bool:
        """`noevents`: True if events were on."""
        was = self.events_on
        self.events_on = False
        self.all_events = False
        self.event_names.clear()
        self.custom_subclasses.clear()
        return was

    def enable_myevents(self) -> None:
        """`myevents`: the channel's own events, FreeSWITCH's fixed list."""
        self.myevents = True
        self.events_on = True
        self.event_names |= MYEVENTS
        if self.session is not None:
            self.switch.bind_listener(self, self.session.uuid)

    # -- output ------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Queue raw bytes (a reply) in order."""
        if not self.closed:
            self._queue.put(data)

    # mod_event_socket's listener thread writes the events queued for it only from read_packet, and
    # only when no byte of a next command has come (see reader.py): after a command's reply (once the
    # client has nothing more pipelined), or when its 20 ms poll of the socket times out. An event
    # raised while the listener sleeps in that poll waits for the end of it -- or, if a command comes
    # first, for that command's reply.

    def command_started(self) -> None:
        """The connection runs a command: events wait (replies still go out at once)."""
        self._busy = True
        if self._held is None:
            self._held = []

    def command_done(self, more_waiting: bool) -> None:
        """The command is answered; its events go out now unless the client has sent more already."""
        self._busy = False
        if not more_waiting:
            self.release()

    def release(self) -> None:
        """Queue the events kept back, in order; the listener's poll starts again."""
        held, self._held = self._held, None
        self._poll_start = time.monotonic()
        for frame in held or ():
            self._queue.put(frame)

    def _poll_timeout(self) -> None:
        if not self._busy:
            self.release()

    def _keep(self, data: bytes) -> bool:
        held = self._held
        if held is None:
            if self._busy:
                held = self._held = []
            else:
                # Idle: the listener is in its poll; it writes this when the poll times out.
                held = self._held = []
                elapsed = time.monotonic() - self._poll_start
                gevent.spawn_later(POLL_SECONDS - elapsed % POLL_SECONDS, self._poll_timeout)
        if len(held) + self._queue.qsize() >= MAX_QUEUE_LEN:
            return False
        held.append(data)
        return True

    def send_after_events(self, data: bytes) -> None:
        """Queue bytes (a disconnect notice) behind the events kept back, if any."""
        if self._held is not None:
            self._held.append(data)
        elif not self.closed:
            self._queue.put(data)

    def drop_events(self) -> None:
        """Forget the events kept back (flush_listener when the connection ends)."""
        self._held = None

    def send_event(self, event: SimEvent) -> None:
        """Queue an event in this connection's format (dropped, as FreeSWITCH drops, past MAX_QUEUE_LEN)."""
        if self.closed:
            return
        if not self._keep(event.frame(self.fmt)):
            self.lost_events = getattr(self, "lost_events", 0) + 1
            if self.lost_events % 1000 == 1:
                log.critical("Lost [%d] events! Event Queue size: [%d/%d]", self.lost_events,
                             self._queue.qsize(), MAX_QUEUE_LEN)

    def close_after_flush(self) -> None:
        """Close the socket once everything queued so far is written."""
        self._queue.put(_CLOSE)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until the queue is written (or the writer died)."""
        deadline = timeout
        while not self._queue.empty() and not self._writer.dead and deadline > 0:
            gevent.sleep(0.005)
            deadline -= 0.005

    def _write_loop(self) -> None:
        sock = self.sock
        try:
            while True:
                item = self._queue.get()
                if item is _CLOSE:
                    break
                # Coalesce what is already queued into one send.
                chunks = [item]
                while not self._queue.empty() and len(chunks) < 256:
                    nxt = self._queue.peek()
                    if nxt is _CLOSE:
                        break
                    chunks.append(self._queue.get())
                sock.sendall(b"".join(chunks) if len(chunks) > 1 else item)
        except OSError:
            pass
        finally:
            self.closed = True
            self.switch.remove_listener(self)
            try:
                sock.shutdown(2)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass

    def kill(self) -> None:
        """Stop writing and close now."""
        self.closed = True
        self.switch.remove_listener(self)
        self._queue.put(_CLOSE)

"""The ``socket`` application: connect to an outbound Event Socket listener and let it drive the call.

As in mod_event_socket.c: ``socket host:port[|host:port...] [async] [full]``.
In async mode the channel parks (CHANNEL_PARK) and executes the ``sendmsg``
messages queued by the listener one after another; the socket app ends when
the call hangs up or the listener goes away (CHANNEL_UNPARK, then
CHANNEL_EXECUTE_COMPLETE). In static mode the conversation runs in the
channel's own greenlet and each ``sendmsg`` executes before its reply.

At hangup the listener is told with a ``text/disconnect-notice``: with
``linger`` a ``Content-Disposition: linger`` notice and the socket stays open
(until the client closes it, or for ``linger N`` seconds), then the final
``Content-Disposition: disconnect`` notice and the socket closes.
"""

from __future__ import annotations

import logging
import socket

import gevent
import gevent.event
import gevent.queue

from freeswitch import wire
from freeswitch.sim.channel import Channel, normalize_cause
from freeswitch.sim.dialstring import separate_string
from freeswitch.sim.esl import Connection

log = logging.getLogger("freeswitch.sim")

CONNECT_TIMEOUT = 5.0
FIRST_COMMAND_TIMEOUT = 25.0


def _get(headers: dict, name: str, default: str | None = None) -> str | None:
    low = name.lower()
    for k, v in headers.items():
        if k.lower() == low:
            return v
    return default


def queue_message(channel: Channel, frame: wire.Frame) -> None:
    """Queue a sendmsg for the channel; executes run in order while it is parked, a hangup acts at once.

    FreeSWITCH's media loops parse queued messages as they run, so a hangup message ends
    the call even in the middle of a playback; executes wait their turn (as with event-lock).
    """
    if (_get(frame.headers, "call-command") or "").lower() == "hangup":
        # Queued like any message (switch_core_session_queue_private_event): the session acts on it
        # after sendmsg has been answered, so a command sent right behind it still finds the call up.
        gevent.spawn(run_message, channel, frame)
        return
    channel.messages.put(frame)


def run_message(channel: Channel, frame: wire.Frame) -> None:
    """switch_ivr_parse_event: execute / hangup / (others ignored)."""
    from freeswitch.sim.apps import execute

    headers = frame.headers
    command = (_get(headers, "call-command") or "").lower()
    if command == "hangup":
        channel.hangup(normalize_cause(_get(headers, "hangup-cause"), "NORMAL_CLEARING"))
        return
    if command != "execute":
        return
    name = _get(headers, "execute-app-name")
    if not name:
        return
    arg = _get(headers, "execute-app-arg")
    if frame.body and (_get(headers, "content-type") or "").lower() == "text/plain":
        arg = frame.body.decode("utf-8", "replace")
    elif frame.body and arg is None:
        arg = frame.body.decode("utf-8", "replace")
    try:
        loops = int(_get(headers, "loops") or "1")
    except ValueError:
        loops = 1
    app_uuid = _get(headers, "Event-UUID")
    for i in range(max(1, loops)):
        if not channel.is_up:
            break
        if loops > 1:
            channel.set_var("current_loop", str(i + 1))
            channel.set_var("total_loops", str(loops))
        execute(channel, name, arg, app_uuid)


def run_socket_app(channel: Channel, arg: str) -> None:
    """The socket application."""
    argv = separate_string(arg or "", " ")
    if not argv or not argv[0]:
        log.error("socket: Parse Error!")
        return
    flags = {a.lower() for a in argv[1:]}
    full = "full" in flags
    async_mode = "async" in flags
    sock = None
    for host in argv[0].split("|"):
        if not host:
            continue
        addr, port = host, 8084
        if ":" in host:
            addr, _, p = host.rpartition(":")
            path = None
            if "/" in p:
                p, _, path = p.partition("/")
                channel.set_var("socket_path", path)
            try:
                port = int(p)
            except ValueError:
                port = 0
        channel.set_var("socket_host", addr)
        try:
            sock = _connect(addr, port)
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            break
        except OSError as exc:
            log.error("Socket Error: %s (%s)", exc, host)
            sock = None
    if sock is None:
        log.error("Socket Error!")
        return
    conn = Connection(channel.switch, sock, session=channel, outbound=True, full=full, async_mode=async_mode)
    channel.controlled = True
    channel.hold_listener(conn)
    if async_mode:
        reader = gevent.spawn(_serve, conn, channel)
        # socket_function waits for `connect` (or the call to end) and parks at once, while the
        # listener thread goes on with the client's next commands: a `myevents` sent after the
        # connect reply comes too late for this CHANNEL_PARK.
        gevent.wait([conn.connected, conn.finished, channel.hung_up], count=1)
        _park(channel, conn)
        if conn.resume and channel.is_up:
            return
        reader.join(timeout=0)
    else:
        _serve(conn, channel)


def _connect(addr: str, port: int) -> socket.socket:
    """A TCP connection to ``addr:port`` within CONNECT_TIMEOUT.

    An IP address is connected to directly: create_connection would first ask the resolver, which under
    gevent is a round trip through a thread for every call (about 0.1 ms of CPU each).
    """
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, addr)
        except (OSError, ValueError):
            continue
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect((addr, port))
        except BaseException:
            sock.close()
            raise
        return sock
    return socket.create_connection((addr, port), timeout=CONNECT_TIMEOUT)


def _park(channel: Channel, conn: Connection) -> None:
    """switch_ivr_park under an async socket: run queued messages until hangup or the socket ends."""
    park_loop(channel, conn.finished)


def park_loop(channel: Channel, stop: gevent.event.Event | None = None) -> None:
    """Park: CHANNEL_PARK, run queued sendmsg messages in order, CHANNEL_UNPARK on hangup/transfer/stop."""
    channel.parked_by_socket = True
    channel.fire("CHANNEL_PARK")
    try:
        while channel.is_up and not (stop is not None and stop.is_set()) \
                and getattr(channel, "transfer_to", None) is None:
            try:
                frame = channel.messages.get_nowait()
            except gevent.queue.Empty:
                frame = None
            if frame is not None:
                run_message(channel, frame)
                continue
            waiter = gevent.spawn(channel.messages.peek)
            waits = [waiter, channel.hung_up, channel.break_evt]
            if stop is not None:
                waits.append(stop)
            try:
                gevent.wait(waits, count=1)
            finally:
                waiter.kill(block=False)
            if channel.break_evt.is_set():
                channel.break_evt.clear()
    finally:
        channel.parked_by_socket = False
        channel.fire("CHANNEL_UNPARK")


def _serve(conn: Connection, channel: Channel) -> None:
    """The conversation: commands until the peer closes; hangup notices as mod_event_socket sends them."""
    watcher = gevent.spawn(_watch_hangup, conn, channel)
    try:
        # listener_run: the first command must arrive within 25 seconds, or the socket is dropped.
        try:
            with gevent.Timeout(FIRST_COMMAND_TIMEOUT):
                frame = conn.read_command()
        except gevent.Timeout:
            log.error("Socket Error! (no command within %s s)", FIRST_COMMAND_TIMEOUT)
            frame = None
        if frame is not None:
            conn.run_command(frame)
        while conn.running and frame is not None:
            frame = conn.read_command()
            if frame is None:
                break
            conn.run_command(frame)
    finally:
        conn.idle.set()
        conn.finished.set()
        channel.controlled = False
        if conn.running:
            # The client closed, or the linger ran out: FreeSWITCH's last words, then close.
            conn.close(wire.session_disconnect_notice(channel.uuid))
        watcher.kill(block=False)
        release = getattr(channel, "release_listener", None)
        if release is not None:
            release(conn)


def _watch_hangup(conn: Connection, channel: Channel) -> None:
    """When the call ends: linger notice (and linger timer), or the final notice and close."""
    # Async: the notice follows CHANNEL_HANGUP_COMPLETE (the session thread reports first);
    # static: the conversation runs in the session thread, which notices the hangup itself.
    (channel.reported if conn.async_mode else channel.hung_up).wait()
    # read_packet looks at the channel only between commands, after writing the events queued so far.
    conn.idle.wait()
    if not conn.running:
        return
    listener = conn.listener
    if listener.linger:
        conn.listener.flush(1.0)
        if getattr(conn, "notice_sent", False):
            return
        conn.notice_sent = True
        listener.send_after_events(wire.linger_notice(channel.uuid, channel.name, listener.linger_time))
        if listener.linger_time != -1:
            gevent.sleep(channel.switch.clock.real(max(0, listener.linger_time)) + 0.0)
            if conn.running:
                conn.close(wire.session_disconnect_notice(channel.uuid))
                _shutdown_read(conn)
        return
    conn.close(wire.session_disconnect_notice(channel.uuid))
    _shutdown_read(conn)


def _shutdown_read(conn: Connection) -> None:
    # Wake the reader so the conversation ends once the notice is written.
    def later():
        conn.listener.flush(2.0)
        try:
            conn.sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass
    gevent.spawn(later)

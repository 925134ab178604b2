"""One Event Socket conversation, inbound (a client connected to us) or outbound (we connected for a call).

The command handling mirrors ``parse_command`` in mod_event_socket.c: the same
commands, the same order of checks (so that, for example, ``linger`` and
``api`` are refused on an outbound socket without ``full`` control), and the
same reply texts.
"""

from __future__ import annotations

import logging

import gevent
import gevent.event

from freeswitch import wire
from freeswitch.sim import api, subscribe
from freeswitch.sim.listener import Listener
from freeswitch.sim.reader import CommandReader

log = logging.getLogger("freeswitch.sim")



class Connection:
    """Reads commands from one socket and answers them; events flow out through its Listener."""

    def __init__(self, switch, sock, session=None, outbound: bool = False, full: bool = True,
                 async_mode: bool = True):
        self.switch = switch
        self.sock = sock
        self.session = session             # the channel an outbound socket controls
        self.outbound = outbound
        self.full = full
        self.async_mode = async_mode
        self.authed = outbound             # outbound sockets need no auth
        self.running = True
        self.resume = False
        self.listener = Listener(sock, switch, session)
        switch.add_listener(self.listener)
        self.connected = gevent.event.Event()
        self.finished = gevent.event.Event()
        self.idle = gevent.event.Event()      # not in the middle of commands (events may be written)
        self.idle.set()
        self.logging = False                   # `log` asked for log lines (the simulator has none to send)
        self.rfile = CommandReader(sock)

    # -- plumbing ------------------------------------------------------------

    def reply(self, text: str) -> None:
        """Send a command/reply with Reply-Text."""
        self.listener.send(wire.command_reply(text))

    def read_command(self):
        """The next command frame, or None when the peer closed or sent garbage."""
        try:
            return wire.read_frame(self.rfile, command=True)
        except (wire.ProtocolError, OSError, ValueError):
            return None

    def run_command(self, frame: wire.Frame) -> None:
        """Handle one command; the events it raises are written after its reply.

        As read_packet drains the listener's event queue only while no next command has begun to
        arrive, the events wait until the client has nothing more queued (pipelined commands all get
        their replies first).
        """
        self.idle.clear()
        self.listener.command_started()
        try:
            self.handle(frame)
        finally:
            more = self.running and self.rfile.pending()
            self.listener.command_done(more)
            if not more:
                self.idle.set()

    def close(self, notice: bytes | None) -> None:
        """Send a final notice (if any) after the events written before it, then close."""
        if notice is not None:
            self.listener.send_after_events(notice)
        self.listener.release()
        self.listener.close_after_flush()
        self.running = False

    # -- inbound -------------------------------------------------------------

    def serve_inbound(self) -> None:
        """The life of an inbound connection: banner, commands until exit or close."""
        try:
            self.listener.send(wire.auth_request())
            while self.running:
                frame = self.read_command()
                if frame is None:
                    break
                self.run_command(frame)
        finally:
            self.idle.set()
            if self.running:
                self.close(self._disconnect_notice())
            self.switch.remove_listener(self.listener)
            self.finished.set()
            if self.session is not None:
                self.session.release_listener(self)
            # The server closes the socket when this handler returns: let the writer finish first.
            self.listener._writer.join(timeout=10)

    # -- commands ------------------------------------------------------------

    def handle(self, frame: wire.Frame) -> None:
        """parse_command."""
        headers = frame.headers
        cmd = headers.get("Command", "")
        low = cmd.lower()
        if low.startswith("exit") or low.startswith("..."):
            self.reply("+OK bye")
            self.listener.drop_events()  # listener_run's flush_listener: what was not written is lost
            self.close(self._disconnect_notice())
            return
        if not self.authed:
            if low.startswith("auth "):
                if cmd[5:].strip("\r") == self.switch.config.password:
                    self.authed = True
                    self.reply("+OK accepted")
                else:
                    self.reply("-ERR invalid")
                    self.close(wire.disconnect_notice())
                return
            if low.startswith("userauth "):
                self.reply("-ERR invalid")
                self.close(wire.disconnect_notice())
                return
            self.reply("-ERR command not found")
            return
        if low.startswith("filter "):
            self.reply(subscribe.filter_command(self.listener, cmd[7:]))
            return
        if self.session is not None and low.startswith("resume"):
            self.resume = True
            self.session.set_var("socket_resume", "true")
            self.reply("+OK")
            return
        if self.session is not None or low.startswith("myevents "):
            if low.startswith("connect"):
                self._connect()
                return
            if low.startswith("getvar"):
                _, _, name = cmd.partition(" ")
                value = self.session.get_var(name.strip(), "") if self.session is not None and name else ""
                # An empty reply is no reply: parse_command's `zstr(reply)` turns it into this.
                self.reply(value or "-ERR command not found")
                return
            if low.startswith("myevents"):
                self.reply(self._myevents(cmd))
                return
        if low.startswith("divert_events"):
            if self.session is None:
                self.reply("-ERR not controlling a session.")
                return
            value = cmd[13:].strip()
            if not value:
                self.reply("-ERR missing value.")
            elif value.lower() == "on":
                self.reply("+OK events diverted")
            else:
                self.reply("+OK events not diverted")
            return
        if low.startswith("sendmsg"):
            static = self.outbound and not self.async_mode
            if not static:
                self.reply(self._sendmsg(cmd[7:].strip(), frame))
                return
            # Static socket: the app runs in the session thread, so its reply is written first and
            # the events it caused follow (after the linger notice if it hung the call up: the
            # listener looks at the channel in the same pass that finds the events not yet queued).
            text = "-ERR"
            try:
                text = self._sendmsg(cmd[7:].strip(), frame)
            finally:
                self.reply(text)
                if self.session is not None and not self.session.is_up and self.listener.linger \
                        and not getattr(self, "notice_sent", False):
                    self.notice_sent = True
                    self.listener.send(wire.linger_notice(self.session.uuid, self.session.name,
                                                          self.listener.linger_time))
            return
        if self.outbound and not self.full:
            self.reply("-ERR command not found")
            return
        if low.startswith("sendevent"):
            self.reply(self._sendevent(cmd[9:].strip(), frame))
            return
        if low.startswith("api "):
            self._api(cmd[4:])
            return
        if low.startswith("bgapi "):
            self._bgapi(cmd[6:], headers)
            return
        if low.startswith("log"):
            level = cmd[3:].strip(" ").split(" ")[0]
            number = subscribe.log_level(level) if level else 7
            if number is None:
                self.reply("-ERR invalid log level")
            else:
                self.logging = True
                self.reply(f"+OK log level {level} [{number}]")
            return
        if low.startswith("linger"):
            if self.session is None:
                self.reply("-ERR not controlling a session")
                return
            rest = cmd[6:]
            if rest.startswith(" ") and rest[1:]:
                try:
                    seconds = int(rest[1:].strip().split()[0])
                except ValueError:
                    seconds = 0
                self.listener.linger, self.listener.linger_time = True, seconds
                self.reply(f"+OK will linger {seconds} seconds")
            else:
                self.listener.linger, self.listener.linger_time = True, -1
                self.reply("+OK will linger")
            return
        if low.startswith("nolinger"):
            if self.session is None:
                self.reply("-ERR not controlling a session")
                return
            self.listener.linger = False
            self.reply("+OK will not linger")
            return
        if low.startswith("nolog"):
            was, self.logging = self.logging, False
            self.reply("+OK no longer logging" if was else "-ERR not loging")
            return
        if low.startswith("event"):
            self.reply(subscribe.event_command(self.listener, cmd))
            return
        if low.startswith("nixevent"):
            words = cmd[8:].split()
            if not self.listener.unsubscribe(words):
                self.reply("-ERR no keywords supplied")
            else:
                self.reply("+OK events nixed")
            return
        if low.startswith("noevents"):
            if self.listener.no_events():
                self.reply("+OK no longer listening for events")
            else:
                self.reply("-ERR not listening for events")
            return
        self.reply("-ERR command not found")

    def _disconnect_notice(self) -> bytes:
        if self.session is not None:
            return wire.session_disconnect_notice(self.session.uuid)
        return wire.disconnect_notice()

    def _myevents(self, cmd: str) -> str:
        if self.listener.myevents:
            return "-ERR aready enabled."
        if self.session is None:
            parts = cmd[9:].strip().split()
            uuid = parts[0] if parts else ""
            fmt = parts[1].lower() if len(parts) > 1 else None
            channel = self.switch.locate(uuid)
            if channel is None:
                if fmt:
                    return "-ERR invalid uuid"
            else:
                self.session = channel
                self.listener.session = channel
                self._follow_session(channel)
            if fmt in subscribe.FORMATS:
                self.listener.fmt = fmt
        else:
            tail = cmd[8:].strip().lower()
            if "xml" in tail:
                self.listener.fmt = "xml"
            if "json" in tail:
                self.listener.fmt = "json"
            if "plain" in tail:
                self.listener.fmt = "plain"
        self.listener.enable_myevents()
        return "+OK Events Enabled"

    def _follow_session(self, channel) -> None:
        # `myevents <uuid>` on an inbound socket locks that session, as FreeSWITCH's listener does:
        # when the channel goes down the connection gets the linger or the final disconnect notice.
        from freeswitch.sim.outbound import _watch_hangup

        channel.hold_listener(self)
        self._watcher = gevent.spawn(_watch_hangup, self, channel)

    def _connect(self) -> None:
        ch = self.session
        headers = self.switch.common("CHANNEL_DATA")
        headers += ch.profile_headers("Channel")
        headers += ch.event_headers(True)
        headers += [
            ("Content-Type", "command/reply"),
            ("Reply-Text", "+OK\n"),
            ("Socket-Mode", "async" if self.async_mode else "static"),
            ("Control", "full" if self.full else "single-channel"),
        ]
        self.listener.send(wire.serialize_event_plain(headers))
        self.connected.set()

    def _sendmsg(self, uuid: str, frame: wire.Frame) -> str:
        from freeswitch.sim.outbound import queue_message, run_message

        headers = frame.headers
        if not uuid:
            uuid = _get(headers, "session-id") or ""
        target = self.session if (not uuid or (self.session is not None and uuid == self.session.uuid)) else None
        if target is not None:
            async_flag = self.async_mode or (_get(headers, "async") or "").lower() in ("true", "1", "yes")
            if self.outbound and not async_flag:
                run_message(target, frame)  # static mode: runs now, replies after
            else:
                queue_message(target, frame)
            return "+OK"
        channel = self.switch.locate(uuid)
        if channel is None:
            return f"-ERR invalid session id [{uuid or '(null)'}]"
        queue_message(channel, frame)
        return "+OK"

    def _sendevent(self, name: str, frame: wire.Frame) -> str:
        from freeswitch.sim.events import SimEvent

        event_uuid = self.switch.new_uuid()
        name = (name or "CUSTOM").split()[0].upper()
        extra = [(k, v) for k, v in frame.headers.items() if k != "Command"]
        extra.append(("Event-UUID", event_uuid))
        if self.switch.wants(name):
            headers = self.switch.common(name) + extra
            body = frame.body.decode("utf-8", "replace") if frame.body else None
            self.switch.deliver(SimEvent(name, headers, body))
        return f"+OK {event_uuid}"

    def _api(self, line: str) -> None:
        cmd, _, arg = line.strip("\r").partition(" ")
        output = api.execute(self.switch, cmd, arg if arg else None, self)
        if not output:
            output = "-ERR no reply\n"
        self.listener.send(wire.api_response(output))

    def _bgapi(self, line: str, headers: dict) -> None:
        cmd, _, arg = line.strip("\r").partition(" ")
        job = _get(headers, "job-uuid") or self.switch.new_uuid()
        self.listener.send(wire.command_reply(f"+OK Job-UUID: {job}", ("Job-UUID", job)))
        owner = self.session.uuid if self.session is not None else ""
        gevent.spawn(self._run_bgapi, job, owner, cmd, arg if arg else None)

    def _run_bgapi(self, job: str, owner: str, cmd: str, arg: str | None) -> None:
        output = api.execute(self.switch, cmd, arg, self) or "Command returned no output!"
        extra = [("Job-UUID", job)]
        if owner:
            extra.append(("Job-Owner-UUID", owner))
        extra.append(("Job-Command", cmd))
        if arg is not None:
            extra.append(("Job-Command-Arg", arg))
        self.switch.fire("BACKGROUND_JOB", extra, body=output, uuid=owner or None)


def _get(headers: dict, name: str) -> str | None:
    low = name.lower()
    for k, v in headers.items():
        if k.lower() == low:
            return v
    return None

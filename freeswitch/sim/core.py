"""The switch: channel table, session limits, event delivery to listeners, configuration.

One :class:`Switch` per simulator. Everything else (the inbound socket, the
outbound connector, originate, the API commands, the apps) works through it.
"""

from __future__ import annotations

import itertools
import logging
import socket
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import gevent

from freeswitch.sim.clock import Clock
from freeswitch.sim.events import Identity, SimEvent, common_headers

if TYPE_CHECKING:  # pragma: no cover
    from freeswitch.sim.channel import Channel
    from freeswitch.sim.listener import Listener
    from freeswitch.sim.scenario import Scenario

log = logging.getLogger("freeswitch.sim")

VERSION = "1.10.12-release"


@dataclass
class SwitchConfig:
    """What the simulator is started with (command-line flags)."""

    host: str = "127.0.0.1"
    port: int = 8021
    password: str = "ClueCon"
    speed: float = 1.0
    max_sessions: int = 1000
    sps: int = 30
    inbound_socket: str = ""          # where the dialplan sends inbound calls: `socket <addr> async full`
    hostname: str = field(default_factory=lambda: socket.gethostname() or "sim")
    recordings_dir: str = ""          # FreeSWITCH's recordings dir (relative record paths: sound_prefix)
    sounds_dir: str = ""              # base for relative playback paths (FreeSWITCH's sounds dir)
    heartbeat: float = 20.0           # real seconds between HEARTBEAT events (0: none)


class Switch:
    """The simulated FreeSWITCH core."""

    def __init__(self, config: SwitchConfig, scenario: "Scenario"):
        self.config = config
        self.scenario = scenario
        self.clock = Clock(config.speed)
        self.core_uuid = str(uuidlib.uuid4())
        self.identity = Identity(self.core_uuid, config.hostname)
        self.channels: dict[str, Channel] = {}
        self.listeners: list[Listener] = []          # every connection
        self._global: list[Listener] = []            # connections that may want any channel's events
        self._by_uuid: dict[str, list[Listener]] = {}  # `myevents` connections, by the channel they follow
        self.max_sessions = config.max_sessions
        self.sps_total = config.sps
        self._sps_left = config.sps
        self._sps_window = int(time.monotonic())
        self.sessions_since_startup = 0
        self.peak_sessions = 0
        self.sps_peak = 0
        self._sps_count_window = 0
        self._session_ids = itertools.count(1)
        self.started_monotonic = time.monotonic()
        self.global_vars: dict[str, str] = {
            "hostname": config.hostname,
            "local_ip_v4": "127.0.0.1",
            "switch_serial": "sim",
            "base_dir": "/usr/local/freeswitch",
            "sound_prefix": config.sounds_dir or "/usr/local/freeswitch/sounds/en/us/callie",
            "recordings_dir": config.recordings_dir or "/usr/local/freeswitch/recordings",
            "domain": "127.0.0.1",
            "default_password": "1234",
            "core_uuid": self.core_uuid,
        }
        self.paused_inbound = False
        self.paused_outbound = False
        self.verbose_events = False  # fsctl verbose_events (SCF_VERBOSE_EVENTS): every channel event verbose

    # -- events -----------------------------------------------------------

    def common(self, name: str, subclass: str | None = None) -> list[tuple[str, str]]:
        """The common header block for an event fired now."""
        return common_headers(self.identity, name, self.clock.now(), subclass)

    def _candidates(self, uuid: str | None) -> list:
        if uuid:
            bound = self._by_uuid.get(uuid)
            if bound:
                return self._global + bound
        return self._global

    def wants(self, name: str, uuid: str | None = None) -> bool:
        """Does any listener want this event? (Saves building events nobody reads.)

        Asked before nearly every channel event, so the candidates are walked where they are (no list is
        put together as for delivery).
        """
        for listener in self._global:
            if listener.wants(name, uuid):
                return True
        if uuid:
            for listener in self._by_uuid.get(uuid, ()):
                if listener.wants(name, uuid):
                    return True
        return False

    def deliver(self, event: SimEvent) -> None:
        """Queue an event to every listener that accepts it."""
        for listener in list(self._candidates(event.uuid)):
            if listener.accepts(event):
                listener.send_event(event)

    def fire(self, name: str, extra: list | tuple = (), body: str | None = None, uuid: str | None = None) -> None:
        """Fire a non-channel event (API, BACKGROUND_JOB, HEARTBEAT...)."""
        if not self.wants(name, uuid):
            return
        headers = self.common(name) + list(extra)
        self.deliver(SimEvent(name, headers, body, uuid))

    def add_listener(self, listener: "Listener") -> None:
        """Register a connection for events."""
        self.listeners.append(listener)
        self._global.append(listener)

    def bind_listener(self, listener: "Listener", uuid: str) -> None:
        """A `myevents` connection only ever wants one channel's events: index it by that channel."""
        if listener in self._global:
            self._global.remove(listener)
        self._by_uuid.setdefault(uuid, []).append(listener)

    def remove_listener(self, listener: "Listener") -> None:
        """Forget a connection."""
        for collection in (self.listeners, self._global):
            try:
                collection.remove(listener)
            except ValueError:
                pass
        session = getattr(listener, "session", None)
        if session is not None:
            bound = self._by_uuid.get(session.uuid)
            if bound and listener in bound:
                bound.remove(listener)
                if not bound:
                    del self._by_uuid[session.uuid]

    # -- sessions ---------------------------------------------------------

    def new_uuid(self) -> str:
        """A fresh channel/job UUID."""
        return str(uuidlib.uuid4())

    def reserve_session(self, use_uuid: str | None = None, direction: str = "outbound") -> str | None:
        """switch_core_session_request's checks: a duplicate UUID, sessions-per-second, max-sessions.

        Returns None when a session may be created, or the reason it may not
        (for the log; the endpoint turns any refusal into DESTINATION_OUT_OF_ORDER).
        """
        if use_uuid and use_uuid in self.channels:
            return "Duplicate UUID!"
        if (self.paused_outbound if direction == "outbound" else self.paused_inbound):
            return f"The system cannot create any {direction} sessions at this time."
        now = int(time.monotonic())
        if now != self._sps_window:
            self._sps_window = now
            self._sps_left = self.sps_total
            self._sps_count_window = 0
        # FreeSWITCH decrements first and refuses at zero: sps N admits N-1 sessions a second.
        self._sps_left -= 1
        if self._sps_left <= 0:
            return f"Throttle Error! {len(self.channels)}"
        if len(self.channels) + 1 > self.max_sessions:
            return f"Over Session Limit! {self.max_sessions}"
        self._sps_count_window += 1
        self.sps_peak = max(self.sps_peak, self._sps_count_window)
        return None

    def next_session_id(self) -> int:
        """session_id variable: a counter since start-up."""
        return next(self._session_ids)

    def locate(self, uuid: str | None) -> "Channel | None":
        """switch_core_session_locate: the channel, unless it has hung up (its read lock is refused then,
        although it exists until a lingering socket lets it go)."""
        channel = self.channels.get(uuid or "")
        return channel if channel is not None and channel.is_up else None

    def register(self, channel: "Channel") -> None:
        """Add a created channel to the table."""
        self.channels[channel.uuid] = channel
        self.sessions_since_startup += 1
        self.peak_sessions = max(self.peak_sessions, len(self.channels))

    def unregister(self, channel: "Channel") -> None:
        """Remove a destroyed channel."""
        self.channels.pop(channel.uuid, None)

    def schedule_teardown(self, channel: "Channel") -> None:
        """After CHANNEL_HANGUP: let the channel's session greenlet finish, or finish it now if it has none."""
        session = getattr(channel, "session_greenlet", None)
        if session is None or session.dead:
            gevent.spawn(self._teardown, channel)

    def _teardown(self, channel: "Channel") -> None:
        channel.finish()
        self.unregister(channel)

    def uptime_us(self) -> int:
        """Microseconds since start-up (simulated)."""
        return int((time.monotonic() - self.started_monotonic) * self.clock.speed * 1_000_000)

    def heartbeat_loop(self) -> None:
        """Fire HEARTBEAT every ``config.heartbeat`` real seconds, as FreeSWITCH does every 20 s."""
        while self.config.heartbeat > 0:
            gevent.sleep(self.config.heartbeat)
            up = self.uptime_us()
            self.fire("HEARTBEAT", [
                ("Event-Info", "System Ready"),
                ("Up-Time", uptime_text(up)),
                ("FreeSWITCH-Version", VERSION),
                ("Uptime-msec", str(up // 1000)),
                ("Session-Count", str(len(self.channels))),
                ("Max-Sessions", str(self.max_sessions)),
                ("Session-Per-Sec", str(self.sps_total)),
                ("Session-Per-Sec-Last", str(self._sps_count_window)),
                ("Session-Per-Sec-Max", str(self.sps_peak)),
                ("Session-Per-Sec-FiveMin", str(self.sps_peak)),
                ("Session-Since-Startup", str(self.sessions_since_startup)),
                ("Session-Peak-Max", str(self.peak_sessions)),
                ("Session-Peak-FiveMin", str(self.peak_sessions)),
                ("Idle-CPU", "99.000000"),
            ])


def uptime_text(us: int) -> str:
    """'0 years, 0 days, 0 hours, 0 minutes, 14 seconds, 929 milliseconds, 632 microseconds'."""
    secs, micro = divmod(us, 1_000_000)
    ms, micro = divmod(micro, 1000)
    mins, secs = divmod(secs, 60)
    hours, mins = divmod(mins, 60)
    days, hours = divmod(hours, 24)
    years, days = divmod(days, 365)
    return (f"{years} years, {days} days, {hours} hours, {mins} minutes, {secs} seconds, "
            f"{ms} milliseconds, {micro} microseconds")

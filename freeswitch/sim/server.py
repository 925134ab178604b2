"""The simulator as an object: a Switch plus its inbound Event Socket server (gevent StreamServer)."""

from __future__ import annotations

import logging

import gevent
from gevent.server import StreamServer

from freeswitch.sim import apps as _apps  # noqa: F401 - every application loaded at start-up, as FreeSWITCH's modules are
from freeswitch.sim.core import Switch, SwitchConfig
from freeswitch.sim.esl import Connection
from freeswitch.sim.scenario import Scenario, load_scenario

log = logging.getLogger("freeswitch.sim")


class Simulator:
    """A running FreeSWITCH stand-in. ``start()`` binds and returns; ``stop()`` closes everything."""

    def __init__(self, config: SwitchConfig | None = None, scenario: Scenario | None = None,
                 scenario_path: str | None = None):
        self.config = config or SwitchConfig()
        self.scenario = scenario or load_scenario(scenario_path)
        self.switch = Switch(self.config, self.scenario)
        self.server = StreamServer((self.config.host, self.config.port), self._handle, backlog=4096)
        self._heartbeat = None

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound (port 0 picks a free one)."""
        return self.server.address[0], self.server.server_port

    def start(self) -> None:
        """Bind and accept connections in the background."""
        self.server.start()
        if self.config.heartbeat > 0:
            self._heartbeat = gevent.spawn(self.switch.heartbeat_loop)

    def serve_forever(self) -> None:
        """Start and block until stopped."""
        self.start()
        self.server._stop_event.wait()

    def stop(self) -> None:
        """Hang up every channel and close the server."""
        for ch in list(self.switch.channels.values()):
            ch.hangup("SYSTEM_SHUTDOWN")
        if self._heartbeat is not None:
            self._heartbeat.kill(block=False)
        self.server.stop(timeout=1)

    def _handle(self, sock, address) -> None:
        import socket as _socket

        try:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except OSError:
            pass
        Connection(self.switch, sock).serve_inbound()

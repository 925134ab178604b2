"""The outbound-socket server: FreeSWITCH connects here once per call (``socket <addr> async full``).

A gevent :class:`~gevent.server.StreamServer` accepts each connection as soon
as it arrives and runs its call in a greenlet of its own. greenswitch's
``OutboundESLServer`` is not used: it polls its listening socket with a 0.1 s
sleep, so a call could wait 100 ms before the runtime even sees it.
"""

from __future__ import annotations

import logging
import socket

from gevent.server import StreamServer

from ivr.runtime import Runtime

log = logging.getLogger(__name__)

#: Pending connections the kernel queues; a burst of answered calls arrives at once.
BACKLOG = 4096


def parse_address(address: str) -> tuple[str, int]:
    """``host:port`` → (host, port); ValueError with a readable message otherwise."""
    host, sep, port = (address or "").rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"expected host:port, got {address!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class IvrServer:
    """The listening socket plus the runtime its calls share."""

    def __init__(self, runtime: Runtime, address: str):
        self.runtime = runtime
        host, port = parse_address(address)
        self.server = StreamServer((host, port), self._handle, backlog=BACKLOG)

    @property
    def address(self) -> str:
        """host:port actually bound (port 0 resolved)."""
        return f"{self.server.server_host}:{self.server.server_port}"

    def _handle(self, sock, address) -> None:
        # Commands are small and latency matters more than packet count.
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.runtime.handle(sock, address)

    def start(self) -> "IvrServer":
        """Bind and start accepting (returns at once)."""
        self.server.start()
        log.info("IVR runtime listening on %s", self.address)
        return self

    def serve_forever(self) -> None:
        """Bind and serve until stopped."""
        self.server.serve_forever()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting; calls in progress get ``timeout`` seconds to end."""
        self.server.stop(timeout=timeout)

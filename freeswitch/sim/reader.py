"""Reading an Event Socket client's commands, and knowing whether more of them are already waiting.

mod_event_socket's listener thread writes the events it has queued only from ``read_packet``, and only
while no byte of a next command has arrived (``if (!*mbuf)``): a command's events follow its reply, and
commands sent together (pipelined) get their replies one after the other before any event. The
simulator's connections ask :meth:`CommandReader.pending` to do the same.
"""

from __future__ import annotations

import gevent.select


class CommandReader:
    """A buffered reader over a (gevent) socket with the two calls ``wire.read_frame`` makes."""

    def __init__(self, sock):
        self.sock = sock
        self._buf = bytearray()
        self._eof = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self.sock.recv(65536)
        if not data:
            self._eof = True
            return False
        self._buf += data
        return True

    def readline(self, limit: int = -1) -> bytes:
        """Up to and including the next newline (at most ``limit`` bytes); b"" at the end of the stream."""
        start = 0
        while True:
            i = self._buf.find(b"\n", start)
            if i >= 0 and (limit < 0 or i < limit):
                return self._take(i + 1)
            if 0 <= limit <= len(self._buf):
                return self._take(limit)
            start = len(self._buf)
            if not self._fill():
                return self._take(len(self._buf))

    def read(self, n: int) -> bytes:
        """``n`` bytes, fewer only at the end of the stream."""
        while len(self._buf) < n and self._fill():
            pass
        return self._take(min(n, len(self._buf)))

    def _take(self, n: int) -> bytes:
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def pending(self) -> bool:
        """Is part of a next command already here (read ahead, or waiting in the socket)?"""
        if self._buf:
            return True
        if self._eof:
            return False
        try:
            readable, _, _ = gevent.select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return bool(readable)

"""One SMPP 3.4 transceiver bind to the SMSC, over smpplib: windowed submit_sm, deliver_sm, enquire_link, reconnect.

smpplib gives the bind's socket, the PDU codec and the bind handshake
(``Client.connect`` and ``bind_transceiver``); this module runs the session on
gevent around it:

* one reader greenlet reads every PDU: a ``submit_sm_resp`` (or
  ``generic_nack``) wakes the greenlet that sent the request, a ``deliver_sm``
  runs the ``on_deliver`` handler in its own greenlet and is answered with its
  ``deliver_sm_resp`` only when the handler returned (so a receipt or an MO is
  stored before the SMSC forgets it), ``enquire_link`` is answered;
* **windowing**: at most ``window`` submit_sm are outstanding (sent, not yet
  answered); a sender waits for a free slot;
* ``enquire_link`` every ``enquire_link`` seconds; no answer within
  ``response_timeout`` (or any socket error) drops the connection, fails the
  outstanding requests and **reconnects** with a growing back-off.

:meth:`Bind.submit` tells apart what the caller must handle differently for
exactly-once sends: :class:`NotSent` (nothing reached the SMSC: send again),
:class:`Uncertain` (written, no answer: the SMSC may have it: never send again),
:class:`Refused` (the SMSC answered an error; ``temporary`` for throttling and
queue-full).
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass
from typing import Callable

import gevent
import gevent.event
import gevent.lock
from smpplib import client as smpp_client
from smpplib import consts, exceptions

from sms import pdus

log = logging.getLogger(__name__)


class NotSent(Exception):
    """The submit_sm was not written: no bind, or the socket failed while writing."""


class Uncertain(Exception):
    """The submit_sm was written but no answer came (the bind died): the SMSC may have the message."""


class Refused(Exception):
    """The SMSC answered submit_sm with an error ``status``."""

    def __init__(self, status: int):
        self.status = status
        self.temporary = status in pdus.TEMPORARY
        super().__init__(f"{status:#010x} {consts.DESCRIPTIONS.get(status, 'Unknown error')}")


@dataclass(frozen=True)
class BindConfig:
    """Where and how to bind."""

    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    window: int = 10
    enquire_link: float = 30.0
    response_timeout: float = 10.0
    reconnect_min: float = 0.2
    reconnect_max: float = 10.0

    @classmethod
    def from_settings(cls, cfg) -> "BindConfig":
        """The bind of the configuration (SMPP_* settings)."""
        return cls(cfg.smpp_host, cfg.smpp_port, cfg.smpp_system_id, cfg.smpp_password, cfg.smpp_system_type,
                   max(1, cfg.smpp_window), cfg.smpp_enquire_link, cfg.smpp_response_timeout)


class Bind:
    """A self-healing transceiver bind. ``start()`` once; ``submit(...)`` from any greenlet."""

    def __init__(self, config: BindConfig, on_deliver: Callable[[object], int | None] | None = None):
        self.config = config
        self.on_deliver = on_deliver or (lambda pdu: None)
        self.bound = gevent.event.Event()
        self.window = gevent.lock.BoundedSemaphore(config.window)
        self._write = gevent.lock.RLock()
        self._turn = gevent.lock.Semaphore()  # whose turn it is to be admitted (see _admitted_write)
        self._pending: dict[int, gevent.event.AsyncResult] = {}
        self._client: smpp_client.Client | None = None
        self._runner: gevent.Greenlet | None = None
        self._stopping = False
        self.binds = 0  # how many times it bound (reconnects + 1)
        self.last_error: str | None = None

    # -- life ------------------------------------------------------------------------

    def start(self) -> "Bind":
        """Connect and bind in the background, reconnecting whenever the session is lost."""
        self._runner = gevent.spawn(self._run)
        return self

    def wait_bound(self, timeout: float) -> bool:
        """Wait until bound; False after ``timeout`` seconds."""
        return self.bound.wait(timeout)

    def stop(self) -> None:
        """Unbind politely and stop reconnecting."""
        self._stopping = True
        c = self._client
        if c is not None and self.bound.is_set():
            try:
                with self._write:
                    c.send_pdu(pdus.make("unbind", c))
                gevent.sleep(0.05)
            except Exception:  # noqa: BLE001 - the session is going anyway
                pass
        self._drop("stopped")
        if self._runner is not None:
            self._runner.kill(timeout=2)

    def _run(self) -> None:
        delay = self.config.reconnect_min
        while not self._stopping:
            try:
                self._session()
                delay = self.config.reconnect_min
            except Exception as exc:  # noqa: BLE001 - every failure means: reconnect
                self.last_error = f"{exc.__class__.__name__}: {exc}"
                log.warning("SMPP bind to %s:%s lost: %s", self.config.host, self.config.port, self.last_error)
            self._drop(self.last_error or "disconnected")
            if self._stopping:
                return
            gevent.sleep(delay)
            delay = min(self.config.reconnect_max, delay * 2)

    def _session(self) -> None:
        cfg = self.config
        c = smpp_client.Client(cfg.host, cfg.port, timeout=cfg.response_timeout, allow_unknown_opt_params=True)
        c.connect()
        # Each submit_sm leaves when it is written (Nagle would hold one back behind an unanswered one,
        # moving writes the rate admitted at their moment).
        c._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client = c
        c.bind_transceiver(system_id=cfg.system_id, password=cfg.password, system_type=cfg.system_type,
                           interface_version=0x34)
        # From here liveness is enquire_link's business: a quiet SMSC is not a dead one.
        c._socket.settimeout(None)
        self.binds += 1
        self.last_error = None
        self.bound.set()
        log.info("SMPP bound to %s:%s as %s", cfg.host, cfg.port, cfg.system_id)
        keepalive = gevent.spawn(self._keepalive, c)
        try:
            while True:
                p = pdus.read(c._socket, c)
                self._dispatch(c, p)
        finally:
            keepalive.kill(block=False)

    def _drop(self, reason: str) -> None:
        self.bound.clear()
        c, self._client = self._client, None
        if c is not None and c._socket is not None:
            try:
                c._socket.close()
            except OSError:
                pass
            c._socket = None
            c.state = consts.SMPP_CLIENT_STATE_CLOSED
        pending, self._pending = self._pending, {}
        for result in pending.values():
            result.set_exception(Uncertain(reason))

    # -- reading ---------------------------------------------------------------------

    def _dispatch(self, c, p) -> None:
        cmd = p.command
        if cmd == "unbind_resp":
            return
        if cmd in ("submit_sm_resp", "generic_nack", "enquire_link_resp"):
            result = self._pending.pop(p.sequence, None)
            if result is not None:
                result.set((int(p.status or 0), pdus.text_field(getattr(p, "message_id", b""))))
        elif cmd == "deliver_sm":
            gevent.spawn(self._deliver, c, p)
        elif cmd == "enquire_link":
            self._send(c, pdus.response_to(p, "enquire_link_resp", c))
        elif cmd == "unbind":
            self._send(c, pdus.response_to(p, "unbind_resp", c))
            raise pdus.Closed("the SMSC unbound")
        else:
            log.warning("SMPP: unexpected %s", cmd)

    def _deliver(self, c, p) -> None:
        try:
            status = self.on_deliver(p) or 0
        except Exception:  # noqa: BLE001 - answered with an error: the SMSC delivers it again later
            log.exception("handling deliver_sm failed")
            status = consts.SMPP_ESME_RSYSERR
        try:
            self._send(c, pdus.response_to(p, "deliver_sm_resp", c, status=status, message_id=""))
        except (OSError, exceptions.ConnectionError, NotSent):
            pass  # unanswered: the SMSC sends it again on the next bind

    def _keepalive(self, c) -> None:
        while True:
            gevent.sleep(self.config.enquire_link)
            try:
                self._request(c, pdus.make("enquire_link", c))
            except (Uncertain, NotSent):
                log.warning("SMPP: no enquire_link_resp within %ss; reconnecting", self.config.response_timeout)
                if c._socket is not None:
                    c._socket.close()  # the reader fails and the session is made again
                return

    # -- writing ---------------------------------------------------------------------

    def _send(self, c, p) -> None:
        data = p.generate()
        with self._write:
            if c._socket is None:
                raise NotSent("not connected")
            c._socket.sendall(data)

    def _request(self, c, p, before_write: Callable[[], float | None] | None = None,
                 after_write: Callable[[], None] | None = None) -> tuple[int, str]:
        result = gevent.event.AsyncResult()
        self._pending[p.sequence] = result
        try:
            if before_write is None:
                self._send(c, p)
            else:
                self._admitted_write(c, p.generate(), before_write)
        except (OSError, socket.error) as exc:
            self._pending.pop(p.sequence, None)
            raise NotSent(str(exc)) from None
        except BaseException:
            self._pending.pop(p.sequence, None)
            raise
        if after_write is not None:
            after_write()
        try:
            return result.get(timeout=self.config.response_timeout)
        except gevent.Timeout:
            self._pending.pop(p.sequence, None)
            raise Uncertain(f"no answer within {self.config.response_timeout:g} s") from None

    def _admitted_write(self, c, data: bytes, before_write: Callable[[], float | None]) -> None:
        # One greenlet of this bind at a time asks for admission (the others would only ask in vain), and
        # asks holding the write lock, so that nothing but the socket write follows an admission. Refused,
        # it waits the time it was told, outside the lock, and asks again: an admission is never given up.
        with self._turn:
            while True:
                asked = time.monotonic()
                with self._write:
                    wait = before_write()
                    if not wait:
                        if c._socket is None:
                            raise NotSent("the bind was lost")
                        c._socket.sendall(data)
                        return
                # The wait counts from when the answer was made, not from when it reached us (on a loaded
                # machine that can be milliseconds, and each late write delays the one a window later).
                gevent.sleep(max(0.0002, asked + wait - time.monotonic()))

    def submit(self, *, before_write: Callable[[], float | None] | None = None,
               after_write: Callable[[], None] | None = None, wait: float | None = None, **fields) -> str:
        """Send one submit_sm and return the SMSC's message_id.

        ``before_write`` runs once the bind and a window slot are ours, under the write lock, right before
        the PDU is written (the sender admits the write against the rate and marks the part there): it
        returns 0/None to write now, or seconds to wait before it is asked again. ``after_write`` runs once
        the PDU is in the socket. Raises :class:`NotSent`, :class:`Uncertain` or :class:`Refused`.
        """
        if not self.bound.wait(self.config.response_timeout if wait is None else wait):
            raise NotSent(f"not bound to the SMSC ({self.last_error or 'connecting'})")
        with self.window:
            c = self._client
            if c is None or not self.bound.is_set():
                raise NotSent("the bind was lost")
            started = time.monotonic()
            status, message_id = self._request(c, pdus.make("submit_sm", c, **fields), before_write, after_write)
            log.debug("submit_sm answered in %.1f ms", (time.monotonic() - started) * 1000)
        if status != 0:
            raise Refused(status)
        return message_id

"""An SMSC stand-in that speaks SMPP 3.4 over TCP, for tests, ``make run`` and the benchmarks.

It accepts ``bind_transceiver`` (and transmitter/receiver) with the configured
system_id/password, answers ``enquire_link``, ``unbind`` and ``submit_sm``
(a message_id each, or the scenario's refusal), and sends delivery receipts as
``deliver_sm`` (esm_class 0x04, the Appendix B text, ``receipted_message_id``
and ``message_state`` TLVs) to a bound receiver of the same system_id, after
the scenario's delay. A receipt that no bind acknowledges (the worker died) is
kept and sent again on the next bind, as an SMSC does. :meth:`Smsc.send_mo`
sends a mobile-originated message to a bound receiver.

Scenario (JSON or YAML): ``{"default": RULE, "rules": [RULE, ...]}``, the first
rule whose ``match`` (a regular expression) matches the destination wins::

    match: "^9199"      # destination regex
    dlr: DELIVRD         # DELIVRD, UNDELIV, EXPIRED, REJECTD, ... or null for no receipt
    err: "000"           # the receipt's err:
    delay: 1.0           # seconds from submit_sm to the receipt (late receipts: a long delay)
    submit_status: 0     # command_status of submit_sm_resp (0x58 throttled, 0x0B bad destination ...)
    fail_times: 0        # refuse only the first N submits of each (destination, text), then accept

Every accepted ``submit_sm`` is recorded in :attr:`Smsc.received` with the
time it reached this host (the kernel's receive stamp of its packet, see
:func:`read_stamped`), which is what tests and benchmarks count and time.
"""

from __future__ import annotations

import argparse
import logging
import re
import secrets
import socket
import struct
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import gevent
import gevent.event
from gevent.lock import RLock
from gevent.server import StreamServer

from sms import pdus
from sms.parts import decode

log = logging.getLogger(__name__)


@dataclass
class Rule:
    """What happens to the messages whose destination matches ``match``."""

    match: str = ""
    dlr: str | None = "DELIVRD"
    err: str = "000"
    delay: float = 1.0
    submit_status: int = 0
    fail_times: int = 0

    @classmethod
    def from_dict(cls, d: dict) -> "Rule":
        """A rule from a scenario entry (unknown keys are refused)."""
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown scenario keys: {', '.join(sorted(unknown))}")
        return cls(**d)


@dataclass
class Scenario:
    """Rules by destination, and the default."""

    default: Rule = field(default_factory=Rule)
    rules: list[Rule] = field(default_factory=list)

    def rule_for(self, destination: str) -> Rule:
        """The first rule matching ``destination``, else the default."""
        for rule in self.rules:
            if re.search(rule.match, destination):
                return rule
        return self.default

    @classmethod
    def from_dict(cls, d: dict) -> "Scenario":
        """A scenario from its JSON/YAML document."""
        return cls(Rule.from_dict(d.get("default") or {}), [Rule.from_dict(r) for r in d.get("rules") or []])

    @classmethod
    def load(cls, path: str) -> "Scenario":
        """Read a scenario file (YAML or JSON)."""
        import yaml

        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(yaml.safe_load(fh) or {})


@dataclass
class Received:
    """One submit_sm the stand-in accepted."""

    message_id: str
    system_id: str
    source: str
    destination: str
    short_message: bytes
    data_coding: int
    esm_class: int
    registered_delivery: int
    at: float
    text: str
    concat: tuple[int, int, int] | None


#: Linux's socket option (and control message type) for the kernel's receive time of each packet.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def read_stamped(sock, seq_source) -> tuple[object, float]:
    """Read one PDU and the time its first bytes reached this host (the kernel's receive stamp).

    An SMSC counts submit_sm as they arrive; the stand-in's own clock would add its process's scheduling
    delays (it shares a loaded machine with what it measures) and bunch arrivals that were not bunched.
    The PDU's first 4 bytes are read with their own ``recvmsg``, whose control message carries the stamp of
    the packet they came in. Without a stamp (another OS), the stand-in's clock.
    """
    data, anc, _flags, _addr = sock.recvmsg(4, socket.CMSG_SPACE(16))
    if not data:
        raise pdus.Closed("connection closed")
    at = time.time()
    for level, kind, value in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
            sec, nsec = struct.unpack("qq", value[:16])
            at = sec + nsec / 1e9
    head = data + (pdus.recv_exact(sock, 4 - len(data)) if len(data) < 4 else b"")
    return pdus.parse(head, sock, seq_source), at


class _Session:
    """One bound connection."""

    def __init__(self, smsc: "Smsc", sock, address):
        self.smsc, self.sock, self.address = smsc, sock, address
        self.seq = pdus.Sequencer()
        self.system_id: str | None = None
        self.mode: str | None = None  # transceiver | transmitter | receiver
        self.lock = RLock()
        self.unacked: dict[int, tuple] = {}  # deliver_sm sequence -> (kind, payload) to redeliver if lost
        self.closed = False
        self.arrived = 0.0  # when the PDU being handled reached this host (see read_stamped)

    def send(self, pdu) -> None:
        data = pdu.generate()
        with self.lock:
            self.sock.sendall(data)

    def can_receive(self) -> bool:
        return not self.closed and self.mode in ("transceiver", "receiver")

    def serve(self) -> None:
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:  # not Linux: the stand-in's own clock, with its scheduling delays
            pass
        try:
            while True:
                p, self.arrived = read_stamped(self.sock, self.seq)
                self.smsc._handle(self, p)
        except (pdus.Closed, OSError):
            pass
        except Exception:  # noqa: BLE001 - a bad PDU ends its connection, not the stand-in
            log.exception("stand-in: connection %s failed", self.address)
        finally:
            self.closed = True
            self.smsc._lost(self)
            try:
                self.sock.close()
            except OSError:
                pass


class Smsc:
    """The stand-in: ``Smsc(port=0).start()``; ``.port`` is where it listens."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, system_id: str | None = "vaani",
                 password: str | None = "vaani", scenario: Scenario | None = None, resp_delay: float = 0.0):
        self.host, self.port = host, port
        self.system_id, self.password = system_id, password
        self.scenario = scenario or Scenario()
        self.resp_delay = resp_delay
        self.received: list[Received] = []
        self.refused: list[tuple[str, int]] = []
        self.sessions: list[_Session] = []
        self.binds = 0
        self.enquire_links = 0
        self.receipts_sent = 0
        self.dropped: list[dict] = []  # deliver_sm refused more than ``redeliveries`` times
        self._tries: dict[tuple[str, bytes], int] = {}
        self._outbox: dict[str, list[tuple]] = {}
        self._server: StreamServer | None = None
        #: How often, and after how long, a deliver_sm answered with an error is sent again.
        self.redeliveries = 20
        self.redelivery_delay = 0.3

    # -- life ------------------------------------------------------------------------

    def start(self) -> "Smsc":
        """Listen (in the calling process's gevent hub) and return self."""
        self._server = StreamServer((self.host, self.port), self._connection)
        self._server.start()
        self.port = self._server.server_port
        self._retrier = gevent.spawn(self._retry_loop)
        return self

    def _retry_loop(self, every: float = 0.2) -> None:
        # What waits for a bind (none was bound, or the one chosen died) is offered again, as an SMSC retries.
        while True:
            gevent.sleep(every)
            for system_id in list(self._outbox):
                if self._outbox.get(system_id):
                    self._flush(system_id)

    def stop(self) -> None:
        """Close the listener and every connection."""
        if self._server is not None:
            self._server.stop(timeout=1)
        if getattr(self, "_retrier", None) is not None:
            self._retrier.kill(block=False)
        self.drop_binds()

    def drop_binds(self) -> None:
        """Close every connection (as an SMSC restart would): binds must reconnect."""
        for s in list(self.sessions):
            try:
                s.sock.close()
            except OSError:
                pass

    def _connection(self, sock, address) -> None:
        session = _Session(self, sock, address)
        self.sessions.append(session)
        session.serve()

    def _lost(self, session: _Session) -> None:
        if session in self.sessions:
            self.sessions.remove(session)
        if session.system_id:
            # Receipts and MOs the dead bind never acknowledged go out again on the next bind.
            self._outbox.setdefault(session.system_id, []).extend(session.unacked.values())
            session.unacked.clear()
            gevent.spawn(self._flush, session.system_id)

    # -- PDUs ------------------------------------------------------------------------

    def _handle(self, s: _Session, p) -> None:
        cmd = p.command
        if cmd.startswith("bind_"):
            sid = pdus.text_field(getattr(p, "system_id", b""))
            pw = pdus.text_field(getattr(p, "password", b""))
            ok = (self.system_id is None or sid == self.system_id) and (self.password is None or pw == self.password)
            status = 0 if ok else 0x0E  # ESME_RINVPASWD
            s.send(pdus.response_to(p, cmd + "_resp", s.seq, status=status, system_id="standin"))
            if ok:
                s.system_id, s.mode = sid, cmd[len("bind_"):]
                self.binds += 1
                gevent.spawn(self._flush, sid)
            return
        if cmd == "enquire_link":
            self.enquire_links += 1
            s.send(pdus.response_to(p, "enquire_link_resp", s.seq))
        elif cmd == "unbind":
            s.send(pdus.response_to(p, "unbind_resp", s.seq))
            s.sock.close()
        elif cmd == "submit_sm":
            self._submit(s, p)
        elif cmd == "deliver_sm_resp":
            item = s.unacked.pop(p.sequence, None)
            if item is not None and int(p.status or 0) != 0 and s.system_id:
                # Refused (e.g. the receipt raced the ESME's own commit): sent again a little later.
                kind, fields = item
                tries = fields.get("_tries", 0) + 1
                if tries <= self.redeliveries:
                    fields = {**fields, "_tries": tries}
                    gevent.spawn_later(self.redelivery_delay, self._deliver, s.system_id, fields, kind)
                else:
                    self.dropped.append(fields)
        elif cmd in ("enquire_link_resp", "generic_nack"):
            pass
        else:
            s.send(pdus.response_to(p, "generic_nack", s.seq, status=0x03))  # ESME_RINVCMDID

    def _submit(self, s: _Session, p) -> None:
        if s.mode not in ("transceiver", "transmitter"):
            s.send(pdus.response_to(p, "submit_sm_resp", s.seq, status=0x04, message_id=""))  # RINVBNDSTS
            return
        dest = pdus.text_field(p.destination_addr)
        sm = p.short_message or b""
        if isinstance(sm, str):
            sm = sm.encode("latin-1")
        rule = self.scenario.rule_for(dest)
        if rule.submit_status:
            key = (dest, sm)
            self._tries[key] = self._tries.get(key, 0) + 1
            if not rule.fail_times or self._tries[key] <= rule.fail_times:
                self.refused.append((dest, rule.submit_status))
                s.send(pdus.response_to(p, "submit_sm_resp", s.seq, status=rule.submit_status, message_id=""))
                return
        message_id = secrets.token_hex(8)
        text, concat = decode(sm, int(p.data_coding or 0), int(p.esm_class or 0))
        rec = Received(message_id, s.system_id or "", pdus.text_field(p.source_addr), dest, sm,
                       int(p.data_coding or 0), int(p.esm_class or 0), int(p.registered_delivery or 0),
                       s.arrived, text, concat)
        self.received.append(rec)
        if self.resp_delay:
            gevent.sleep(self.resp_delay)
        s.send(pdus.response_to(p, "submit_sm_resp", s.seq, message_id=message_id))
        wanted = rec.registered_delivery & 0x03
        if rule.dlr and (wanted == 1 or (wanted == 2 and rule.dlr != "DELIVRD")):
            gevent.spawn_later(max(0.0, rule.delay), self._receipt, rec, rule)

    def _receipt(self, rec: Received, rule: Rule) -> None:
        now = datetime.now(timezone.utc)
        submitted = datetime.fromtimestamp(rec.at, timezone.utc)
        fields = dict(
            service_type="", source_addr_ton=1, source_addr_npi=1, source_addr=rec.destination,
            dest_addr_ton=1, dest_addr_npi=1, destination_addr=rec.source,
            esm_class=pdus.ESM_DELIVERY_RECEIPT, data_coding=0,
            short_message=pdus.receipt_text(rec.message_id, rule.dlr, rule.err, submitted, now, rec.short_message),
            receipted_message_id=rec.message_id,
            message_state=pdus.MESSAGE_STATES.get(rule.dlr, 7))
        self._deliver(rec.system_id, fields)

    def send_mo(self, source: str, destination: str, text: str, *, system_id: str | None = None) -> None:
        """Send a mobile-originated SMS from ``source`` to ``destination`` (our inbound number)."""
        from sms.parts import encode

        enc = encode(text)
        if enc.parts != 1:
            raise ValueError("the stand-in sends single-part MO messages")
        fields = dict(service_type="", source_addr_ton=1, source_addr_npi=1, source_addr=source,
                      dest_addr_ton=1, dest_addr_npi=1, destination_addr=destination, esm_class=0,
                      data_coding=enc.data_coding, short_message=enc.chunks[0])
        self._deliver(system_id or self.system_id or "", fields)

    def _deliver(self, system_id: str, fields: dict, kind: str = "deliver_sm") -> None:
        self._outbox.setdefault(system_id, []).append((kind, fields))
        self._flush(system_id)

    def _flush(self, system_id: str) -> None:
        queue = self._outbox.get(system_id) or []
        while queue:
            targets = [s for s in self.sessions if s.system_id == system_id and s.can_receive()]
            if not targets:
                return
            s = targets[int(time.monotonic() * 1000) % len(targets)]
            kind, fields = queue.pop(0)
            p = pdus.make(kind, s.seq, **{k: v for k, v in fields.items() if not k.startswith("_")})
            s.unacked[p.sequence] = (kind, fields)
            try:
                s.send(p)
                if fields.get("esm_class") == pdus.ESM_DELIVERY_RECEIPT:
                    self.receipts_sent += 1
            except OSError:
                s.unacked.pop(p.sequence, None)
                queue.insert(0, (kind, fields))
                s.closed = True
                gevent.sleep(0.05)

    # -- for tests -------------------------------------------------------------------

    def wait_received(self, n: int, timeout: float = 10.0) -> bool:
        """Wait until at least ``n`` submit_sm were accepted."""
        deadline = time.monotonic() + timeout
        while len(self.received) < n and time.monotonic() < deadline:
            gevent.sleep(0.02)
        return len(self.received) >= n


def main(argv: list[str] | None = None) -> int:
    """``python -m sms.standin``: run the stand-in until SIGTERM."""
    import signal

    from config import settings

    cfg = settings()
    ap = argparse.ArgumentParser(prog="python -m sms.standin", description=__doc__.split("\n")[0])
    ap.add_argument("--host", default=cfg.smpp_host)
    ap.add_argument("--port", type=int, default=cfg.smpp_port)
    ap.add_argument("--system-id", default=cfg.smpp_system_id)
    ap.add_argument("--password", default=cfg.smpp_password)
    ap.add_argument("--scenario", default=cfg.smsc_standin_scenario)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        scenario = Scenario.load(args.scenario) if args.scenario else Scenario()
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: scenario {args.scenario}: {exc}")
        return 2
    smsc = Smsc(args.host, args.port, system_id=args.system_id, password=args.password, scenario=scenario).start()
    log.info("SMSC stand-in listening on %s:%s (system_id %s)", args.host, smsc.port, args.system_id)
    done = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, done.set)
    gevent.signal_handler(signal.SIGINT, done.set)
    done.wait()
    smsc.stop()
    return 0


if __name__ == "__main__":
    from gevent import monkey

    monkey.patch_all()
    raise SystemExit(main())

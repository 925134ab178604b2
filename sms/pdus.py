"""SMPP 3.4 PDUs through smpplib's codec, for both ends: our binds and the SMSC stand-in.

smpplib encodes and parses every PDU of SMPP 3.4 (``smpplib.smpp.make_pdu`` /
``parse_pdu``); its command objects take their sequence numbers from a
"client". :class:`Sequencer` is that for code that is not an ``smpplib.Client``
(the stand-in). This module adds what both ends share: reading one PDU from a
socket, the command_status values we act on, and the delivery-receipt text of
SMPP 3.4 Appendix B.
"""

from __future__ import annotations

import re
import struct
import threading
from datetime import datetime, timezone

from smpplib import consts, smpp
from smpplib.client import SimpleSequenceGenerator

#: command_status values that mean "try again later" (throttled, queue full, system error, no answer).
TEMPORARY = {consts.SMPP_ESME_RTHROTTLED, consts.SMPP_ESME_RMSGQFUL, consts.SMPP_ESME_RSYSERR,
             getattr(consts, "SMPP_ESME_RX_T_APPN", 0x64)}
#: SMPP message_state TLV values (SMPP 3.4, 5.2.28).
MESSAGE_STATES = {"ENROUTE": 1, "DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "ACCEPTD": 6,
                  "UNKNOWN": 7, "REJECTD": 8}
#: esm_class bits of a deliver_sm that carries a delivery receipt.
ESM_DELIVERY_RECEIPT = 0x04


class Sequencer:
    """A thread-safe sequence-number source with the interface smpplib's commands expect of a client."""

    def __init__(self):
        self._gen = SimpleSequenceGenerator()
        self._lock = threading.Lock()

    @property
    def sequence(self) -> int:
        """The last sequence number given out."""
        return self._gen.sequence

    def next_sequence(self) -> int:
        """The next sequence number."""
        with self._lock:
            return self._gen.next_sequence()


def make(command: str, seq_source, **fields):
    """A PDU object (``smpplib.command``) of ``command`` with ``fields``."""
    return smpp.make_pdu(command, client=seq_source, allow_unknown_opt_params=True, **fields)


def response_to(request, command: str, seq_source, **fields):
    """The response PDU of ``request`` (same sequence number)."""
    resp = make(command, seq_source, **fields)
    # Set after construction: smpplib's constructor ignores a ``sequence`` keyword (its property shadows it).
    resp.sequence = request.sequence
    return resp


class Closed(ConnectionError):
    """The peer closed the connection."""


def recv_exact(sock, n: int) -> bytes:
    """Exactly ``n`` bytes from ``sock`` (raises :class:`Closed` at end of stream)."""
    parts, got = [], 0
    while got < n:
        chunk = sock.recv(n - got)
        if not chunk:
            raise Closed("connection closed")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def read(sock, seq_source):
    """Read one PDU from ``sock`` and parse it (raises :class:`Closed` at end of stream)."""
    return parse(recv_exact(sock, 4), sock, seq_source)


def parse(head: bytes, sock, seq_source):
    """The PDU whose 4 length bytes ``head`` were read from ``sock``: the rest read and parsed."""
    (length,) = struct.unpack(">L", head)
    if length < 16 or length > 64 * 1024:
        raise Closed(f"bad PDU length {length}")
    raw = head + recv_exact(sock, length - 4)
    return smpp.parse_pdu(raw, client=seq_source, allow_unknown_opt_params=True)


def _smpp_date(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%y%m%d%H%M")


def receipt_text(message_id: str, stat: str, err: str, submitted: datetime, done: datetime, text: bytes) -> bytes:
    """The short_message of a delivery receipt (SMPP 3.4 Appendix B)."""
    dlvrd = "001" if stat == "DELIVRD" else "000"
    head = (f"id:{message_id} sub:001 dlvrd:{dlvrd} submit date:{_smpp_date(submitted)} "
            f"done date:{_smpp_date(done)} stat:{stat} err:{err} text:")
    return head.encode("ascii") + text[:20]


_RECEIPT = re.compile(rb"id:(?P<id>\S+).*?stat:(?P<stat>\w+)(?:.*?err:(?P<err>\w+))?", re.S | re.I)
_DONE = re.compile(rb"done date:(?P<done>\d{10,12})", re.I)


def parse_receipt(short_message: bytes) -> dict | None:
    """``{"id", "stat", "err", "done"}`` of a delivery receipt's text, or None when it is not one."""
    m = _RECEIPT.search(short_message or b"")
    if not m:
        return None
    out = {"id": m.group("id").decode("ascii", "replace"), "stat": m.group("stat").decode().upper(),
           "err": (m.group("err") or b"000").decode("ascii", "replace"), "done": None}
    d = _DONE.search(short_message)
    if d:
        raw = d.group("done").decode()
        try:
            out["done"] = datetime.strptime(raw[:10], "%y%m%d%H%M")
        except ValueError:
            pass
    return out


def text_field(value) -> str:
    """A PDU's C-octet string field as text (smpplib gives bytes)."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)

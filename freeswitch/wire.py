"""The Event Socket (ESL) wire format, as FreeSWITCH 1.10 writes and reads it.

Shared by the simulator (which must write exactly what FreeSWITCH writes) and by
the platform's ESL clients (which must read it). Everything here is pure: bytes
in, values out; no sockets are opened.

What the format is (``mod_event_socket.c``, ``switch_event.c``):

* A *frame* is a block of ``Name: value`` lines ended by a blank line, followed,
  when the block has a ``Content-Length`` header, by exactly that many bytes of
  body. Frames FreeSWITCH sends never carry ``\\r``.
* A command sent *to* FreeSWITCH has the same shape, except that its first line
  is the command itself (``api status``, ``sendmsg <uuid>``), kept under the
  pseudo-header ``Command``.
* An event in ``text/event-plain`` is itself a header block whose values are
  URL-encoded with FreeSWITCH's unsafe set (:func:`url_encode`); when the event
  has a body (BACKGROUND_JOB's job output, for example) the block ends with
  ``Content-Length: N``, a blank line and the N body bytes; otherwise with a
  blank line alone.
* An event in ``text/event-json`` is one compact JSON object; keys keep the
  event's header order (duplicates included, as cJSON writes them) and a body
  travels as ``"Content-Length"`` plus ``"_body"``.
"""

from __future__ import annotations

import json
import re
from json.encoder import encode_basestring as _json_encode_str
from typing import Iterable, NamedTuple
from urllib.parse import unquote as _unquote

# switch_utils.h: SWITCH_URL_UNSAFE. Besides these, every byte below 0x20 or
# above 0x7E is encoded (FreeSWITCH tests a signed char, so all UTF-8 bytes of
# non-ASCII text are encoded one by one).
URL_UNSAFE = "\r\n #%&+:;<=>?@[\\]^`{|}\""

_HEX = "0123456789ABCDEF"
_ENCODE_TABLE = []
for _b in range(256):
    if _b < 0x20 or _b > 0x7E or chr(_b) in URL_UNSAFE:
        _ENCODE_TABLE.append("%" + _HEX[_b >> 4] + _HEX[_b & 0x0F])
    else:
        _ENCODE_TABLE.append(chr(_b))
_SAFE_CHARS = frozenset(c for c in map(chr, range(0x20, 0x7F)) if c not in URL_UNSAFE)
# The same rule for whole strings: a value with none of these characters is sent as it is (most are).
_URL_UNSAFE_RE = re.compile("[^" + re.escape("".join(sorted(_SAFE_CHARS))) + "]")


class _UrlEncodeMap(dict):
    """A ``str.translate`` table: each character to its escapes, one ``%XX`` per UTF-8 byte.

    ASCII is filled in up front; other characters are computed when first met and kept (up to a bound,
    so that a stream of ever new characters cannot grow it without end).
    """

    def __missing__(self, code_point: int) -> str:
        # A lone surrogate has no UTF-8 form: encode() raises, as encoding the whole value did before.
        escaped = "".join(_ENCODE_TABLE[b] for b in chr(code_point).encode("utf-8"))
        if len(self) < 65536:
            self[code_point] = escaped
        return escaped


_URL_ENCODE_MAP = _UrlEncodeMap((b, _ENCODE_TABLE[b]) for b in range(0x80))
# ASCII text translates faster through a tuple (no hashing per character).
_URL_ENCODE_ASCII = tuple(_ENCODE_TABLE[:0x80])


def _url_escape(value: str) -> str:
    """Every character of ``value`` as switch_url_encode writes it (the value holds some unsafe one)."""
    return value.translate(_URL_ENCODE_ASCII if value.isascii() else _URL_ENCODE_MAP)

DISCONNECT_GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


class ProtocolError(ValueError):
    """The peer sent bytes that are not a valid ESL frame."""


class Frame(NamedTuple):
    """One ESL message: its headers (raw, as sent) and its body (bytes, possibly empty).

    Unpacks as ``headers, body = frame``.
    """

    headers: dict
    body: bytes

    @property
    def content_type(self) -> str:
        """The Content-Type header, or '' when there is none (e.g. the outbound ``connect`` reply has one)."""
        return self.headers.get("Content-Type", "")

    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced)."""
        return self.body.decode("utf-8", "replace")


# --------------------------------------------------------------------------
# URL encoding of header values
# --------------------------------------------------------------------------

def url_encode(value: str) -> str:
    """Encode a header value exactly as ``switch_url_encode`` does (double-encoding ``%``)."""
    if _URL_UNSAFE_RE.search(value) is None:
        return value
    return _url_escape(value)


def url_decode(value: str) -> str:
    """Decode ``%XX`` escapes (``+`` stays a plus, as in ``switch_url_decode``); bytes are read as UTF-8.

    A ``%`` not followed by two hex digits is kept as it is; bytes that are not valid UTF-8 become U+FFFD.
    """
    if "%" not in value:
        return value
    # urllib's unquote has exactly these rules (no '+' handling, stray '%' kept), and is several
    # times faster than decoding byte by byte in Python: most event header values hold a '%'.
    return _unquote(value, errors="replace")


# --------------------------------------------------------------------------
# Reading frames
# --------------------------------------------------------------------------

MAX_CONTENT_LENGTH = 10 * 1024 * 1024


def read_frame(rfile, *, command: bool = False) -> Frame | None:
    """Read one frame from a binary file object (``sock.makefile('rb')``).

    Returns None at end of stream (the peer closed). Blank lines before a
    frame are skipped, as FreeSWITCH does. With ``command=True`` the first line
    is stored under ``Command`` (what a client sends to FreeSWITCH). A frame
    cut short by a close raises :class:`ProtocolError`.
    """
    headers: dict[str, str] = {}
    first = True
    while True:
        line = rfile.readline(65536 + 2)
        if not line:
            if headers:
                raise ProtocolError("connection closed in the middle of a header block")
            return None
        if not line.endswith(b"\n") and len(line) > 65536:
            raise ProtocolError("header line too long")
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if not text:
            if not headers:
                continue  # stray blank lines between frames
            break
        if command and first:
            headers["Command"] = text
        else:
            name, sep, value = text.partition(":")
            if not sep:
                if command:
                    continue  # FreeSWITCH ignores a line without a colon
                raise ProtocolError(f"malformed header line {text!r}")
            headers[name.strip()] = value.lstrip(" ")
        first = False
    body = b""
    length = _content_length(headers)
    if length:
        body = _read_exactly(rfile, length)
    return Frame(headers, body)


def _content_length(headers: dict) -> int:
    raw = headers.get("Content-Length")
    if raw is None:
        for k, v in headers.items():
            if k.lower() == "content-length":
                raw = v
                break
    if raw is None:
        return 0
    try:
        length = int(raw.strip())
    except ValueError:
        raise ProtocolError(f"bad Content-Length {raw!r}") from None
    if length < 0 or length > MAX_CONTENT_LENGTH:
        raise ProtocolError(f"Content-Length {length} out of range")
    return length


def _read_exactly(rfile, n: int) -> bytes:
    chunks = []
    remaining = n
    while remaining:
        chunk = rfile.read(remaining)
        if not chunk:
            raise ProtocolError(f"connection closed with {remaining} of {n} body bytes unread")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def split_frames(data: bytes) -> list[Frame]:
    """Split a byte string holding whole frames (e.g. a capture) into frames."""
    import io

    rfile = io.BytesIO(data)
    frames = []
    while True:
        frame = read_frame(rfile)
        if frame is None:
            return frames
        frames.append(frame)


# --------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------

class Event(NamedTuple):
    """A parsed event: headers in order (decoded values) and the event's own body ('' when none)."""

    headers: dict
    body: str

    @property
    def name(self) -> str:
        """The Event-Name header."""
        return self.headers.get("Event-Name", "")


def parse_event_plain(payload: bytes | str) -> Event:
    """Parse the body of a ``text/event-plain`` frame into decoded headers and the event's body."""
    raw = payload.encode("utf-8") if isinstance(payload, str) else payload
    head, sep, rest = raw.partition(b"\n\n")
    headers: dict[str, str] = {}
    # Values are URL-encoded, so the header block is ASCII and a line break inside a value arrives as
    # %0A: the block is decoded once and split on real line breaks before any value is decoded.
    for line in head.decode("utf-8", "replace").split("\n"):
        if not line:
            continue
        name, colon, value = line.partition(": ")
        if not colon:
            name, colon, value = name.partition(":")
            if not colon:
                raise ProtocolError(f"malformed event header line {line!r}")
        headers[name] = _unquote(value, errors="replace") if "%" in value else value
    body = ""
    if "Content-Length" in headers:
        try:
            n = int(headers["Content-Length"])
        except ValueError:
            raise ProtocolError(f"bad event Content-Length {headers['Content-Length']!r}") from None
        body = rest[:n].decode("utf-8", "replace")
    return Event(headers, body)


def parse_event_json(payload: bytes | str) -> Event:
    """Parse the body of a ``text/event-json`` frame; ``_body`` becomes the event's body.

    Values arrive decoded (JSON strings, no URL encoding). A header FreeSWITCH holds as an array is a
    JSON array; it is kept as its JSON text so that every header value is a string.
    """
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise ProtocolError(f"bad JSON event: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError("JSON event is not an object")
    body = data.pop("_body", "") or ""
    # The parsed object is the headers dict itself: no copy, and only the rare non-string value is touched.
    for key, value in data.items():
        if value.__class__ is not str:
            data[key] = json.dumps(value)
    if body.__class__ is not str:
        body = json.dumps(body)
    return Event(data, body)


def parse_event(frame: Frame) -> Event:
    """Parse an event frame of either kind (``text/event-plain`` or ``text/event-json``)."""
    ctype = frame.content_type
    if ctype == "text/event-plain":
        return parse_event_plain(frame.body)
    if ctype == "text/event-json":
        return parse_event_json(frame.body)
    raise ProtocolError(f"not an event frame: Content-Type {ctype!r}")


def serialize_event_plain(headers: Iterable[tuple[str, str]], body: str | None = None) -> bytes:
    """An event as ``switch_event_serialize`` writes it: the payload of a ``text/event-plain`` frame.

    ``headers`` is a sequence of (name, value) pairs, duplicates allowed, in
    FreeSWITCH's order. An empty value is written ``_undef_`` as FreeSWITCH does.
    Values are strings (names are written as they are).
    """
    unsafe = _URL_UNSAFE_RE.search
    escape = _url_escape
    # url_encode inlined: this runs for every header of every event the simulator sends.
    parts = [f"{name}: {(value if unsafe(value) is None else escape(value)) if value else '_undef_'}\n"
             for name, value in headers]
    if body:
        raw_body = body.encode("utf-8")
        parts.append(f"Content-Length: {len(raw_body)}\n\n")
        return "".join(parts).encode("ascii") + raw_body
    parts.append("\n")
    return "".join(parts).encode("ascii")


def serialize_event_json(headers: Iterable[tuple[str, str]], body: str | None = None) -> bytes:
    """An event as ``switch_event_serialize_json`` writes it (cJSON unformatted, duplicate keys kept)."""
    enc = _json_encode_str
    # _json_str inlined for the usual string values (a name is always a string).
    items = [f"{enc(name)}:{enc(value) if value.__class__ is str else _json_str(value)}" for name, value in headers]
    if body is not None:
        items.append(f'"Content-Length":"{len(body.encode("utf-8"))}"')
        items.append(f'"_body":{_json_str(body)}')
    return ("{" + ",".join(items) + "}").encode("utf-8")


def _json_str(value) -> str:
    """A value as ``json.dumps(value, ensure_ascii=False)`` writes it (what cJSON writes for a string).

    Non-ASCII stays raw UTF-8; quotes, backslashes and control characters are escaped. A string takes the
    C string encoder directly (json.dumps with a non-default option builds a new encoder each call).
    """
    if isinstance(value, str):
        return _json_encode_str(value)
    return json.dumps(value, ensure_ascii=False)


def event_frame(payload: bytes, fmt: str = "plain") -> bytes:
    """Wrap a serialized event in its frame, header order as mod_event_socket writes it."""
    return f"Content-Length: {len(payload)}\nContent-Type: text/event-{fmt}\n\n".encode("ascii") + payload


# --------------------------------------------------------------------------
# Other frames FreeSWITCH sends
# --------------------------------------------------------------------------

def command_reply(reply_text: str, *extra: tuple[str, str]) -> bytes:
    """A ``command/reply`` frame: ``Reply-Text`` first, then extra headers (e.g. Job-UUID)."""
    lines = ["Content-Type: command/reply", f"Reply-Text: {reply_text}"]
    lines += [f"{k}: {v}" for k, v in extra]
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def api_response(body: str) -> bytes:
    """An ``api/response`` frame with its body."""
    raw = body.encode("utf-8")
    return f"Content-Type: api/response\nContent-Length: {len(raw)}\n\n".encode("ascii") + raw


def auth_request() -> bytes:
    """The banner FreeSWITCH sends on an inbound connection."""
    return b"Content-Type: auth/request\n\n"


def disconnect_notice(body: str = DISCONNECT_GOODBYE) -> bytes:
    """The plain ``text/disconnect-notice`` (after ``exit``, a failed auth, or on close)."""
    raw = body.encode("utf-8")
    return f"Content-Type: text/disconnect-notice\nContent-Length: {len(raw)}\n\n".encode("ascii") + raw


def linger_notice(session_uuid: str, channel_name: str, linger_time: int = -1) -> bytes:
    """The outbound-socket notice sent when the channel hangs up while the socket lingers."""
    return (
        "Content-Type: text/disconnect-notice\n"
        f"Controlled-Session-UUID: {session_uuid}\n"
        "Content-Disposition: linger\n"
        f"Channel-Name: {channel_name}\n"
        f"Linger-Time: {linger_time}\n"
        "Content-Length: 0\n\n"
    ).encode("utf-8")


def session_disconnect_notice(session_uuid: str, body: str = DISCONNECT_GOODBYE) -> bytes:
    """The final notice of an outbound socket whose channel is gone (``Content-Disposition: disconnect``)."""
    raw = body.encode("utf-8")
    return (
        "Content-Type: text/disconnect-notice\n"
        f"Controlled-Session-UUID: {session_uuid}\n"
        "Content-Disposition: disconnect\n"
        f"Content-Length: {len(raw)}\n\n"
    ).encode("utf-8") + raw


# --------------------------------------------------------------------------
# Commands a client sends
# --------------------------------------------------------------------------

def encode_command(command: str, headers: Iterable[tuple[str, str]] = (), body: str | bytes | None = None) -> bytes:
    """A command frame as a client writes it: the command line, headers, blank line, optional body.

    A body adds ``content-length``. Newlines inside the command or a header
    would end the frame early, so they are refused.
    """
    lines = [command]
    for name, value in headers:
        lines.append(f"{name}: {value}")
    for line in lines:
        if "\n" in line or "\r" in line:
            raise ValueError(f"a newline inside an ESL command line: {line!r}")
    raw_body = body.encode("utf-8") if isinstance(body, str) else body
    if raw_body:
        lines.append(f"content-length: {len(raw_body)}")
        return ("\n".join(lines) + "\n\n").encode("utf-8") + raw_body
    return ("\n".join(lines) + "\n\n").encode("utf-8")

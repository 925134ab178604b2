"""How a text becomes SMS parts: GSM-7 or UCS-2, and concatenation with a UDH.

A text whose every character is in the GSM 03.38 default alphabet (or its
extension table, which costs two septets: ESC and the character) is sent as
GSM-7 (``data_coding`` 0, one unpacked septet per byte, as SMPP carries it);
anything else as UCS-2 (``data_coding`` 8, UTF-16-BE; a character outside the
BMP costs two units). One part carries 160 septets or 70 UCS-2 units; a longer
text is split into parts of 153 septets or 67 units, each behind a 6-byte
concatenation UDH (``05 00 03 ref total seq``), never cutting an escape pair or
a surrogate pair in two. :func:`parts_of` is the count the price is charged on.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x00ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
          "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
#: Character → septet of the default alphabet (index 27 is the escape, not a character).
GSM_BASIC = {ch: i for i, ch in enumerate(_BASIC) if i != 27}
#: Character → septet after ESC (0x1B) of the extension table.
GSM_EXTENSION = {"\x0c": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D,
                 "]": 0x3E, "|": 0x40, "€": 0x65}
_BASIC_REVERSE = {v: k for k, v in GSM_BASIC.items()}
_EXTENSION_REVERSE = {v: k for k, v in GSM_EXTENSION.items()}

GSM7, UCS2 = "GSM-7", "UCS-2"
DATA_CODING = {GSM7: 0x00, UCS2: 0x08}
SINGLE = {GSM7: 160, UCS2: 70}
CONCATENATED = {GSM7: 153, UCS2: 67}
#: esm_class bit saying the short message starts with a UDH.
UDHI = 0x40
MAX_PARTS = 255


class TooLong(ValueError):
    """A text that needs more than 255 parts."""


@dataclass(frozen=True)
class Encoded:
    """A text in its SMS alphabet: ``units`` septets (GSM-7) or UTF-16 units (UCS-2), split into ``chunks``."""

    encoding: str
    units: int
    chunks: tuple[bytes, ...]

    @property
    def parts(self) -> int:
        """How many SMS parts (``submit_sm``) the text takes."""
        return len(self.chunks)

    @property
    def data_coding(self) -> int:
        """SMPP ``data_coding`` of the parts."""
        return DATA_CODING[self.encoding]


def is_gsm7(text: str) -> bool:
    """Whether every character is in the GSM default alphabet or its extension table."""
    return all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text)


def _gsm_units(text: str) -> list[bytes]:
    return [bytes([GSM_BASIC[ch]]) if ch in GSM_BASIC else bytes([0x1B, GSM_EXTENSION[ch]]) for ch in text]


def _ucs2_units(text: str) -> list[bytes]:
    return [ch.encode("utf-16-be") for ch in text]


def encode(text: str) -> Encoded:
    """The text's alphabet and its parts' payloads (without UDH)."""
    encoding = GSM7 if is_gsm7(text) else UCS2
    pieces = _gsm_units(text) if encoding == GSM7 else _ucs2_units(text)
    width = 1 if encoding == GSM7 else 2
    units = sum(len(p) for p in pieces) // width
    if units <= SINGLE[encoding]:
        return Encoded(encoding, units, (b"".join(pieces),))
    limit = CONCATENATED[encoding] * width
    chunks: list[bytes] = []
    current = b""
    for piece in pieces:  # a piece (escape pair, surrogate pair) is never cut in two
        if len(current) + len(piece) > limit:
            chunks.append(current)
            current = b""
        current += piece
    chunks.append(current)
    if len(chunks) > MAX_PARTS:
        raise TooLong(f"the text needs {len(chunks)} parts; at most {MAX_PARTS}")
    return Encoded(encoding, units, tuple(chunks))


def parts_of(text: str) -> int:
    """How many SMS parts ``text`` is sent (and charged) as."""
    return encode(text).parts


def concat_ref(message_id: str) -> int:
    """The concatenation reference of a message: stable across retries, so the handset joins a resent part."""
    return zlib.crc32(message_id.encode()) & 0xFF


def short_messages(text: str, message_id: str) -> list[tuple[int, int, bytes]]:
    """``(esm_class, data_coding, short_message)`` of each part, with the concatenation UDH when there are several."""
    enc = encode(text)
    if enc.parts == 1:
        return [(0, enc.data_coding, enc.chunks[0])]
    ref = concat_ref(message_id)
    return [(UDHI, enc.data_coding, bytes([5, 0, 3, ref, enc.parts, n]) + chunk)
            for n, chunk in enumerate(enc.chunks, start=1)]


def decode(short_message: bytes, data_coding: int, esm_class: int = 0) -> tuple[str, tuple[int, int, int] | None]:
    """The text of a received part and its concatenation ``(ref, total, seq)`` when it has a UDH."""
    concat = None
    if esm_class & UDHI and short_message:
        udh_len = short_message[0]
        udh, short_message = short_message[1:1 + udh_len], short_message[1 + udh_len:]
        if len(udh) >= 5 and udh[0] == 0 and udh[1] == 3:
            concat = (udh[2], udh[3], udh[4])
    if data_coding == 0x08:
        return short_message.decode("utf-16-be", errors="replace"), concat
    if data_coding == 0x00:
        out, escape = [], False
        for b in short_message:
            if escape:
                out.append(_EXTENSION_REVERSE.get(b, " "))
                escape = False
            elif b == 0x1B:
                escape = True
            else:
                out.append(_BASIC_REVERSE.get(b, "?"))
        return "".join(out), concat
    return short_message.decode("latin-1"), concat

"""The event encoders in ``freeswitch.wire`` against a frozen copy of their first version.

``url_encode``, ``serialize_event_plain`` and ``serialize_event_json`` were
rewritten for speed (a regular-expression fast path and ``str.translate``,
one C-level JSON string encoder per value). The reference below is the version
they replaced, frozen here verbatim (names prefixed ``ref_``); the bytes must
be identical for generated headers: non-ASCII, ``%``, spaces, line breaks,
quotes, control characters, empty values and duplicate names. The byte-exact
comparison with a real FreeSWITCH's captures is in ``test_wire.py``.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freeswitch import wire
from freeswitch.sim.events import serialize_event_xml

# ---------------------------------------------------------------------------
# The reference, frozen.
# ---------------------------------------------------------------------------

URL_UNSAFE = "\r\n #%&+:;<=>?@[\\]^`{|}\""
_HEX = "0123456789ABCDEF"
_ENCODE_TABLE = []
for _b in range(256):
    if _b < 0x20 or _b > 0x7E or chr(_b) in URL_UNSAFE:
        _ENCODE_TABLE.append("%" + _HEX[_b >> 4] + _HEX[_b & 0x0F])
    else:
        _ENCODE_TABLE.append(chr(_b))
_SAFE_CHARS = frozenset(c for c in map(chr, range(0x20, 0x7F)) if c not in URL_UNSAFE)


def ref_url_encode(value):
    if all(c in _SAFE_CHARS for c in value):
        return value
    return "".join(_ENCODE_TABLE[b] for b in value.encode("utf-8"))


def ref_serialize_event_plain(headers, body=None):
    parts = []
    for name, value in headers:
        enc = ref_url_encode(value) if value else "_undef_"
        parts.append(f"{name}: {enc}\n")
    if body:
        raw_body = body.encode("utf-8")
        parts.append(f"Content-Length: {len(raw_body)}\n\n")
        return "".join(parts).encode("ascii") + raw_body
    parts.append("\n")
    return "".join(parts).encode("ascii")


def ref_json_str(value):
    return json.dumps(value, ensure_ascii=False)


def ref_serialize_event_json(headers, body=None):
    items = [f"{ref_json_str(name)}:{ref_json_str(value)}" for name, value in headers]
    if body is not None:
        items.append(f'"Content-Length":"{len(body.encode("utf-8"))}"')
        items.append(f'"_body":{ref_json_str(body)}')
    return ("{" + ",".join(items) + "}").encode("utf-8")


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------

VALUE_FRAGMENTS = [
    "a", "Z", "0", "-", "_", ".", "~", "!", "$", "'", "(", ")", "*", ",", "/", "%", "%20", "%%", "%4", " ", "  ",
    "\n", "\r", "\t", "\x00", "\x01", "\x1f", "\x7f", "\x80", "\xa0", "é", "ü", "☎", "𝄞", "\u2028", "\ufeff", '"',
    "\\", "\\n", "#", "&", "+", ":", ";", "<", "=", ">", "?", "@", "[", "]", "^", "`", "{", "|", "}",
    "2026-12-01 09:24:25", "sofia/gateway/vaani_trunk/+919900000012", "eyJjYWxsX3R5cGUiOiJjYW1w",
    "Tue, 01 Dec 2026 03:54:25 GMT", "+OK\n", "_undef_", "ﬀ", "İ",
]
NAMES = ["Event-Name", "Core-UUID", "variable_x", "variable_sip_h_X-Custom", "Content-Length", "_body",
         "Event-Name", "a b", "weird\"name", "tab\tname", "ünï", "", "variable_vaani_call"]


def random_value(rng: random.Random) -> str:
    return "".join(rng.choice(VALUE_FRAGMENTS) for _ in range(rng.randint(0, 12)))


def random_headers(rng: random.Random) -> list:
    headers = []
    for _ in range(rng.randint(0, 40)):
        kind = rng.random()
        value = "" if kind < 0.05 else (None if kind < 0.07 else random_value(rng))
        headers.append((rng.choice(NAMES), value))
    return headers


def _outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # noqa: BLE001 - any error must be the same kind of error
        return ("err", type(exc).__name__)


def _check_headers(headers, body):
    assert _outcome(wire.serialize_event_plain, headers, body) == \
        _outcome(ref_serialize_event_plain, headers, body), (headers, body)
    assert _outcome(wire.serialize_event_json, headers, body) == \
        _outcome(ref_serialize_event_json, headers, body), (headers, body)


@pytest.mark.parametrize("seed", range(6))
def test_url_encode_matches_reference(seed):
    rng = random.Random(seed)
    for _ in range(3000):
        value = random_value(rng)
        assert wire.url_encode(value) == ref_url_encode(value), value


def test_url_encode_every_code_point_range():
    # Every ASCII character alone and among others, plus a sample of the rest of Unicode (lone surrogates
    # cannot be encoded as UTF-8: both versions refuse them).
    for cp in list(range(0x80)) + list(range(0x80, 0x3000, 7)) + [0xD7FF, 0xD800, 0xDFFF, 0xE000, 0xFFFF, 0x10000,
                                                                   0x1F600, 0x10FFFF]:
        for value in (chr(cp), f"a{chr(cp)}b", chr(cp) * 3):
            assert _outcome(wire.url_encode, value) == _outcome(ref_url_encode, value), hex(cp)


@pytest.mark.parametrize("seed", range(6))
def test_serializers_match_reference(seed):
    rng = random.Random(100 + seed)
    for _ in range(400):
        headers = random_headers(rng)
        body = rng.choice([None, None, "", "+OK done\n", random_value(rng)])
        _check_headers(headers, body)
        _check_headers(tuple(headers), body)


def test_serializers_take_generators_and_odd_values():
    headers = [("A", "1"), ("B", ""), ("C", None), ("A", "dup"), ("D", "x y")]
    for body in (None, "", "b\u00e9"):
        assert wire.serialize_event_plain((h for h in headers), body) == ref_serialize_event_plain(headers, body)
        assert wire.serialize_event_json((h for h in headers), body) == ref_serialize_event_json(headers, body)
    # Values that are not strings (the simulator sends none): the JSON side writes them as json.dumps does;
    # the plain side writes an empty one as _undef_ and refuses any other (the reference happened to write
    # a list of URL-safe strings as its repr; that is not kept).
    odd = [("N", 5), ("F", 1.5), ("T", True), ("L", ["a", "b"]), ("Z", 0), ("E", []), ("M", None)]
    assert _outcome(wire.serialize_event_json, odd, None) == _outcome(ref_serialize_event_json, odd, None)
    for pair in odd:
        assert _outcome(wire.serialize_event_json, [pair]) == _outcome(ref_serialize_event_json, [pair]), pair
        if pair[1]:
            assert _outcome(wire.serialize_event_plain, [pair]) == ("err", "TypeError"), pair
        else:
            assert wire.serialize_event_plain([pair]) == ref_serialize_event_plain([pair]) == f"{pair[0]}: _undef_\n\n".encode()


def test_xml_serializer_unchanged():
    rng = random.Random(7)
    for _ in range(300):
        headers = [(n, v) for n, v in random_headers(rng) if v is not None and n and n.isascii()]
        body = rng.choice([None, "", "x<y>&z"])
        expected = ["<event>", "  <headers>"]
        expected += [f"    <{n}>{ref_url_encode(v)}</{n}>" for n, v in headers]
        expected.append("  </headers>")
        if body:
            from xml.sax.saxutils import escape

            expected.append(f"  <Content-Length>{len(body.encode('utf-8'))}</Content-Length>")
            expected.append(f"  <body>{escape(body)}  </body>")
        expected.append("</event>")
        assert serialize_event_xml(headers, body) == ("\n".join(expected) + "\n").encode("utf-8")


_values = st.one_of(st.text(max_size=30), st.lists(st.sampled_from(VALUE_FRAGMENTS), max_size=10).map("".join))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(NAMES), _values), max_size=20), st.one_of(st.none(), st.text(max_size=20)))
def test_property_serializers(headers, body):
    _check_headers(headers, body)
    for _, value in headers:
        assert _outcome(wire.url_encode, value) == _outcome(ref_url_encode, value)

"""Loading untrusted XML safely: no network, no DTD, no entities, a size cap and a depth cap.

Customer apps are fetched from the internet, so a document may be hostile:
XXE (external entities reading local files or URLs), "billion laughs" (nested
entity expansion), huge or absurdly deep documents. Any DOCTYPE is refused
outright: no legitimate KooKoo or KML app needs one.
"""

from __future__ import annotations

import functools
import re
from threading import get_native_id

from lxml import etree

from kml.model import KmlError, ParseIssue

_parsers: dict[int, etree.XMLParser] = {}
_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


def _parser() -> etree.XMLParser:
    """One hardened parser per OS thread.

    lxml parsers must not be shared across OS threads, hence the key: the native thread id,
    which gevent does not patch (``threading.local`` and ``get_ident`` become per-greenlet
    under gevent, which would build a parser, and its libxml2 context, for every call's
    greenlet). Greenlets of one thread may share a parser because a parse never yields:
    it reads bytes in memory, with no network and no resolvers.
    """
    key = get_native_id()
    parser = _parsers.get(key)
    if parser is None:
        if len(_parsers) >= 256:  # ids of finished threads; a thread still parsing holds its own reference
            _parsers.clear()
        # remove_blank_text: whitespace-only text between elements (indentation) is never
        # read (text is stripped, tails are ignored), so libxml2 need not keep it.
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
            huge_tree=False, remove_comments=True, remove_pis=True, collect_ids=False, remove_blank_text=True,
        )
        _parsers[key] = parser
    return parser


def _fail(message: str, line: int | None = None, column: int | None = None) -> KmlError:
    return KmlError([ParseIssue(line, column, message)])


def to_bytes(data: bytes | str) -> bytes:
    """The document as bytes; a str is encoded as UTF-8 (its own XML declaration, if any, dropped)."""
    if data.__class__ is bytes:
        return data
    if isinstance(data, str):
        return _DECL.sub("", data.lstrip("\ufeff"), count=1).encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"a document must be bytes or str, not {type(data).__name__}")


def load(data: bytes, max_bytes: int, max_depth: int, check_depth: bool = True) -> etree._Element:
    """Parse ``data`` into its root element, or raise KmlError saying why it is refused.

    ``check_depth`` False leaves the depth cap to the caller (see :func:`check_depth_cap`).
    """
    if len(data) > max_bytes:
        raise _fail(f"the document is {len(data)} bytes; the limit is {max_bytes} bytes")
    # Refuse a DTD before libxml2 reads it. A DOCTYPE can only stand in the prolog, so
    # only the prolog is scanned; the docinfo check after parsing covers encodings
    # whose bytes this scan cannot read (UTF-16, UTF-7, ...).
    at = _prolog_declaration(data)
    if at >= 0:
        raise _fail(_doctype_message(), *_position(data, at))
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        if not data.strip(b" \t\r\n\xef\xbb\xbf"):
            raise _fail("the document is empty: an app must answer with XML such as <response>...</response>") \
                from None
        line, column = exc.position if exc.position else (exc.lineno, None)
        message = re.sub(r",? line \d+(, column \d+)?\s*$", "", str(exc.msg or exc))
        raise _fail(f"the document is not well-formed XML: {message}", line, column) from None
    except ValueError as exc:  # e.g. a str with an encoding declaration lxml cannot honour
        raise _fail(f"the document cannot be read: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise _fail(_doctype_message(), 1, None)
    if check_depth:
        check_depth_cap(root, len(data), max_depth)
    return root


def check_depth_cap(root: etree._Element, size: int, max_depth: int) -> None:
    """Raise KmlError when an element lies deeper than ``max_depth`` levels."""
    # Each level of nesting takes at least 7 bytes (<a></a>): a short document cannot be too deep.
    if size > 7 * max_depth and _too_deep(max_depth)(root):
        deep = root.find("/".join(["*"] * max_depth))
        raise _fail(f"elements are nested more than {max_depth} levels deep",
                    deep.sourceline if deep is not None else None, None)


def _prolog_declaration(data: bytes) -> int:
    """Offset of a ``<!DOCTYPE``/``<!ENTITY`` before the root element, or -1."""
    i = data.find(b"<")
    while i >= 0:
        nxt = data[i + 1:i + 2]
        if nxt == b"?":
            end = data.find(b"?>", i + 2)
        elif nxt == b"!":
            if data.startswith(b"<!--", i):
                end = data.find(b"-->", i + 4)
            elif data.startswith(b"<!DOCTYPE", i) or data.startswith(b"<!ENTITY", i):
                return i
            else:
                return -1  # not XML that libxml2 accepts; it reports it
        else:
            return -1  # the root element: the prolog is over
        if end < 0:
            return -1  # unterminated: libxml2 reports it
        i = data.find(b"<", end)
    return -1


def _position(data: bytes, at: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, at) + 1
    return line, at - (data.rfind(b"\n", 0, at) + 1) + 1


@functools.lru_cache(maxsize=8)
def _too_deep(max_depth: int) -> etree.XPath:
    """A compiled XPath that is true when some element lies deeper than ``max_depth`` levels."""
    return etree.XPath("boolean(" + "/*" * (max_depth + 1) + ")")


def _doctype_message() -> str:
    return ("the document has a DOCTYPE or entity declaration; these are refused "
            "(apps may not use DTDs or entities)")


def source_lines(data: bytes) -> list[str]:
    """The document's lines as text, decoded as its BOM or declaration says (UTF-8 otherwise)."""
    encoding = "utf-8"
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4]:
        encoding = "utf-16"
    else:
        m = re.match(rb"\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)", data.lstrip(b"\xef\xbb\xbf"))
        if m:
            encoding = m.group(1).decode("ascii")
    try:
        text = data.decode(encoding, "replace")
    except LookupError:
        text = data.decode("utf-8", "replace")
    return text.lstrip("\ufeff").split("\n")


def element_column(lines: list[str], line: int, tag: str, nth: int = 0) -> int | None:
    """1-based column of the ``nth`` (0-based) ``<tag`` on ``line``, or None if it is not there."""
    if line > len(lines):
        return None
    pattern = re.compile("<" + re.escape(tag) + r"(?=[\s/>]|$)", re.IGNORECASE)
    for i, m in enumerate(pattern.finditer(lines[line - 1])):
        if i == nth:
            return m.start() + 1
    return None

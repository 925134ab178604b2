"""Loading untrusted XML safely: no network, no DTD, no entities, a size cap and a depth cap.

Customer apps are fetched from the internet, so a document may be hostile:
XXE (external entities reading local files or URLs), "billion laughs" (nested
entity expansion), huge or absurdly deep documents. Any DOCTYPE is refused
outright: no legitimate KooKoo or KML app needs one.
"""

from __future__ import annotations

import _thread
import functools
import re
import sys

from lxml import etree

from kml.model import KmlError, ParseIssue

_parsers: dict[int, etree.XMLParser] = {}
_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")

if "gevent" in sys.modules:  # patched or not, gevent keeps the OS thread's own get_ident
    from gevent.monkey import get_original
    _os_thread = get_original("_thread", "get_ident")
else:  # nothing has patched it yet: this reference stays the OS thread's even if gevent patches later
    _os_thread = _thread.get_ident


def _parser() -> etree.XMLParser:
    """One hardened parser per OS thread.

    lxml parsers must not be shared across OS threads, hence the key: the OS thread's id, from the
    ``_thread.get_ident`` that gevent has not patched (the patched ``get_ident`` and ``threading.local``
    are per greenlet, which would build a parser, and its libxml2 context, for every call's greenlet;
    ``threading.get_native_id`` is not patched either but costs a system call, as much as a tenth of a
    whole KooKoo parse's own work). Greenlets of one thread may share a parser because a parse never
    yields: it reads bytes in memory, with no network and no resolvers.
    """
    key = _os_thread()
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
    # whose bytes this scan cannot read (UTF-16, UTF-7, ...). The usual prolog (an
    # XML declaration of UTF-8, then the root element) needs neither: see _UTF8_PROLOG.
    clean = _UTF8_PROLOG.match(data) is not None
    if not clean:
        at = _prolog_declaration(data)
        if at >= 0:
            raise _fail(_doctype_message(), *_position(data, at))
    try:
        root = etree.fromstring(data, _parsers.get(_os_thread()) or _parser())
    except etree.XMLSyntaxError as exc:
        if not data.strip(b" \t\r\n\xef\xbb\xbf"):
            raise _fail("the document is empty: an app must answer with XML such as <response>...</response>") \
                from None
        line, column = exc.position if exc.position else (exc.lineno, None)
        message = re.sub(r",? line \d+(, column \d+)?\s*$", "", str(exc.msg or exc))
        raise _fail(f"the document is not well-formed XML: {message}", line, column) from None
    except ValueError as exc:  # e.g. a str with an encoding declaration lxml cannot honour
        raise _fail(f"the document cannot be read: {exc}") from None
    if not clean:
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


#: The prolog up to a ``<!DOCTYPE``/``<!ENTITY`` (group 1): anything but markup, then XML/processing
#: instructions (each to its first ``?>``) and comments (to their first ``-->``). Possessive quantifiers:
#: each instruction or comment ends where the first terminator is, never at a later one, so the match
#: fails, in one linear pass, as soon as anything else (the root element) comes first.
_PROLOG_DECLARATION = re.compile(
    rb"(?:[^<]*+<(?:\?[^?]*+(?:\?(?!>)[^?]*+)*+\?>|!--[^-]*+(?:-(?!->)[^-]*+)*+-->))*+[^<]*+(<!(?:DOCTYPE|ENTITY))")


#: A prolog that provably holds no DOCTYPE, in bytes libxml2 reads as this pattern does: an optional XML
#: declaration at the first byte (no BOM) that names no encoding or UTF-8 (one ``encoding`` at most, so
#: no other can hide in it), then only whitespace, comments and processing instructions, then the root
#: element's ``<`` and a name. libxml2 reads such a document as UTF-8 (it starts with ``<?xm``, ``<``
#: and a name, ``<!--``, ``<?`` or whitespace: none of the UTF-16, UCS-4 or EBCDIC signatures, all of
#: which have a NUL byte or no ``<`` first), so ASCII bytes are the characters it parses, and after the
#: root element's start a DOCTYPE is not well-formed XML. (A declaration this pattern does not take is not
#: taken as a processing instruction either: none whose target starts with "xml" is.) Anything else, however harmless, takes the
#: full check: the DOCTYPE scan before parsing and the docinfo check after it.
_UTF8_PROLOG = re.compile(rb"""
    (?:<\?xml(?=[ \t\r\n])
        [^?e]*+(?:e(?!ncoding)[^?e]*+)*+
        (?:encoding[ \t\r\n]*+=[ \t\r\n]*+(?:"(?i:utf-8)"|'(?i:utf-8)')[^?e]*+(?:e(?!ncoding)[^?e]*+)*+)?
    \?>)?
    (?:[ \t\r\n]++|<!--[^-]*+(?:-(?!-)[^-]*+)*+-->|<\?(?!(?i:xml))[^?]*+(?:\?(?!>)[^?]*+)*+\?>)*+
    <[A-Za-z_]
""", re.VERBOSE)


def _prolog_declaration(data: bytes) -> int:
    """Offset of a ``<!DOCTYPE``/``<!ENTITY`` before the root element, or -1."""
    m = _PROLOG_DECLARATION.match(data)
    return m.start(1) if m else -1


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

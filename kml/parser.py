"""Parse entry point: hardened loading, dialect detection, then the dialect's builder.

Dialect detection (used when the caller does not say which dialect a document
is in):

1. the root element must be ``response`` in any case;
2. the first direct child that decides it, decides it: a KML-only verb in
   its exact spelling (``Say``, ``Speak``, ``Play``, ``Pause``, ``Wait``,
   ``Gather``, ``GetDigits``, ``Redirect``, ``Reject``, ``Sms``) makes it KML,
   a KooKoo-only tag in any case (``playtext``, ``say-as``, ``playaudio``,
   ``collectdtmf``, ``gotourl``, ``sendsms``, ``recognize``) makes it KooKoo
   (a document mixing both is an error in either dialect);
3. otherwise (only ``Record``/``Dial``/``Hangup``/``Conference``-like tags, or
   none): KML when the root is spelled exactly ``Response`` and every child
   starts with a capital letter, KooKoo otherwise.
"""

from __future__ import annotations

from typing import Any

from kml import kmlxml, kookoo
from kml.common import Ctx
from kml.model import DIALECTS, KML, KOOKOO, App, KmlError, ParseIssue
from kml.xmlload import check_depth_cap, load, to_bytes

#: The deepest nesting either grammar allows: response > collectdtmf > playtext, Response > Dial > Number.
LEGAL_DEPTH = 3
KML_ONLY = frozenset(("Say", "Speak", "Play", "Pause", "Wait", "Gather", "GetDigits", "Redirect", "Reject", "Sms"))
KOOKOO_ONLY = frozenset(("playtext", "say-as", "playaudio", "collectdtmf", "gotourl", "sendsms", "recognize"))


def detect_dialect(root: Any) -> str:
    """``"kml"`` or ``"kookoo"`` for a parsed root element (rules in the module docstring)."""
    all_capitalised = True
    for el in root:
        name = el.tag
        if name.__class__ is not str:
            continue
        if name[0] == "{":
            name = name.split("}", 1)[1]
        if name in KML_ONLY:
            return KML
        if name.lower() in KOOKOO_ONLY:
            return KOOKOO
        if all_capitalised and not name[:1].isupper():
            all_capitalised = False
    return KML if all_capitalised and kmlxml._name(root.tag) == "Response" else KOOKOO


def parse(data: bytes | str, dialect: str | None = None, *, lenient: bool = False,
          max_bytes: int = 1024 * 1024, max_depth: int = 16) -> App:
    """Parse a document into an App, or raise KmlError listing every problem with its line."""
    if dialect is not None and dialect not in DIALECTS:
        raise KmlError([ParseIssue(None, None, f"unknown dialect \"{dialect}\" (use kookoo or kml)")])
    raw = to_bytes(data)
    root = load(raw, max_bytes, max_depth, check_depth=False)
    if dialect is None:
        if kookoo.local_name(root.tag) != "response":
            raise KmlError([ParseIssue(root.sourceline, 1, f"the root element must be `response` (KooKoo) or "
                                       f"`Response` (KML), not `{root.tag}`")])
        dialect = detect_dialect(root)
    ctx = Ctx(raw, lenient)
    app = (kookoo if dialect == KOOKOO else kmlxml).build(root, ctx)
    # A document the builders accepted without a word nests at most LEGAL_DEPTH levels: they
    # visit every element and refuse children where the grammar has none. Anything else
    # (errors, skipped elements, a cap below that) gets the explicit depth check.
    if ctx.errors or ctx.warnings or max_depth < LEGAL_DEPTH:
        check_depth_cap(root, len(raw), max_depth)
    if ctx.errors:
        raise KmlError(ctx.errors)
    return app

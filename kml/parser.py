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

A document read as KML by these rules is TwiML or Plivo XML instead when it
uses something only that platform has (:func:`vendor_dialect`): KML is the
common subset of both, so a document KML accepts stays KML (its GET default
and its parameters), and the first name KML lacks decides which platform
wrote it. An app's configuration (``dialect`` twiml/plivo) skips detection.
"""

from __future__ import annotations

from typing import Any

from kml import kmlxml, kookoo, plivoxml, twiml
from kml.common import Ctx
from kml.model import DIALECTS, KML, KOOKOO, PLIVO, TWIML, App, KmlError, ParseIssue
from kml.xmlload import check_depth_cap, load, to_bytes

#: The deepest nesting either grammar allows: response > collectdtmf > playtext, Response > Dial > Number.
LEGAL_DEPTH = 3
KML_ONLY = frozenset(("Say", "Speak", "Play", "Pause", "Wait", "Gather", "GetDigits", "Redirect", "Reject", "Sms"))
KOOKOO_ONLY = frozenset(("playtext", "say-as", "playaudio", "collectdtmf", "gotourl", "sendsms", "recognize"))


#: Elements only Plivo XML has; elements only TwiML has (names KML lacks, case as written).
PLIVO_ONLY = frozenset(("GetInput", "PreAnswer", "DTMF", "User", "MultiPartyCall", "Stream"))
TWIML_ONLY = frozenset(("Enqueue", "Leave", "Queue", "Sip", "Client", "Connect", "Start", "Stop", "Pay", "Prompt",
                        "Refer", "Echo", "Identity", "Parameter", "Task"))
#: Element names Plivo spells its own way (KML accepts them as aliases).
PLIVO_NAMES = frozenset(("Speak", "GetDigits", "Wait"))
_KML_ATTRS = {**kmlxml.ATTRIBUTES, **{alias: kmlxml.ATTRIBUTES[verb] for alias, verb in kmlxml.ALIASES.items()}}
#: Attributes of shared names that only one platform defines.
TWIML_ATTRS = frozenset(("input", "speechTimeout", "hints", "partialResultCallback", "actionOnEmptyResult",
                         "speechModel", "enhanced", "profanityFilter", "trim", "recordingStatusCallback",
                         "transcribe", "transcribeCallback", "answerOnBridge", "ringTone", "digits", "waitUrl",
                         "statusCallback", "maxSpeechTime", "bargeIn", "muted", "endConferenceOnExit",
                         "startConferenceOnEnter", "beep"))
PLIVO_ATTRS = frozenset(("digitTimeout", "retries", "redirect", "validDigits", "invalidDigitsSound", "log",
                         "recordSession", "startOnDialAnswer", "transcriptionType", "transcriptionUrl",
                         "callbackUrl", "callerName", "confirmSound", "confirmKey", "dialMusic", "digitsMatch",
                         "sipHeaders", "silence", "minSilence", "schedule", "src", "dst", "stayAlone",
                         "enterSound", "exitSound", "waitSound", "maxMembers", "inputType", "executionTimeout"))


#: What an element's name says (:func:`vendor_dialect`): a platform, or one of these two markers.
_PLIVO_NAMED = "plivo-named"
_TOP_CONFERENCE = "top-conference"
_NAME_RULE = {**{name: TWIML for name in TWIML_ONLY}, **{name: PLIVO for name in PLIVO_ONLY},
              **{name: _PLIVO_NAMED for name in PLIVO_NAMES}, "Conference": _TOP_CONFERENCE}
_VENDOR_ATTRS = PLIVO_ATTRS | TWIML_ATTRS
#: Per KML element, the attribute names that can decide a platform there: the platform-only ones KML's
#: element lacks, and ``record`` where KML has it (TwiML's values decide). Any other element: all of them.
#: One set per name lets an element whose attributes decide nothing be passed with one C-level test.
_DECIDING = {name: (_VENDOR_ATTRS - frozenset(known)) | (frozenset(("record",)) & frozenset(known))
             for name, known in _KML_ATTRS.items()}
_TWIML_RECORD = ("record-", "do-not-record")


def _subtree_vendor(el: Any, name: str, plivo_named: bool, depth: int) -> tuple[str | None, bool]:
    """What element ``el`` named ``name`` and the elements inside it say, in document order: (``twiml``/
    ``plivo`` or None, whether a Plivo-spelled element has been met by then). ``depth`` 0 is the root,
    whose own name and attributes say nothing; 1 a child of the root, where a Conference is Plivo's."""
    if depth:
        rule = _NAME_RULE.get(name)
        if rule is not None:
            if rule is _PLIVO_NAMED:
                plivo_named = True
            elif rule is not _TOP_CONFERENCE:
                return rule, plivo_named
            elif depth == 1:
                return PLIVO, plivo_named  # a Conference outside Dial; inside it is everyone's
        keys = el.keys()
        if keys and not _DECIDING.get(name, _VENDOR_ATTRS).isdisjoint(keys):
            found = _attribute_vendor(el, name, keys, plivo_named)
            if found is not None:
                return found, plivo_named
    if len(el):
        for sub in el:
            name = sub.tag
            if name.__class__ is not str:
                continue
            if name[0] == "{":
                name = name.split("}", 1)[1]
            found, plivo_named = _subtree_vendor(sub, name, plivo_named, depth + 1)
            if found is not None:
                return found, plivo_named
    return None, plivo_named


def _attribute_vendor(el: Any, name: str, keys: list[str], plivo_named: bool) -> str | None:
    """The platform the first deciding attribute of ``el`` names, or None (a KML ``record`` value)."""
    deciding = _DECIDING.get(name, _VENDOR_ATTRS)
    for key in keys:
        if key in deciding:
            if key == "record":
                if not el.get(key).startswith(_TWIML_RECORD):
                    continue  # KML's record is true/false
            elif key in PLIVO_ATTRS:
                return PLIVO
            # a TwiML-only attribute on a Plivo-spelled element, or after one, counts as Plivo's
            return PLIVO if plivo_named else TWIML
    return None


def vendor_dialect(root: Any) -> str | None:
    """``twiml`` or ``plivo`` when a ``Response`` document uses a name only that platform has, else None.

    The first such name in document order decides, as in :func:`detect_dialect`: an element
    (``Enqueue``, ``Sip``... TwiML; ``GetInput``, ``PreAnswer``, ``User``... Plivo; a ``Conference``
    outside ``Dial`` is Plivo's) or an attribute KML lacks (a TwiML-only attribute on a Plivo-spelled
    element, ``Speak``/``GetDigits``/``Wait``, or after one, counts as Plivo's). A document that uses
    only KML's names is None: it stays KML.
    """
    return _subtree_vendor(root, "", False, 0)[0]


def dialect_of(root: Any, children: list | None = None) -> str:
    """The dialect of a document whose root is ``response`` (any case): the rules of the module docstring,
    :func:`detect_dialect` then, for KML, :func:`vendor_dialect`, decided in one pass over the root's
    children (``children``, if the caller has them as a list), each visited once for both questions,
    stopping as soon as both are answered."""
    kind = None
    all_capitalised = True
    vendor = None
    plivo_named = False
    for child in root if children is None else children:
        name = child.tag
        if name.__class__ is not str:
            continue
        if name[0] == "{":
            name = name.split("}", 1)[1]
        if kind is None:
            if name in KML_ONLY:
                kind = KML
                if vendor is not None:
                    return vendor
            elif name.lower() in KOOKOO_ONLY:
                return KOOKOO
            elif all_capitalised and not name[:1].isupper():
                all_capitalised = False
        if vendor is None:
            vendor, plivo_named = _subtree_vendor(child, name, plivo_named, 1)
            if vendor is not None and kind is not None:
                return vendor
    if kind is None and not (all_capitalised and kmlxml._name(root.tag) == "Response"):
        return KOOKOO
    return vendor or KML


def detect_dialect(root: Any) -> str:
    """``"kml"`` or ``"kookoo"`` for a parsed root element (rules in the module docstring)."""
    return KOOKOO if dialect_of(root) == KOOKOO else KML


_BUILD = {KOOKOO: kookoo.build, KML: kmlxml.build, TWIML: twiml.build, PLIVO: plivoxml.build}


def parse(data: bytes | str, dialect: str | None = None, *, lenient: bool = False,
          max_bytes: int = 1024 * 1024, max_depth: int = 16) -> App:
    """Parse a document into an App, or raise KmlError listing every problem with its line."""
    if dialect is not None and dialect not in DIALECTS:
        raise KmlError([ParseIssue(None, None, f"unknown dialect \"{dialect}\" (use {', '.join(DIALECTS)})")])
    raw = to_bytes(data)
    root = load(raw, max_bytes, max_depth, check_depth=False)
    if dialect is None:
        if kookoo.local_name(root.tag) != "response":
            raise KmlError([ParseIssue(root.sourceline, 1, f"the root element must be `response` (KooKoo) or "
                                       f"`Response` (KML), not `{root.tag}`")])
        # The children's proxies, made in one C call and kept alive through the build: detection reads
        # them as a list, and the builder's own slice of the root finds them made already.
        children = root[:]
        dialect = dialect_of(root, children)
    ctx = Ctx(raw, lenient)
    app = _BUILD[dialect](root, ctx)
    # A document the builders accepted without a word nests at most LEGAL_DEPTH levels: they
    # visit every element and refuse children where the grammar has none. Anything else
    # (errors, skipped elements, a cap below that) gets the explicit depth check.
    if ctx.errors or ctx.warnings or max_depth < LEGAL_DEPTH:
        check_depth_cap(root, len(raw), max_depth)
    if ctx.errors:
        raise KmlError(ctx.errors)
    return app

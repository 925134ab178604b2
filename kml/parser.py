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


def vendor_dialect(root: Any) -> str | None:
    """``twiml`` or ``plivo`` when a ``Response`` document uses a name only that platform has, else None.

    The first such name in document order decides, as in :func:`detect_dialect`: an element
    (``Enqueue``, ``Sip``... TwiML; ``GetInput``, ``PreAnswer``, ``User``... Plivo; a ``Conference``
    outside ``Dial`` is Plivo's) or an attribute KML lacks (a TwiML-only attribute on a Plivo-spelled
    element, ``Speak``/``GetDigits``/``Wait``, or after one, counts as Plivo's). A document that uses
    only KML's names is None: it stays KML.
    """
    plivo_named = False
    for el in root.iter():
        name = el.tag
        if name.__class__ is not str or el is root:
            continue
        if name[0] == "{":
            name = name.split("}", 1)[1]
        if name in PLIVO_ONLY:
            return PLIVO
        if name in TWIML_ONLY:
            return TWIML
        if name in PLIVO_NAMES:
            plivo_named = True
        elif name == "Conference" and el.getparent() is root:
            return PLIVO
        attrib = el.attrib
        if attrib:
            known = _KML_ATTRS.get(name, ())
            for key in attrib:
                if key in known:
                    if key == "record" and attrib[key].startswith(("record-", "do-not-record")):
                        return PLIVO if plivo_named else TWIML  # TwiML's values; KML's record is true/false
                    continue
                if key in PLIVO_ATTRS:
                    return PLIVO
                if key in TWIML_ATTRS:
                    return PLIVO if plivo_named else TWIML
    return None


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
        dialect = detect_dialect(root)
        if dialect == KML:
            dialect = vendor_dialect(root) or KML
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

"""What both dialect parsers share: the problem collector and attribute-value readers.

Readers never raise: a bad value is recorded as an error in words an IVR
developer understands, and the reader returns the default so that parsing can
go on and report every problem of the document at once.
"""

from __future__ import annotations

import re
from typing import Any

from kml.model import (
    CollectDigits, Conference, Dial, DialQueue, Enqueue, GoTo, Hangup, Instruction, ParseIssue, Recognize, Record,
    Reject, SendSms,
)
from kml.xmlload import element_column, source_lines

DTMF_KEYS = "0123456789*#"
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}
_SPACE = re.compile(r"\s")


class Ctx:
    """Errors and warnings found while building one App; ``lenient`` turns unknown names into warnings."""

    __slots__ = ("data", "lenient", "errors", "warnings", "seen", "_lines")

    def __init__(self, data: bytes, lenient: bool):
        self.data = data
        self.lenient = lenient
        self.errors: list[ParseIssue] = []
        self.warnings: list[ParseIssue] = []
        #: Attribute sets a builder has met in this document, with what they say (its own use: TwiML's
        #: Say keeps (items, settings) pairs here, so that nested prompts see the voices used before).
        self.seen: list = []
        self._lines: list[str] | None = None

    def column(self, line: int | None, tag: str, nth: int = 0) -> int | None:
        """1-based column of the ``nth`` ``<tag`` on ``line`` (lxml records lines but not columns)."""
        if not line or not tag:
            return None
        if self._lines is None:  # decoded once, and only when a problem is reported
            self._lines = source_lines(self.data)
        return element_column(self._lines, line, tag, nth)

    def _issue(self, el: Any, message: str) -> ParseIssue:
        line = getattr(el, "sourceline", None)
        tag = el.tag if isinstance(getattr(el, "tag", None), str) else ""
        if tag[:1] == "{":
            tag = tag.split("}", 1)[1]
        nth = 0
        if line and tag:
            # Elements of the same name earlier on the same line shift which `<tag` this is.
            for other in el.getroottree().getroot().iter(el.tag):
                if other is el or other.sourceline > line:
                    break
                if other.sourceline == line:
                    nth += 1
        return ParseIssue(line, self.column(line, tag, nth), message)

    def error(self, el: Any, message: str) -> None:
        """Record an error at element ``el``."""
        self.errors.append(self._issue(el, message))

    def warn(self, el: Any, message: str) -> None:
        """Record a warning at element ``el``."""
        self.warnings.append(self._issue(el, message))

    def warn_at(self, line: int | None, tag: str, message: str) -> None:
        """Record a warning about the element ``<tag`` that starts on ``line``."""
        self.warnings.append(ParseIssue(line, self.column(line, tag), message))

    def unknown(self, el: Any, message: str) -> None:
        """Something this dialect does not have: an error, or a warning when lenient."""
        if self.lenient:
            self.warn(el, message + "; skipped")
        else:
            self.error(el, message)


def text_of(el: Any) -> str:
    """The element's own text, stripped (None → "")."""
    text = el.text
    return text.strip() if text else ""


def as_int(ctx: Ctx, el: Any, tag: str, name: str, raw: str, default: int,
           minimum: int | None = None, what: str = "a whole number") -> int:
    """``raw`` as an int within range, else an error and ``default``."""
    try:
        value = int(raw.strip())
    except ValueError:
        ctx.error(el, f"`{tag}` attribute `{name}` must be {what}, not \"{raw}\"")
        return default
    if minimum is not None and value < minimum:
        ctx.error(el, f"`{tag}` attribute `{name}` must be at least {minimum}, not {value}")
        return default
    return value


def seconds_to_ms(ctx: Ctx, el: Any, tag: str, name: str, raw: str, default_ms: int,
                  minimum: float = 0) -> int:
    """A duration written in seconds (fractions allowed) as integer milliseconds."""
    try:
        value = float(raw.strip())
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError
    except ValueError:
        ctx.error(el, f"`{tag}` attribute `{name}` must be a number of seconds, not \"{raw}\"")
        return default_ms
    if value < minimum:
        ctx.error(el, f"`{tag}` attribute `{name}` must be at least {minimum:g} seconds, not {raw.strip()}")
        return default_ms
    return int(round(value * 1000))


def as_bool(ctx: Ctx, el: Any, tag: str, name: str, raw: str, default: bool) -> bool:
    """true/false, yes/no, 1/0 (any case)."""
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    ctx.error(el, f"`{tag}` attribute `{name}` must be true or false, not \"{raw}\"")
    return default


def as_key(ctx: Ctx, el: Any, tag: str, name: str, raw: str, default: str) -> str:
    """A single DTMF key (0-9, *, #), or "" for none."""
    value = raw.strip()
    if value == "" or (len(value) == 1 and value in DTMF_KEYS):
        return value
    ctx.error(el, f"`{tag}` attribute `{name}` must be one phone key (0-9, * or #), not \"{raw}\"")
    return default


def as_choice(ctx: Ctx, el: Any, tag: str, name: str, raw: str, choices: tuple[str, ...], default: str) -> str:
    """One of ``choices`` (case-insensitive; returned in the listed spelling)."""
    low = raw.strip().lower()
    for choice in choices:
        if choice.lower() == low:
            return choice
    ctx.error(el, f"`{tag}` attribute `{name}` must be one of {', '.join(choices)}, not \"{raw}\"")
    return default


def as_url(ctx: Ctx, el: Any, tag: str, raw: str, what: str = "a URL") -> str:
    """A non-empty URL without spaces (absolute http(s) URLs and relative paths both pass)."""
    value = raw.strip()
    if not value:
        ctx.error(el, f"`{tag}` needs {what}")
    elif value.isprintable() and " " not in value:
        pass  # every whitespace character but " " is non-printable: no regex search needed
    elif _SPACE.search(value):
        ctx.error(el, f"`{tag}` URL may not contain spaces: \"{value}\"")
    return value


def as_number(ctx: Ctx, el: Any, tag: str, raw: str) -> str:
    """A phone number to dial: digits with an optional leading +, and * or # (extensions)."""
    value = raw.strip()
    if not value:
        ctx.error(el, f"`{tag}` needs a phone number to dial")
        return value
    body = value[1:] if value.startswith("+") else value
    if not body or body.strip(DTMF_KEYS):  # strip leaves something only when a character is not a key
        ctx.error(el, f"`{tag}` number \"{value}\" may contain only digits, * and # (and a leading +)")
    return value


def no_children(ctx: Ctx, el: Any, tag: str) -> None:
    """Report element children of a tag that takes none."""
    if not len(el):
        return
    for child in el:
        if isinstance(child.tag, str):
            ctx.error(child, f"`{tag}` may not contain `{child.tag}`")


def send_sms(ctx: Ctx, el: Any, tag: str, name: str, attrs: dict[str, str]) -> SendSms:
    """An SMS instruction from an element of either dialect (KooKoo ``sendsms``, KML ``Sms``).

    ``tag`` is the tag as the developer wrote it, ``name`` the one the messages use, ``attrs`` its
    already-checked attributes: the body is the message, ``to`` the number.
    """
    no_children(ctx, el, tag)
    text = text_of(el)
    if not text:
        ctx.error(el, f"`{name}` has no message text")
    to = attrs.get("to", "").strip()
    if not to:
        ctx.error(el, f"`{name}` needs a `to` number")
    else:
        as_number(ctx, el, tag, to)
    return SendSms(text, to, line=el.sourceline)


def local_name(tag: Any) -> str | None:
    """An element's name without a namespace; None for comments and processing instructions."""
    if not isinstance(tag, str):
        return None
    return tag.split("}", 1)[1] if tag[:1] == "{" else tag


def checked_attrs(ctx: Ctx, el: Any, shown: str, accepted: tuple[str, ...], refused: dict[str, str],
                  platform: str) -> dict[str, str]:
    """The attributes of a TwiML/Plivo element that this platform honours.

    ``accepted`` are read by the caller; an attribute in ``refused`` is one the
    platform defines but Vaani cannot honour: an error naming the reason (never
    silently dropped); any other name is unknown to ``platform`` (an error, or a
    warning when lenient, with a did-you-mean hint for a case slip).
    """
    items = el.items()
    if not items:
        return {}
    out = {}
    for key, value in items:
        if key in accepted:
            out[key] = value
        elif key in refused:
            ctx.error(el, f"`{shown}` attribute `{key}` is not supported: {refused[key]}")
        else:
            known = accepted + tuple(refused)
            near = next((a for a in known if a.lower() == key.lower()), None)
            hint = f"; did you mean `{near}`?" if near else f" (it takes {', '.join(known) or 'no attributes'})"
            ctx.unknown(el, f"{platform} `{shown}` has no attribute `{key}`{hint}")
    return out


def seconds_attr(ctx: Ctx, el: Any, shown: str, a: dict[str, str], name: str, default_s: float,
                 minimum: float = 0) -> int:
    """Attribute ``name`` in seconds as milliseconds, ``default_s`` when absent."""
    if name not in a:
        return int(round(default_s * 1000))
    return seconds_to_ms(ctx, el, shown, name, a[name], int(round(default_s * 1000)), minimum)


def bool_attr(ctx: Ctx, el: Any, shown: str, a: dict[str, str], name: str, default: bool) -> bool:
    """Attribute ``name`` as a boolean, ``default`` when absent."""
    return as_bool(ctx, el, shown, name, a[name], default) if name in a else default


def keys_attr(ctx: Ctx, el: Any, shown: str, a: dict[str, str], name: str, default: str) -> str:
    """Attribute ``name`` as a set of phone keys (any of them counts), ``default`` when absent."""
    if name not in a:
        return default
    value = a[name].strip()
    if any(ch not in DTMF_KEYS for ch in value):
        ctx.error(el, f"`{shown}` attribute `{name}` may hold only phone keys (0-9, * and #), not \"{a[name]}\"")
        return default
    return value


def method_attr(ctx: Ctx, el: Any, shown: str, a: dict[str, str], name: str = "method",
                default: str = "POST") -> str:
    """An HTTP method attribute (GET or POST), ``default`` when absent."""
    return as_choice(ctx, el, shown, name, a[name], ("GET", "POST"), default) if name in a else default


def url_attr(ctx: Ctx, el: Any, shown: str, a: dict[str, str], name: str) -> str | None:
    """A URL attribute, None when absent or empty."""
    if name not in a or not a[name].strip():
        return None
    return as_url(ctx, el, shown, a[name], f"a `{name}` URL") or None


def vendor_voice(voice: str | None) -> str | None:
    """A TwiML/Plivo voice name as the TTS voice map knows it.

    ``Polly.Joanna`` / ``Polly.Joanna-Neural`` / ``Google.en-US-Standard-C`` → the
    name after the vendor; ``man``/``MAN`` → ``male``; ``woman``/``alice``/``WOMAN``
    → ``female``; anything else as written (the voice map falls back to its default).
    """
    if not voice:
        return None
    v = voice.strip()
    low = v.lower()
    if low in ("man", "male"):
        return "male"
    if low in ("woman", "alice", "female"):
        return "female"
    if "." in v:
        v = v.split(".", 1)[1]
        if v.endswith("-Neural"):
            v = v[: -len("-Neural")]
    return v or None


#: Instructions after which the call always leaves the document; those that leave it when they have an action.
STOPS = frozenset((Hangup, Reject, GoTo))
ACTIONS = frozenset((CollectDigits, Recognize, Record, Dial, DialQueue, Enqueue, Conference))


class Order:
    """Warns about verbs that never run: those after one that always leaves the document (TwiML/Plivo rule:
    Hangup, Reject, Redirect, or a verb with an ``action`` — a Gather without input falls through)."""

    __slots__ = ("ctx", "stop", "stop_name")

    def __init__(self, ctx: Ctx):
        self.ctx = ctx
        self.stop: Instruction | None = None
        self.stop_name = ""

    def note(self, instr: Instruction, name: str) -> None:
        """Record ``instr`` (written as ``name``), warning when it comes after the document was left."""
        if self.stop is not None:
            self.ctx.warn_at(instr.line, name, f"`{name}` after `{self.stop_name}` (line {self.stop.line}) never "
                             "runs: the call leaves this document there")
        elif instr.__class__ in STOPS or (instr.__class__ in ACTIONS and instr.action
                                          and getattr(instr, "action_on_empty", True)):
            self.stop, self.stop_name = instr, name

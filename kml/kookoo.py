"""KooKoo XML → :class:`kml.model.App`.

Tag and attribute names are case-insensitive (apps in the wild write
``<Response>``, ``<playText>``, ``<Say-As>``). Defaults are those of Ozonetel's
KooKoo client libraries; ``docs/kookoo.md`` lists each one with its source.
"""

from __future__ import annotations

from typing import Any

from kml import common as c
from kml.model import (
    INSTRUCTION_TYPES, KOOKOO, App, CollectDigits, Conference, Dial, GoTo, Hangup, Instruction, Play, Recognize,
    Record, SendSms, Speak,
)

# Defaults (docs/kookoo.md says where each comes from).
PLAYTEXT_LANG = "EN"
PLAYTEXT_SPEED = 2
PLAYTEXT_QUALITY = "best"
SAYAS_FORMAT = "501"
COLLECT_MAX_DIGITS = 128  # no l: collect until the terminator or the timeout
COLLECT_TERMINATOR = "#"
COLLECT_TIMEOUT_MS = 4000
RECORD_FORMAT = "wav"
RECORD_SILENCE_S = 4
RECORD_MAX_DURATION_S = 60
RECORD_TERMCHAR = "#"
DIAL_LIMIT_S = 1000
DIAL_TIMEOUT_MS = 30000
DIAL_MOH = "default"
CONFERENCE_RECORD = True
CONFERENCE_TIMEOUT_MS = -1
RECOGNIZE_TYPE = "ggl-stream"
RECOGNIZE_TIMEOUT_S = 10
RECOGNIZE_SILENCE_S = 3
RECOGNIZE_LENGTH = 1
RECOGNIZE_LANG = "en-IN"

#: Attributes each tag takes (lower case). ``option`` (record), ``version`` and
#: ``caller_onhold_music`` (conference), ``unicode`` (sendsms) are accepted
#: because KooKoo's libraries write them; they change nothing here.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "response": ("sid", "filler"),
    "playtext": ("lang", "speed", "quality", "type"),
    "say-as": ("format", "lang"),
    "playaudio": (),
    "collectdtmf": ("l", "t", "o"),
    "record": ("format", "silence", "maxduration", "termchar", "option"),
    "dial": ("record", "limittime", "timeout", "moh", "prompttocallednumber", "caller_id"),
    "conference": ("caller_id", "record", "timeout", "version", "caller_onhold_music"),
    "hangup": (),
    "gotourl": (),
    "sendsms": ("to", "unicode"),
    "recognize": ("type", "timeout", "silence", "lang", "length", "grammar", "success_file"),
}
_ALLOWED = {tag: frozenset(names) for tag, names in ATTRIBUTES.items()}
_SPEEDS = {str(i): i for i in range(1, 10)}
_PLAYTEXT_ATTRS = _ALLOWED["playtext"]
_PLAYTEXT_DEFAULTS = (PLAYTEXT_LANG, PLAYTEXT_SPEED, PLAYTEXT_QUALITY, None)
_PLAYTEXT_SETTINGS: dict[tuple, tuple] = {}
#: (tag, attribute items) → validated values, for other tags that apps repeat (say-as,
#: collectdtmf). Only clean sets are kept, so a bad one is reported every time.
_SETTINGS: dict[tuple, tuple] = {}
PROMPT_TAGS = frozenset(("playtext", "playaudio", "say-as"))
# Calling a class with a keyword argument (``line=``) makes CPython 3.11 pack the arguments
# into a tuple and a dict; creating the instance and calling the dataclass __init__ directly
# takes the fast call path. Used where one object per element is built.
_new = object.__new__
_speak_init = Speak.__init__
_play_init = Play.__init__
_collect_init = CollectDigits.__init__
_goto_init = GoTo.__init__
TOP_TAGS = tuple(t for t in ATTRIBUTES if t != "response")


def local_name(tag: Any) -> str | None:
    """Lower-case tag name without namespace; None for comments and other non-elements."""
    if tag.__class__ is not str:
        return None
    if tag[0] == "{":
        tag = tag.split("}", 1)[1]
    return tag.lower()


def _attrs(ctx: c.Ctx, el: Any, tag: str, items: list | None = None) -> dict[str, str]:
    """The element's attributes by lower-case name; unknown ones reported."""
    if items is None:
        items = el.items()
        if not items:
            return {}
    allowed = _ALLOWED[tag]
    out = dict(items)
    if not allowed.issuperset(out):
        out = {k.lower(): v for k, v in items}
    if not allowed.issuperset(out):
        for key, _ in items:
            if key.lower() not in allowed:
                out.pop(key.lower(), None)  # two names differing only in case share one key
                names = ATTRIBUTES[tag]
                takes = ", ".join(names) if names else "no attributes"
                ctx.unknown(el, f"`{tag}` has no attribute `{key}` (it takes {takes})")
    return out


def build(root: Any, ctx: c.Ctx) -> App:
    """Build the App of a KooKoo document whose root element is ``root``."""
    rtag = local_name(root.tag)
    if rtag != "response":
        ctx.error(root, f"the root element must be `response`, not `{root.tag}`")
        return App(KOOKOO)
    a = _attrs(ctx, root, "response")
    sid = a.get("sid")
    filler = c.as_bool(ctx, root, "response", "filler", a["filler"], False) if "filler" in a else False
    if c.text_of(root):
        ctx.error(root, "`response` may not contain loose text; put words to speak in `playtext`")
    instructions = _children(ctx, root, None)
    _check_order(ctx, root, instructions)
    return App(KOOKOO, tuple(instructions), sid, filler, tuple(ctx.warnings))


def _tag_of(instr: Instruction) -> str:
    if isinstance(instr, Speak) and instr.say_as is not None:
        return "say-as"
    return _TAG[type(instr)]


def _check_order(ctx: c.Ctx, root: Any, instructions: list[Instruction]) -> None:
    """Warn about tags that never run: after an event tag (except gotourl) or after hangup."""
    stop: Instruction | None = None
    gotos = 0
    for instr in instructions:
        cls = instr.__class__
        if cls is GoTo:
            gotos += 1
            if gotos == 2:
                ctx.warn_at(instr.line, "gotourl", "only the first `gotourl` is used; this one is ignored")
            continue
        if stop is not None:
            why = ("the call ends there" if isinstance(stop, Hangup)
                   else f"the call moves on to your URL when `{_tag_of(stop)}` ends")
            tag = _tag_of(instr)
            ctx.warn_at(instr.line, tag, f"`{tag}` after `{_tag_of(stop)}` (line {stop.line}) never runs: {why}")
        elif cls in _STOPPERS:
            stop = instr


def _prompts(ctx: c.Ctx, el: Any, tag: str) -> tuple:
    """Nested prompts of collectdtmf/recognize: only playtext, playaudio and say-as."""
    if c.text_of(el):
        ctx.error(el, f"`{tag}` may not contain loose text; put the prompt in `playtext`")
    return tuple(_children(ctx, el, tag))


def _children(ctx: c.Ctx, parent: Any, within: str | None) -> list[Instruction]:
    """Instructions from the children of ``parent``: the response's (``within`` None) or the prompts of
    ``within`` (collectdtmf, recognize: playtext, playaudio and say-as only).

    playtext, most of a typical app, is built right here (no call per element), its attribute
    sets memoised: an app repeats the same few (lang="EN" speed="2" ...); a run of prompts with
    the same attributes as the previous one is recognised by comparing the short lists, which
    is cheaper than hashing them for the memo.
    """
    out: list[Instruction] = []
    append = out.append
    last_items = last_settings = None
    for el in parent[:]:  # a slice makes the children's proxies in one C call: cheaper than iterating
        tag = el.tag
        if tag != "playtext":
            if tag.__class__ is not str:
                continue
            tag = tag.lower() if tag[0] != "{" else local_name(tag)
            if tag != "playtext":
                builder = _BUILDERS.get(tag) if within is None else None
                if builder is not None:
                    append(builder(ctx, el, tag))
                else:
                    _other(ctx, el, tag, within, append)
                continue
        items = el.items()
        if not items:
            lang, speed, quality, tts_type = _PLAYTEXT_DEFAULTS
        elif items == last_items:
            lang, speed, quality, tts_type = last_settings
        else:
            settings = _PLAYTEXT_SETTINGS.get(tuple(items))
            if settings is None:
                settings = _playtext_settings(ctx, el, tag, items)
            else:
                last_items, last_settings = items, settings
            lang, speed, quality, tts_type = settings
        if len(el):
            c.no_children(ctx, el, tag)
        text = el.text
        if text:
            text = text.strip()
        if not text:
            ctx.error(el, "`playtext` has no text to speak")
            text = ""
        speak = _new(Speak)
        _speak_init(speak, text, lang, None, speed, quality, tts_type, line=el.sourceline)
        append(speak)
    return out


def _other(ctx: c.Ctx, el: Any, tag: str, within: str | None, append: Any) -> None:
    """A child other than playtext and not a response's known tag: a nested prompt (appended), or reported."""
    if within is None:
        ctx.unknown(el, f"`{el.tag}` is not a KooKoo tag (KooKoo has {', '.join(TOP_TAGS)})")
    elif tag in PROMPT_TAGS:
        append(_BUILDERS[tag](ctx, el, tag))
    elif tag in ATTRIBUTES:
        if ctx.lenient:
            ctx.warn(el, f"`{within}` may not contain `{el.tag}`; skipped")
        else:
            ctx.error(el, f"`{within}` may not contain `{el.tag}` (only playtext, playaudio and say-as)")
    else:
        ctx.unknown(el, f"`{el.tag}` is not a KooKoo tag")


def _playtext_settings(ctx: c.Ctx, el: Any, tag: str, items: list) -> tuple:
    """(lang, speed, quality, tts_type) from playtext attributes; memoised when valid."""
    errors = len(ctx.errors) + len(ctx.warnings)
    a = dict(items)
    if not _PLAYTEXT_ATTRS.issuperset(a):
        a = _attrs(ctx, el, tag, items)
    lang = a.get("lang")
    lang = lang.strip() or PLAYTEXT_LANG if lang is not None else PLAYTEXT_LANG
    speed = PLAYTEXT_SPEED
    raw = a.get("speed")
    if raw is not None:
        speed = _SPEEDS.get(raw.strip())
        if speed is None:
            ctx.error(el, f"`playtext` attribute `speed` must be a number from 1 to 9, not \"{raw}\"")
            speed = PLAYTEXT_SPEED
    settings = (lang, speed, a.get("quality", PLAYTEXT_QUALITY), a.get("type"))
    if len(ctx.errors) + len(ctx.warnings) == errors:  # only clean sets: a bad one must be reported every time
        if len(_PLAYTEXT_SETTINGS) >= 1024:
            _PLAYTEXT_SETTINGS.clear()
        _PLAYTEXT_SETTINGS[tuple(items)] = settings
    return settings


def _sayas(ctx: c.Ctx, el: Any, tag: str) -> Speak:
    items = el.items()
    key = (tag, tuple(items))
    settings = _SETTINGS.get(key)
    if settings is None:
        return _sayas_checked(ctx, el, tag, items, key)
    fmt, lang = settings
    if len(el):
        c.no_children(ctx, el, tag)
    text = c.text_of(el)
    if not text:
        ctx.error(el, "`say-as` has no value to say")
    speak = _new(Speak)
    _speak_init(speak, text, lang, None, None, None, None, fmt, line=el.sourceline)
    return speak


def _sayas_checked(ctx: c.Ctx, el: Any, tag: str, items: list, key: tuple) -> Speak:
    """say-as with its attributes validated (in the order errors are reported); memoised when clean."""
    before = len(ctx.errors) + len(ctx.warnings)
    a = _attrs(ctx, el, tag, items) if items else {}
    c.no_children(ctx, el, tag)
    text = c.text_of(el)
    if not text:
        ctx.error(el, "`say-as` has no value to say")
    fmt = a.get("format", SAYAS_FORMAT).strip()
    if not fmt.isdigit():
        ctx.error(el, f"`say-as` attribute `format` must be a format code such as 501 (digits), not \"{fmt}\"")
        fmt = SAYAS_FORMAT
    lang = a.get("lang", PLAYTEXT_LANG).strip() or PLAYTEXT_LANG
    _remember(ctx, before, key, (fmt, lang))
    speak = _new(Speak)
    _speak_init(speak, text, lang, None, None, None, None, fmt, line=el.sourceline)
    return speak


def _remember(ctx: c.Ctx, before: int, key: tuple, settings: tuple) -> None:
    """Memoise ``settings`` for ``key`` if no problem was reported since ``before``.

    A set that had a problem is not kept, so that it is reported every time it appears.
    """
    if len(ctx.errors) + len(ctx.warnings) == before:
        if len(_SETTINGS) >= 1024:
            _SETTINGS.clear()
        _SETTINGS[key] = settings


def _playaudio(ctx: c.Ctx, el: Any, tag: str) -> Play | None:
    if el.items():
        _attrs(ctx, el, tag)
    if len(el):
        c.no_children(ctx, el, tag)
    play = _new(Play)
    _play_init(play, _url(ctx, el, tag, "the URL of an audio file"), line=el.sourceline)
    return play


def _url(ctx: c.Ctx, el: Any, tag: str, what: str) -> str:
    """The element's text as a URL; the usual clean case checked here, anything else by ``as_url``."""
    url = el.text
    if url:
        url = url.strip()
        # Every whitespace character but " " is non-printable (see as_url).
        if url and " " not in url and url.isprintable():
            return url
    return c.as_url(ctx, el, tag, el.text or "", what)


def _collectdtmf(ctx: c.Ctx, el: Any, tag: str) -> CollectDigits:
    items = el.items()
    key = (tag, tuple(items))
    settings = _SETTINGS.get(key)
    if settings is None:
        before = len(ctx.errors) + len(ctx.warnings)
        a = _attrs(ctx, el, tag, items) if items else {}
        settings = (
            c.as_int(ctx, el, tag, "l", a["l"], COLLECT_MAX_DIGITS, 1, "the number of digits") if "l" in a
            else COLLECT_MAX_DIGITS,
            c.as_key(ctx, el, tag, "t", a["t"], COLLECT_TERMINATOR) if "t" in a else COLLECT_TERMINATOR,
            c.as_int(ctx, el, tag, "o", a["o"], COLLECT_TIMEOUT_MS, 1, "a timeout in milliseconds") if "o" in a
            else COLLECT_TIMEOUT_MS,
        )
        _remember(ctx, before, key, settings)
    max_digits, term, timeout = settings
    collect = _new(CollectDigits)
    _collect_init(collect, _prompts(ctx, el, tag), max_digits, term, timeout, None, "GET", True, line=el.sourceline)
    return collect


def _record(ctx: c.Ctx, el: Any, tag: str) -> Record:
    a = _attrs(ctx, el, tag)
    c.no_children(ctx, el, tag)
    name = c.text_of(el) or None
    fmt = c.as_choice(ctx, el, tag, "format", a["format"], ("wav", "mp3"), RECORD_FORMAT) if "format" in a \
        else RECORD_FORMAT
    silence = c.as_int(ctx, el, tag, "silence", a["silence"], RECORD_SILENCE_S, 0, "a number of seconds") \
        if "silence" in a else RECORD_SILENCE_S
    maxd = c.as_int(ctx, el, tag, "maxduration", a["maxduration"], RECORD_MAX_DURATION_S, 1, "a number of seconds") \
        if "maxduration" in a else RECORD_MAX_DURATION_S
    raw_term = a.get("termchar", a.get("option"))
    term = c.as_key(ctx, el, tag, "termchar", raw_term, RECORD_TERMCHAR) if raw_term is not None else RECORD_TERMCHAR
    return Record(name, fmt, silence * 1000, maxd * 1000, term, False, None, "GET", line=el.sourceline)


def _dial(ctx: c.Ctx, el: Any, tag: str) -> Dial:
    a = _attrs(ctx, el, tag)
    c.no_children(ctx, el, tag)
    number = c.as_number(ctx, el, tag, el.text or "")
    record = c.as_bool(ctx, el, tag, "record", a["record"], False) if "record" in a else False
    limit = c.as_int(ctx, el, tag, "limittime", a["limittime"], DIAL_LIMIT_S, 1, "a number of seconds") \
        if "limittime" in a else DIAL_LIMIT_S
    timeout = c.as_int(ctx, el, tag, "timeout", a["timeout"], DIAL_TIMEOUT_MS, 1, "a timeout in milliseconds") \
        if "timeout" in a else DIAL_TIMEOUT_MS
    moh = a.get("moh", DIAL_MOH).strip().lower() or DIAL_MOH
    prompt = a.get("prompttocallednumber", "no").strip()
    caller_id = a.get("caller_id", "").strip() or None
    return Dial((number,), caller_id, record, limit * 1000, timeout, moh,
                None if prompt.lower() in ("", "no") else prompt, None, "GET", line=el.sourceline)


def _conference(ctx: c.Ctx, el: Any, tag: str) -> Conference:
    a = _attrs(ctx, el, tag)
    c.no_children(ctx, el, tag)
    room = c.text_of(el)
    if not room:
        ctx.error(el, "`conference` needs a room number")
    record = c.as_bool(ctx, el, tag, "record", a["record"], CONFERENCE_RECORD) if "record" in a else CONFERENCE_RECORD
    timeout = c.as_int(ctx, el, tag, "timeout", a["timeout"], CONFERENCE_TIMEOUT_MS, -1, "a timeout in milliseconds") \
        if "timeout" in a else CONFERENCE_TIMEOUT_MS
    return Conference(room, a.get("caller_id", "").strip() or None, record, timeout, line=el.sourceline)


def _hangup(ctx: c.Ctx, el: Any, tag: str) -> Hangup:
    _attrs(ctx, el, tag)
    c.no_children(ctx, el, tag)
    if c.text_of(el):
        ctx.error(el, "`hangup` takes no text")
    return Hangup(line=el.sourceline)


def _gotourl(ctx: c.Ctx, el: Any, tag: str) -> GoTo:
    if el.items():
        _attrs(ctx, el, tag)
    if len(el):
        c.no_children(ctx, el, tag)
    goto = _new(GoTo)
    _goto_init(goto, _url(ctx, el, tag, "the URL of your next app"), line=el.sourceline)
    return goto


def _sendsms(ctx: c.Ctx, el: Any, tag: str) -> SendSms:
    return c.send_sms(ctx, el, tag, "sendsms", _attrs(ctx, el, tag))


def _recognize(ctx: c.Ctx, el: Any, tag: str) -> Recognize:
    a = _attrs(ctx, el, tag)
    timeout = c.as_int(ctx, el, tag, "timeout", a["timeout"], RECOGNIZE_TIMEOUT_S, 1, "a number of seconds") \
        if "timeout" in a else RECOGNIZE_TIMEOUT_S
    silence = c.as_int(ctx, el, tag, "silence", a["silence"], RECOGNIZE_SILENCE_S, 0, "a number of seconds") \
        if "silence" in a else RECOGNIZE_SILENCE_S
    length = c.as_int(ctx, el, tag, "length", a["length"], RECOGNIZE_LENGTH, 1) if "length" in a else RECOGNIZE_LENGTH
    return Recognize(a.get("type", RECOGNIZE_TYPE).strip() or RECOGNIZE_TYPE, timeout * 1000, silence * 1000,
                     a.get("lang", RECOGNIZE_LANG).strip() or RECOGNIZE_LANG, length,
                     a.get("grammar", "").strip() or None, a.get("success_file", "").strip() or None,
                     _prompts(ctx, el, tag), line=el.sourceline)


#: Builders of every tag but playtext (built inline by :func:`_children`).
_BUILDERS = {
    "say-as": _sayas, "playaudio": _playaudio, "collectdtmf": _collectdtmf,
    "record": _record, "dial": _dial, "conference": _conference, "hangup": _hangup, "gotourl": _gotourl,
    "sendsms": _sendsms, "recognize": _recognize,
}
#: Instructions after which nothing in the document runs: those producing an event, and hangup.
_STOPPERS = frozenset([cls for cls in INSTRUCTION_TYPES if cls.event is not None] + [Hangup])
_TAG = {Speak: "playtext", Play: "playaudio", CollectDigits: "collectdtmf", Record: "record", Dial: "dial",
        Conference: "conference", Hangup: "hangup", GoTo: "gotourl", SendSms: "sendsms", Recognize: "recognize"}

"""KML (the markup behind Konnect's ``doc_url``) → :class:`kml.model.App`.

KML is TwiML-shaped so that Twilio- and Plivo-style apps mostly run
unchanged; ``docs/kml.md`` is its definition (verbs, attributes, defaults,
nesting). Verb and attribute names are case-sensitive, as in TwiML.
"""

from __future__ import annotations

from typing import Any

from kml import common as c
from kml.model import (
    KML, App, CollectDigits, Conference, Dial, GoTo, Hangup, Instruction, Pause, Play, Record, Reject,
    SendSms, Speak,
)

SAY_LANGUAGE = "en-US"
SAY_RATE = SAY_PITCH = SAY_VOLUME = "medium"
SAY_ENGINE = "standard"
RATES = ("x-slow", "slow", "medium", "fast", "x-fast")
PITCHES = ("x-low", "low", "medium", "high", "x-high")
VOLUMES = ("silent", "x-soft", "soft", "medium", "loud", "x-loud")
ENGINES = ("standard", "neural")
PAUSE_S = 1
GATHER_MAX_DIGITS = 128
GATHER_TIMEOUT_S = 5
GATHER_FINISH = "#"
METHOD = "GET"
RECORD_MAX_LENGTH_S = 60
RECORD_TIMEOUT_S = 5
RECORD_FINISH = "#"
RECORD_FORMAT = "wav"
DIAL_TIMEOUT_S = 30
DIAL_TIME_LIMIT_S = 14400
REJECT_REASONS = ("rejected", "busy")

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "Response": (),
    "Say": ("voice", "language", "loop", "rate", "pitch", "volume", "engine"),
    "Play": ("loop",),
    "Pause": ("length",),
    "Gather": ("numDigits", "timeout", "finishOnKey", "action", "method", "actionOnEmptyResult"),
    "Record": ("maxLength", "timeout", "finishOnKey", "playBeep", "action", "method", "fileFormat"),
    "Dial": ("callerId", "timeout", "timeLimit", "record", "action", "method"),
    "Number": (),
    "Conference": (),
    "Hangup": ("reason",),
    "Redirect": ("method",),
    "Reject": ("reason", "ring"),
    "Sms": ("to",),
}
#: Other spellings accepted for a verb (Plivo's names), mapped to the canonical one.
ALIASES = {"Speak": "Say", "GetDigits": "Gather", "Wait": "Pause"}
TOP_VERBS = ("Say", "Speak", "Play", "Pause", "Wait", "Gather", "GetDigits", "Record", "Dial", "Hangup",
             "Redirect", "Reject", "Sms")
PROMPT_VERBS = ("Say", "Play", "Pause")


def _name(tag: Any) -> str | None:
    if not isinstance(tag, str):
        return None
    if tag[:1] == "{":
        tag = tag.split("}", 1)[1]
    return tag


def _attrs(ctx: c.Ctx, el: Any, verb: str, shown: str) -> dict[str, str]:
    items = el.items()
    if not items:
        return {}
    allowed = ATTRIBUTES[verb]
    out = {}
    for key, value in items:
        if key in allowed:
            out[key] = value
        else:
            near = next((a for a in allowed if a.lower() == key.lower()), None)
            hint = f"; did you mean `{near}`?" if near else f" (it takes {', '.join(allowed) or 'no attributes'})"
            ctx.unknown(el, f"`{shown}` has no attribute `{key}`{hint}")
    return out


def _method(ctx: c.Ctx, el: Any, shown: str, a: dict[str, str]) -> str:
    return c.as_choice(ctx, el, shown, "method", a["method"], ("GET", "POST"), METHOD) if "method" in a else METHOD


def _action(ctx: c.Ctx, el: Any, shown: str, a: dict[str, str]) -> str | None:
    if "action" not in a:
        return None
    return c.as_url(ctx, el, shown, a["action"], "an `action` URL") or None


def _loop(ctx: c.Ctx, el: Any, shown: str, a: dict[str, str]) -> int:
    return c.as_int(ctx, el, shown, "loop", a["loop"], 1, 0) if "loop" in a else 1


def build(root: Any, ctx: c.Ctx) -> App:
    """Build the App of a KML document whose root element is ``root``."""
    if (_name(root.tag) or "").lower() != "response":  # the root's case is forgiven, verbs' is not
        ctx.error(root, f"the root element must be `Response`, not `{root.tag}`")
        return App(KML)
    _attrs(ctx, root, "Response", "Response")
    if c.text_of(root):
        ctx.error(root, "`Response` may not contain loose text; put words to speak in `Say`")
    instructions: list[Instruction] = []
    stop: Instruction | None = None
    stop_name = ""
    for el in root:
        name = _name(el.tag)
        if name is None:
            continue
        verb = ALIASES.get(name, name)
        builder = _BUILDERS.get(verb)
        if builder is None or name in ("Number", "Conference"):
            if name in ("Number", "Conference"):
                ctx.error(el, f"`{name}` must be inside `Dial`")
            else:
                near = next((v for v in TOP_VERBS if v.lower() == name.lower()), None)
                hint = f"; verbs are case-sensitive: did you mean `{near}`?" if near else \
                    f" (KML has {', '.join(TOP_VERBS)})"
                ctx.unknown(el, f"`{name}` is not a KML verb{hint}")
            continue
        instr = builder(ctx, el, verb, name)
        if instr is None:
            continue
        if stop is not None:
            ctx.warn_at(instr.line, name, f"`{name}` after `{stop_name}` (line {stop.line}) never runs: "
                        "the call leaves this document there")
        elif isinstance(instr, (Hangup, Reject, GoTo)) or (
                getattr(instr, "action", None) and getattr(instr, "action_on_empty", True)):
            # A Gather that gets no digits falls through to the next verb (TwiML), so it does not stop.
            stop, stop_name = instr, name
        instructions.append(instr)
    return App(KML, tuple(instructions), None, False, tuple(ctx.warnings))


def _say(ctx: c.Ctx, el: Any, verb: str, shown: str) -> Speak:
    # The commonest verb: its attribute sets are memoised per spelling of the verb (a
    # document repeats the same voice/language), only when they were clean.
    items = el.items()
    key = (shown, tuple(items))
    settings = _SAY_SETTINGS.get(key)
    if settings is None:
        settings = _say_settings(ctx, el, verb, shown, key)
    if len(el):
        c.no_children(ctx, el, shown)
    text = el.text
    if text:
        text = text.strip()
    if not text:
        ctx.error(el, f"`{shown}` has no text to speak")
        text = ""
    lang, voice, rate, pitch, volume, engine, loop = settings
    speak = _new(Speak)  # not Speak(..., line=...): see kookoo._new
    _speak_init(speak, text, lang, voice, None, None, None, None, rate, pitch, volume, engine, loop, line=el.sourceline)
    return speak


def _say_settings(ctx: c.Ctx, el: Any, verb: str, shown: str, key: tuple) -> tuple:
    """(lang, voice, rate, pitch, volume, engine, loop) from Say attributes; memoised when valid."""
    before = len(ctx.errors) + len(ctx.warnings)
    a = _attrs(ctx, el, verb, shown)

    def pick(name: str, choices: tuple[str, ...], default: str) -> str:
        return c.as_choice(ctx, el, shown, name, a[name], choices, default) if name in a else default

    settings = (a.get("language", SAY_LANGUAGE).strip() or SAY_LANGUAGE, a.get("voice", "").strip() or None,
                pick("rate", RATES, SAY_RATE), pick("pitch", PITCHES, SAY_PITCH),
                pick("volume", VOLUMES, SAY_VOLUME), pick("engine", ENGINES, SAY_ENGINE), _loop(ctx, el, shown, a))
    if len(ctx.errors) + len(ctx.warnings) == before:
        if len(_SAY_SETTINGS) >= 1024:
            _SAY_SETTINGS.clear()
        _SAY_SETTINGS[key] = settings
    return settings


_SAY_SETTINGS: dict[tuple, tuple] = {}
_new = object.__new__
_speak_init = Speak.__init__


def _play(ctx: c.Ctx, el: Any, verb: str, shown: str) -> Play:
    a = _attrs(ctx, el, verb, shown)
    c.no_children(ctx, el, shown)
    return Play(c.as_url(ctx, el, shown, el.text or "", "the URL of an audio file"), _loop(ctx, el, shown, a),
                line=el.sourceline)


def _pause(ctx: c.Ctx, el: Any, verb: str, shown: str) -> Pause:
    a = _attrs(ctx, el, verb, shown)
    c.no_children(ctx, el, shown)
    if c.text_of(el):
        ctx.error(el, f"`{shown}` takes no text; give the seconds in `length`")
    length = c.seconds_to_ms(ctx, el, shown, "length", a["length"], PAUSE_S * 1000) if "length" in a \
        else PAUSE_S * 1000
    return Pause(length, line=el.sourceline)


def _gather(ctx: c.Ctx, el: Any, verb: str, shown: str) -> CollectDigits:
    a = _attrs(ctx, el, verb, shown)
    if c.text_of(el):
        ctx.error(el, f"`{shown}` may not contain loose text; put the prompt in `Say`")
    prompts = []
    for child in el:
        name = _name(child.tag)
        if name is None:
            continue
        cverb = ALIASES.get(name, name)
        if cverb in PROMPT_VERBS:
            prompts.append(_BUILDERS[cverb](ctx, child, cverb, name))
        elif cverb in ATTRIBUTES:
            if ctx.lenient:
                ctx.warn(child, f"`{shown}` may not contain `{name}`; skipped")
            else:
                ctx.error(child, f"`{shown}` may not contain `{name}` (only Say, Play and Pause)")
        else:
            ctx.unknown(child, f"`{name}` is not a KML verb")
    num = c.as_int(ctx, el, shown, "numDigits", a["numDigits"], GATHER_MAX_DIGITS, 1, "the number of digits") \
        if "numDigits" in a else GATHER_MAX_DIGITS
    timeout = c.seconds_to_ms(ctx, el, shown, "timeout", a["timeout"], GATHER_TIMEOUT_S * 1000, 0.001) \
        if "timeout" in a else GATHER_TIMEOUT_S * 1000
    finish = c.as_key(ctx, el, shown, "finishOnKey", a["finishOnKey"], GATHER_FINISH) if "finishOnKey" in a \
        else GATHER_FINISH
    on_empty = c.as_bool(ctx, el, shown, "actionOnEmptyResult", a["actionOnEmptyResult"], False) \
        if "actionOnEmptyResult" in a else False
    return CollectDigits(tuple(prompts), num, finish, timeout, _action(ctx, el, shown, a), _method(ctx, el, shown, a),
                         on_empty, line=el.sourceline)


def _record(ctx: c.Ctx, el: Any, verb: str, shown: str) -> Record:
    a = _attrs(ctx, el, verb, shown)
    c.no_children(ctx, el, shown)
    if c.text_of(el):
        ctx.error(el, f"`{shown}` takes no text")
    maxlen = c.seconds_to_ms(ctx, el, shown, "maxLength", a["maxLength"], RECORD_MAX_LENGTH_S * 1000, 0.001) \
        if "maxLength" in a else RECORD_MAX_LENGTH_S * 1000
    silence = c.seconds_to_ms(ctx, el, shown, "timeout", a["timeout"], RECORD_TIMEOUT_S * 1000) \
        if "timeout" in a else RECORD_TIMEOUT_S * 1000
    finish = c.as_key(ctx, el, shown, "finishOnKey", a["finishOnKey"], RECORD_FINISH) if "finishOnKey" in a \
        else RECORD_FINISH
    beep = c.as_bool(ctx, el, shown, "playBeep", a["playBeep"], True) if "playBeep" in a else True
    fmt = c.as_choice(ctx, el, shown, "fileFormat", a["fileFormat"], ("wav", "mp3"), RECORD_FORMAT) \
        if "fileFormat" in a else RECORD_FORMAT
    return Record(None, fmt, silence, maxlen, finish, beep, _action(ctx, el, shown, a), _method(ctx, el, shown, a),
                  line=el.sourceline)


def _dial(ctx: c.Ctx, el: Any, verb: str, shown: str) -> Dial | Conference:
    a = _attrs(ctx, el, verb, shown)
    numbers: list[str] = []
    rooms: list[str] = []
    for child in el:
        name = _name(child.tag)
        if name is None:
            continue
        if name == "Number":
            _attrs(ctx, child, "Number", "Number")
            c.no_children(ctx, child, "Number")
            numbers.append(c.as_number(ctx, child, "Number", child.text or ""))
        elif name == "Conference":
            _attrs(ctx, child, "Conference", "Conference")
            c.no_children(ctx, child, "Conference")
            room = c.text_of(child)
            if not room:
                ctx.error(child, "`Conference` needs a room name")
            rooms.append(room)
        elif name in ATTRIBUTES or name in ALIASES:
            ctx.error(child, f"`Dial` may not contain `{name}` (only Number or Conference)")
        else:
            ctx.unknown(child, f"`{name}` is not a KML verb")
    body = c.text_of(el)
    if body:
        if numbers or rooms:
            ctx.error(el, "`Dial` has both a number as text and nested `Number`/`Conference`; use one")
        else:
            numbers.append(c.as_number(ctx, el, shown, body))
    record = c.as_bool(ctx, el, shown, "record", a["record"], False) if "record" in a else False
    caller_id = a.get("callerId", "").strip() or None
    limit = c.seconds_to_ms(ctx, el, shown, "timeLimit", a["timeLimit"], DIAL_TIME_LIMIT_S * 1000, 0.001) \
        if "timeLimit" in a else None
    if rooms:
        if numbers or len(rooms) > 1:
            ctx.error(el, "`Dial` may hold one `Conference` and nothing else")
        for unused in ("timeout", "action", "method"):
            if unused in a:
                ctx.error(el, f"`Dial` attribute `{unused}` does not apply to a `Conference`")
        return Conference(rooms[0], caller_id, record, -1 if limit is None else limit, line=el.sourceline)
    if not numbers:
        ctx.error(el, "`Dial` needs a number to dial")
    timeout = c.seconds_to_ms(ctx, el, shown, "timeout", a["timeout"], DIAL_TIMEOUT_S * 1000, 0.001) \
        if "timeout" in a else DIAL_TIMEOUT_S * 1000
    return Dial(tuple(numbers), caller_id, record, DIAL_TIME_LIMIT_S * 1000 if limit is None else limit, timeout,
                "ring", None, _action(ctx, el, shown, a), _method(ctx, el, shown, a), line=el.sourceline)


def _hangup(ctx: c.Ctx, el: Any, verb: str, shown: str) -> Hangup:
    a = _attrs(ctx, el, verb, shown)
    c.no_children(ctx, el, shown)
    if c.text_of(el):
        ctx.error(el, "`Hangup` takes no text")
    return Hangup(a.get("reason", "").strip() or None, line=el.sourceline)


def _redirect(ctx: c.Ctx, el: Any, verb: str, shown: str) -> GoTo:
    a = _attrs(ctx, el, verb, shown)
    c.no_children(ctx, el, shown)
    return GoTo(c.as_url(ctx, el, shown, el.text or "", "the URL of your next document"), _method(ctx, el, shown, a),
                line=el.sourceline)


def _reject(ctx: c.Ctx, el: Any, verb: str, shown: str) -> Reject:
    a = _attrs(ctx, el, verb, shown)
    c.no_children(ctx, el, shown)
    reason = c.as_choice(ctx, el, shown, "reason", a["reason"], REJECT_REASONS, "rejected") if "reason" in a \
        else "rejected"
    ring = c.as_int(ctx, el, shown, "ring", a["ring"], 0, 0) if "ring" in a else 0
    return Reject(reason, line=el.sourceline, ring=ring)


def _sms(ctx: c.Ctx, el: Any, verb: str, shown: str) -> SendSms:
    return c.send_sms(ctx, el, shown, "Sms", _attrs(ctx, el, verb, shown))


_BUILDERS = {
    "Say": _say, "Play": _play, "Pause": _pause, "Gather": _gather, "Record": _record, "Dial": _dial,
    "Hangup": _hangup, "Redirect": _redirect, "Reject": _reject, "Sms": _sms,
}

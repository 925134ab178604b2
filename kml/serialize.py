"""App → XML document of its dialect; ``parse(to_xml(app)) == app`` for every app a parse can produce.

All attributes are written explicitly (the model holds concrete values), so the
output does not depend on defaults. A value the dialect cannot express (e.g. a
KML ``Pause`` in a KooKoo app) raises :class:`SerializeError` rather than being
dropped silently.
"""

from __future__ import annotations

from lxml import etree

from kml.model import (
    KML, KOOKOO, App, CollectDigits, Conference, Dial, GoTo, Hangup, Instruction, Pause, Play, Recognize,
    Record, Reject, SendSms, Speak,
)


class SerializeError(ValueError):
    """The app holds something its dialect cannot say."""


def to_xml(app: App) -> bytes:
    """The document for ``app`` as UTF-8 bytes with an XML declaration."""
    if app.dialect == KOOKOO:
        root = etree.Element("response")
        if app.sid is not None:
            root.set("sid", app.sid)
        if app.filler:
            root.set("filler", "yes")
        for instr in app.instructions:
            root.append(_kookoo(instr))
    elif app.dialect == KML:
        if app.sid is not None or app.filler:
            raise SerializeError("KML has no `sid` or `filler`")
        root = etree.Element("Response")
        for instr in app.instructions:
            root.append(_kml(instr))
    else:
        raise SerializeError(f"unknown dialect {app.dialect!r}")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def seconds(ms: int) -> str:
    """Milliseconds as a seconds string that parses back exactly (``1500`` → ``"1.5"``)."""
    if ms % 1000 == 0:
        return str(ms // 1000)
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    return f"{sign}{ms // 1000}.{ms % 1000:03d}".rstrip("0")


def _el(tag: str, text: str | None = None, **attrs: object) -> etree._Element:
    el = etree.Element(tag)
    for key, value in attrs.items():
        if value is not None:
            el.set(key, _str(value))
    if text:
        el.text = text
    return el


def _str(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _require(instr: Instruction, dialect: str, **expected: object) -> None:
    """Raise unless every named field holds the value the dialect implies."""
    for name, want in expected.items():
        got = getattr(instr, name)
        if got != want:
            raise SerializeError(f"{type(instr).__name__}.{name}={got!r} cannot be written in {dialect} "
                                 f"(it can only be {want!r})")


def _whole_seconds(instr: Instruction, name: str, dialect: str) -> int:
    ms = getattr(instr, name)
    if ms % 1000:
        raise SerializeError(f"{type(instr).__name__}.{name}={ms} is not whole seconds, as {dialect} needs")
    return ms // 1000


def _kookoo_prompt(instr: Instruction) -> etree._Element:
    if isinstance(instr, (Speak, Play)):
        return _kookoo(instr)
    raise SerializeError(f"KooKoo prompts can only be speech or audio, not {type(instr).__name__}")


def _kookoo(instr: Instruction) -> etree._Element:
    d = "KooKoo XML"
    if isinstance(instr, Speak):
        _require(instr, d, voice=None, rate=None, pitch=None, volume=None, engine=None, loop=1)
        if instr.say_as is not None:
            _require(instr, d, speed=None, quality=None, tts_type=None)
            return _el("say-as", instr.text, format=instr.say_as, lang=instr.lang)
        return _el("playtext", instr.text, lang=instr.lang, speed=instr.speed, quality=instr.quality,
                   type=instr.tts_type)
    if isinstance(instr, Play):
        _require(instr, d, loop=1)
        return _el("playaudio", instr.url)
    if isinstance(instr, CollectDigits):
        _require(instr, d, action=None, method="GET", action_on_empty=True)
        el = _el("collectdtmf", l=instr.max_digits, t=instr.finish_on_key, o=instr.timeout_ms)
        for prompt in instr.prompts:
            el.append(_kookoo_prompt(prompt))
        return el
    if isinstance(instr, Record):
        _require(instr, d, play_beep=False, action=None, method="GET")
        return _el("record", instr.name, format=instr.format, silence=_whole_seconds(instr, "silence_ms", d),
                   maxduration=_whole_seconds(instr, "max_duration_ms", d), termchar=instr.finish_on_key)
    if isinstance(instr, Dial):
        _require(instr, d, action=None, method="GET")
        if len(instr.numbers) != 1:
            raise SerializeError("a KooKoo `dial` calls exactly one number")
        return _el("dial", instr.numbers[0], record=instr.record,
                   limittime=_whole_seconds(instr, "time_limit_ms", d), timeout=instr.timeout_ms, moh=instr.moh,
                   promptToCalledNumber=instr.prompt_to_called or "no", caller_id=instr.caller_id)
    if isinstance(instr, Conference):
        return _el("conference", instr.room, caller_id=instr.caller_id, record=instr.record, timeout=instr.timeout_ms)
    if isinstance(instr, Hangup):
        _require(instr, d, reason=None)
        return _el("hangup")
    if isinstance(instr, GoTo):
        _require(instr, d, method="GET")
        return _el("gotourl", instr.url)
    if isinstance(instr, SendSms):
        return _el("sendsms", instr.text, to=instr.to)
    if isinstance(instr, Recognize):
        el = _el("recognize", type=instr.recognizer, timeout=_whole_seconds(instr, "timeout_ms", d),
                 silence=_whole_seconds(instr, "silence_ms", d), lang=instr.lang, length=instr.length,
                 grammar=instr.grammar, success_file=instr.success_file)
        for prompt in instr.prompts:
            el.append(_kookoo_prompt(prompt))
        return el
    raise SerializeError(f"KooKoo XML has no tag for {type(instr).__name__}")


def _kml(instr: Instruction) -> etree._Element:
    d = "KML"
    if isinstance(instr, Speak):
        _require(instr, d, speed=None, quality=None, tts_type=None, say_as=None)
        return _el("Say", instr.text, voice=instr.voice, language=instr.lang, loop=instr.loop, rate=instr.rate,
                   pitch=instr.pitch, volume=instr.volume, engine=instr.engine)
    if isinstance(instr, Play):
        return _el("Play", instr.url, loop=instr.loop)
    if isinstance(instr, Pause):
        return _el("Pause", length=seconds(instr.length_ms))
    if isinstance(instr, CollectDigits):
        el = _el("Gather", numDigits=instr.max_digits, timeout=seconds(instr.timeout_ms),
                 finishOnKey=instr.finish_on_key, action=instr.action, method=instr.method,
                 actionOnEmptyResult=instr.action_on_empty)
        for prompt in instr.prompts:
            if not isinstance(prompt, (Speak, Play, Pause)):
                raise SerializeError(f"Gather prompts can only be Say, Play or Pause, not {type(prompt).__name__}")
            el.append(_kml(prompt))
        return el
    if isinstance(instr, Record):
        _require(instr, d, name=None)
        return _el("Record", maxLength=seconds(instr.max_duration_ms), timeout=seconds(instr.silence_ms),
                   finishOnKey=instr.finish_on_key, playBeep=instr.play_beep, action=instr.action,
                   method=instr.method, fileFormat=instr.format)
    if isinstance(instr, Dial):
        _require(instr, d, moh="ring", prompt_to_called=None)
        if not instr.numbers:
            raise SerializeError("a KML `Dial` needs at least one number")
        el = _el("Dial", instr.numbers[0] if len(instr.numbers) == 1 else None, callerId=instr.caller_id,
                 timeout=seconds(instr.timeout_ms), timeLimit=seconds(instr.time_limit_ms), record=instr.record,
                 action=instr.action, method=instr.method)
        if len(instr.numbers) > 1:
            for number in instr.numbers:
                el.append(_el("Number", number))
        return el
    if isinstance(instr, Conference):
        el = _el("Dial", callerId=instr.caller_id, record=instr.record,
                 timeLimit=None if instr.timeout_ms == -1 else seconds(instr.timeout_ms))
        el.append(_el("Conference", instr.room))
        return el
    if isinstance(instr, Hangup):
        return _el("Hangup", reason=instr.reason)
    if isinstance(instr, Reject):
        return _el("Reject", reason=instr.reason, ring=str(instr.ring) if instr.ring else None)
    if isinstance(instr, GoTo):
        return _el("Redirect", instr.url, method=instr.method)
    if isinstance(instr, SendSms):
        return _el("Sms", instr.text, to=instr.to)
    raise SerializeError(f"KML has no verb for {type(instr).__name__}")

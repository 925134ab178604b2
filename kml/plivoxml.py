"""Plivo XML → :class:`kml.model.App`, accepted as Plivo's own library (``plivo.plivoxml``) writes it.

``docs/plivo.md`` is the reference: the elements, the attributes honoured with
Plivo's defaults (``method`` POST, ``Record`` as mp3 with a 15 s silence
timeout, ``GetDigits`` up to 99 digits...), and what is refused and why —
never silently dropped. Names are case-sensitive, as in Plivo XML.
"""

from __future__ import annotations

from typing import Any

from kml import common as c
from kml.model import (
    PLIVO, App, CollectDigits, Conference, Dial, GoTo, Hangup, Instruction, Pause, Play, PreAnswer, Recognize,
    Record, Reject, SendDigits, SendSms, Speak,
)
from kml.twiml import SPEECH_AUTO_MS

P = "Plivo"
LANGUAGE = "en-US"
BEEP = "tone_stream://%(500,0,800)"
GETDIGITS_TIMEOUT_S = 5
GETDIGITS_DIGIT_TIMEOUT_S = 2
GETDIGITS_MAX = 99
GETINPUT_TIMEOUT_S = 15
GETINPUT_DIGIT_END_S = 5   # digitEndTimeout="auto"
GETINPUT_MAX = 32
RECORD_TIMEOUT_S = 15
RECORD_MAX_S = 60
ANY_KEY = "1234567890*#"
DIAL_TIMEOUT_S = 30
DIAL_TIME_LIMIT_S = 14400

_REDIRECT = "only redirect=\"true\" (the default) is supported: the action's answer is the next document"
_CALLBACK = "per-leg callbacks are not sent; use the call's callback URL (docs/plivo.md)"
REFUSED_ELEMENTS = {
    "Stream": "audio streams need Plivo's cloud",
    "MultiPartyCall": "multi-party calls need Plivo's cloud; use `Conference`",
}
TOP = ("Speak", "Play", "Wait", "GetDigits", "GetInput", "Record", "Dial", "Conference", "Redirect", "PreAnswer",
       "Hangup", "Message", "DTMF")


def build(root: Any, ctx: c.Ctx) -> App:
    """Build the App of a Plivo XML document whose root element is ``root``."""
    if (c.local_name(root.tag) or "").lower() != "response":
        ctx.error(root, f"the root element must be `Response`, not `{root.tag}`")
        return App(PLIVO)
    c.checked_attrs(ctx, root, "Response", (), {}, P)
    if c.text_of(root):
        ctx.error(root, "`Response` may not contain loose text; put words to speak in `Speak`")
    instructions: list[Instruction] = []
    order = c.Order(ctx)
    for el in root:
        name = c.local_name(el.tag)
        if name is None:
            continue
        builder = _BUILDERS.get(name)
        if builder is None:
            _unknown(ctx, el, name, "")
            continue
        instr = builder(ctx, el, name)
        if instr is None:
            continue
        order.note(instr, name)
        instructions.append(instr)
    return App(PLIVO, tuple(instructions), None, False, tuple(ctx.warnings))


def _unknown(ctx: c.Ctx, el: Any, name: str, inside: str) -> None:
    if name in REFUSED_ELEMENTS:
        ctx.error(el, f"Plivo `{name}` is not supported: {REFUSED_ELEMENTS[name]}")
        return
    near = next((v for v in TOP if v.lower() == name.lower()), None)
    hint = f"; names are case-sensitive: did you mean `{near}`?" if near else f" (Plivo elements: {', '.join(TOP)})"
    ctx.unknown(el, f"`{name}` is not a Plivo XML element{' inside `' + inside + '`' if inside else ''}{hint}")


def _leaf(ctx: c.Ctx, el: Any, shown: str) -> str:
    c.no_children(ctx, el, shown)
    return c.text_of(el)


def _redirect_true(ctx: c.Ctx, el: Any, shown: str, a: dict[str, str]) -> None:
    if not c.bool_attr(ctx, el, shown, a, "redirect", True):
        ctx.error(el, f"`{shown}` attribute `redirect=\"false\"` is not supported: {_REDIRECT}")


# --- prompts -------------------------------------------------------------------------------


def _speak(ctx: c.Ctx, el: Any, shown: str) -> Speak:
    a = c.checked_attrs(ctx, el, shown, ("voice", "language", "loop"), {}, P)
    for child in el:
        if c.local_name(child.tag):
            ctx.error(child, f"`Speak` may not contain `{c.local_name(child.tag)}`: SSML is not supported; write "
                             "the words as text")
    text = c.text_of(el)
    if not text:
        ctx.error(el, "`Speak` has no text to speak")
    loop = c.as_int(ctx, el, shown, "loop", a["loop"], 1, 0) if "loop" in a else 1
    return Speak(text, a.get("language", LANGUAGE).strip() or LANGUAGE,
                 c.vendor_voice(a.get("voice", "WOMAN")), loop=loop, line=el.sourceline)


def _play(ctx: c.Ctx, el: Any, shown: str) -> Play:
    a = c.checked_attrs(ctx, el, shown, ("loop",), {}, P)
    loop = c.as_int(ctx, el, shown, "loop", a["loop"], 1, 0) if "loop" in a else 1
    return Play(c.as_url(ctx, el, shown, _leaf(ctx, el, shown), "the URL of an audio file"), loop,
                line=el.sourceline)


def _wait(ctx: c.Ctx, el: Any, shown: str) -> Pause:
    a = c.checked_attrs(ctx, el, shown, ("length", "silence", "minSilence", "beep"), {}, P)
    if _leaf(ctx, el, shown):
        ctx.error(el, "`Wait` takes no text; give the seconds in `length`")
    if c.bool_attr(ctx, el, shown, a, "silence", False) or "minSilence" in a:
        ctx.error(el, "`Wait` attributes `silence`/`minSilence` (wait for the far end to fall silent) are not "
                      "supported; use a fixed `length`")
    if c.bool_attr(ctx, el, shown, a, "beep", False):
        ctx.error(el, "`Wait` attribute `beep=\"true\"` (beep detection) is not supported; use a fixed `length`")
    return Pause(c.seconds_attr(ctx, el, shown, a, "length", 1), line=el.sourceline)


_PROMPTS = {"Speak": _speak, "Play": _play, "Wait": _wait}


def _prompts(ctx: c.Ctx, el: Any, shown: str) -> list:
    if c.text_of(el):
        ctx.error(el, f"`{shown}` may not contain loose text; put the prompt in `Speak`")
    out = []
    for child in el:
        name = c.local_name(child.tag)
        if name is None:
            continue
        if name in _PROMPTS:
            out.append(_PROMPTS[name](ctx, child, name))
        elif name in _BUILDERS:
            ctx.error(child, f"`{shown}` may not contain `{name}` (only Speak, Play and Wait)")
        else:
            _unknown(ctx, child, name, shown)
    return out


# --- input ---------------------------------------------------------------------------------


def _get_digits(ctx: c.Ctx, el: Any, shown: str) -> CollectDigits:
    a = c.checked_attrs(ctx, el, shown, ("action", "method", "timeout", "digitTimeout", "finishOnKey", "numDigits",
                                         "retries", "redirect", "playBeep", "validDigits", "invalidDigitsSound",
                                         "log"), {}, P)
    prompts = _prompts(ctx, el, shown)
    if c.bool_attr(ctx, el, shown, a, "playBeep", False):
        prompts.append(Play(BEEP, line=el.sourceline))
    _redirect_true(ctx, el, shown, a)
    c.bool_attr(ctx, el, shown, a, "log", True)
    finish = c.as_key(ctx, el, shown, "finishOnKey", a["finishOnKey"], "#") if "finishOnKey" in a else "#"
    num = c.as_int(ctx, el, shown, "numDigits", a["numDigits"], GETDIGITS_MAX, 1, "the number of digits") \
        if "numDigits" in a else GETDIGITS_MAX
    tries = c.as_int(ctx, el, shown, "retries", a["retries"], 1, 1) if "retries" in a else 1
    valid = c.keys_attr(ctx, el, shown, a, "validDigits", ANY_KEY)
    invalid = c.url_attr(ctx, el, shown, a, "invalidDigitsSound")
    return CollectDigits(tuple(prompts), num, finish, c.seconds_attr(ctx, el, shown, a, "timeout",
                                                                      GETDIGITS_TIMEOUT_S, 0.001),
                         c.url_attr(ctx, el, shown, a, "action"), c.method_attr(ctx, el, shown, a), False, tries,
                         "" if valid == ANY_KEY else valid, invalid,
                         c.seconds_attr(ctx, el, shown, a, "digitTimeout", GETDIGITS_DIGIT_TIMEOUT_S, 0.001),
                         line=el.sourceline)


def _auto_seconds(ctx: c.Ctx, el: Any, shown: str, a: dict[str, str], name: str, auto_ms: int) -> int:
    raw = (a.get(name) or "auto").strip()
    if raw.lower() == "auto":
        return auto_ms
    return c.seconds_to_ms(ctx, el, shown, name, raw, auto_ms, 0.001)


def _get_input(ctx: c.Ctx, el: Any, shown: str) -> CollectDigits | Recognize:
    a = c.checked_attrs(ctx, el, shown, ("action", "method", "inputType", "executionTimeout", "digitEndTimeout",
                                         "speechEndTimeout", "finishOnKey", "numDigits", "speechModel", "hints",
                                         "language", "interimSpeechResultsCallback",
                                         "interimSpeechResultsCallbackMethod", "log", "redirect",
                                         "profanityFilter"), {}, P)
    prompts = _prompts(ctx, el, shown)
    _redirect_true(ctx, el, shown, a)
    for flag in ("log", "profanityFilter"):
        c.bool_attr(ctx, el, shown, a, flag, False)
    action = c.url_attr(ctx, el, shown, a, "action")
    if action is None:
        ctx.error(el, "`GetInput` needs an `action` URL (Plivo requires it)")
    modes = set((a.get("inputType") or "").replace(",", " ").split())
    if not modes or modes - {"dtmf", "speech"}:
        ctx.error(el, f"`GetInput` attribute `inputType` must be dtmf, speech or \"dtmf speech\", not "
                      f"\"{a.get('inputType', '')}\"")
        modes = {"speech"}
    timeout = c.seconds_attr(ctx, el, shown, a, "executionTimeout", GETINPUT_TIMEOUT_S, 0.001)
    finish = c.as_key(ctx, el, shown, "finishOnKey", a["finishOnKey"], "#") if "finishOnKey" in a else "#"
    num = c.as_int(ctx, el, shown, "numDigits", a["numDigits"], GETINPUT_MAX, 1, "the number of digits") \
        if "numDigits" in a else GETINPUT_MAX
    digit_end = _auto_seconds(ctx, el, shown, a, "digitEndTimeout", GETINPUT_DIGIT_END_S * 1000)
    method = c.method_attr(ctx, el, shown, a)
    if c.method_attr(ctx, el, shown, a, "interimSpeechResultsCallbackMethod") != "POST":
        ctx.error(el, "`GetInput` attribute `interimSpeechResultsCallbackMethod=\"GET\"` is not supported: interim "
                      "results are POSTed")
    if "speech" not in modes:
        return CollectDigits(tuple(prompts), num, finish, timeout, action, method, False,
                             digit_timeout_ms=digit_end, line=el.sourceline)
    hints = tuple(h.strip() for h in (a.get("hints") or "").split(",") if h.strip())
    return Recognize(a.get("speechModel", "").strip() or "default", timeout,
                     _auto_seconds(ctx, el, shown, a, "speechEndTimeout", SPEECH_AUTO_MS),
                     a.get("language", LANGUAGE).strip() or LANGUAGE, 1, None, None, tuple(prompts), hints,
                     "dtmf" in modes, num if "dtmf" in modes else 0, finish if "dtmf" in modes else "", action,
                     method, False, c.url_attr(ctx, el, shown, a, "interimSpeechResultsCallback"),
                     line=el.sourceline)


def _record(ctx: c.Ctx, el: Any, shown: str) -> Record:
    a = c.checked_attrs(ctx, el, shown, ("action", "method", "fileFormat", "redirect", "timeout", "maxLength",
                                         "playBeep", "finishOnKey", "recordSession", "startOnDialAnswer",
                                         "transcriptionType", "transcriptionUrl", "transcriptionMethod",
                                         "callbackUrl", "callbackMethod", "recordChannelType"),
                        {"transcriptionReportType": "transcripts are reported as text only"}, P)
    if _leaf(ctx, el, shown):
        ctx.error(el, "`Record` takes no text")
    _redirect_true(ctx, el, shown, a)
    if c.bool_attr(ctx, el, shown, a, "startOnDialAnswer", False):
        ctx.error(el, "`Record` attribute `startOnDialAnswer=\"true\"` is not supported: record the bridged call "
                      "with `Dial` and `recordSession`, or start `Record` after the `Dial`")
    if (a.get("recordChannelType") or "mono").strip() != "mono":
        ctx.error(el, "`Record` attribute `recordChannelType` is not supported beyond \"mono\": `Record` takes the "
                      "caller alone")
    kind = (a.get("transcriptionType") or "").strip()
    if kind and kind not in ("auto", "hybrid"):
        ctx.error(el, f"`Record` attribute `transcriptionType` must be auto or hybrid, not \"{kind}\"")
    fmt = c.as_choice(ctx, el, shown, "fileFormat", a["fileFormat"], ("mp3", "wav"), "mp3") \
        if "fileFormat" in a else "mp3"
    maxlen = c.seconds_attr(ctx, el, shown, a, "maxLength", RECORD_MAX_S, 1)
    if "callbackUrl" in a and c.bool_attr(ctx, el, shown, a, "recordSession", False):
        ctx.error(el, "`Record` attribute `callbackUrl` is not supported with `recordSession=\"true\"`: the session "
                      "recording is complete only when the call ends, and is reported in the call's CDR")
    transcript_url = c.url_attr(ctx, el, shown, a, "transcriptionUrl")
    c.method_attr(ctx, el, shown, a, "transcriptionMethod")
    return Record(None, fmt, c.seconds_attr(ctx, el, shown, a, "timeout", RECORD_TIMEOUT_S) or maxlen, maxlen,
                  c.keys_attr(ctx, el, shown, a, "finishOnKey", ANY_KEY), c.bool_attr(ctx, el, shown, a, "playBeep",
                                                                                    True),
                  c.url_attr(ctx, el, shown, a, "action"), c.method_attr(ctx, el, shown, a),
                  c.url_attr(ctx, el, shown, a, "callbackUrl"), c.method_attr(ctx, el, shown, a, "callbackMethod"),
                  transcript_url is not None, transcript_url,
                  c.bool_attr(ctx, el, shown, a, "recordSession", False), line=el.sourceline)


# --- connecting ----------------------------------------------------------------------------

_DIAL_REFUSED = {"callerName": "the caller name shown is the call's", "confirmSound": "call screening is not "
                 "supported", "confirmKey": "call screening is not supported", "confirmTimeout": "call screening "
                 "is not supported", "callbackUrl": _CALLBACK, "callbackMethod": _CALLBACK,
                 "digitsMatch": "DTMF-triggered callbacks are not sent", "digitsMatchBLeg": "DTMF-triggered "
                 "callbacks are not sent", "sipHeaders": "custom SIP headers are not passed on"}
_LEG_REFUSED = {"sendOnPreanswer": "digits are sent when the called party answers",
                "sendDigitsMode": "digits are sent in-band as FreeSWITCH's send_dtmf does",
                "sipHeaders": "custom SIP headers are not passed on"}


def _dial(ctx: c.Ctx, el: Any, shown: str) -> Dial:
    a = c.checked_attrs(ctx, el, shown, ("action", "method", "hangupOnStar", "timeLimit", "timeout", "callerId",
                                         "dialMusic", "redirect"), _DIAL_REFUSED, P)
    _redirect_true(ctx, el, shown, a)
    numbers: list[str] = []
    users: list[str] = []
    digits = ""
    for child in el:
        name = c.local_name(child.tag)
        if name is None:
            continue
        if name in ("Number", "User"):
            la = c.checked_attrs(ctx, child, name, ("sendDigits", "sendOnPreanswer"), _LEG_REFUSED, P)
            if c.bool_attr(ctx, child, name, la, "sendOnPreanswer", False):
                ctx.error(child, f"`{name}` attribute `sendOnPreanswer=\"true\"` is not supported: "
                                 f"{_LEG_REFUSED['sendOnPreanswer']}")
            text = _leaf(ctx, child, name)
            if name == "Number":
                numbers.append(c.as_number(ctx, child, name, text))
            else:
                if not text.lower().startswith(("sip:", "sips:")) or " " in text:
                    ctx.error(child, f"`User` needs a SIP URI such as sip:alice@example.com, not \"{text}\"")
                users.append(text)
            d = la.get("sendDigits", "").strip()
            if d and any(ch not in c.DTMF_KEYS + "wW" for ch in d):
                ctx.error(child, f"`sendDigits` may hold only 0-9, *, # and w (a half-second wait), not \"{d}\"")
            digits = d or digits
        else:
            _unknown(ctx, child, name, "Dial")
    if c.text_of(el):
        ctx.error(el, "`Dial` may not contain loose text; put the number in `Number`")
    if not numbers and not users:
        ctx.error(el, "`Dial` needs a `Number` or a `User`")
    music = (a.get("dialMusic") or "real").strip()
    if music != "real":
        ctx.error(el, "`Dial` attribute `dialMusic` is not supported beyond \"real\" (the ringback): a music "
                      "document needs a second interpreter")
    caller_id = a.get("callerId", "").strip() or None
    timeout = c.seconds_attr(ctx, el, shown, a, "timeout", DIAL_TIMEOUT_S, 0.001)
    return Dial(tuple(numbers), caller_id, False, c.seconds_attr(ctx, el, shown, a, "timeLimit", DIAL_TIME_LIMIT_S,
                                                                  0.001),
                timeout, "ring", None, c.url_attr(ctx, el, shown, a, "action"), c.method_attr(ctx, el, shown, a),
                tuple(users), (), "answer", False, c.bool_attr(ctx, el, shown, a, "hangupOnStar", False), digits,
                True, line=el.sourceline)


_CONF_REFUSED = {"enterSound": "the switch's own enter/exit sounds are used", "exitSound": "the switch's own "
                 "enter/exit sounds are used", "waitSound": "callers waiting hear the switch's music on hold",
                 "maxMembers": "rooms have no size limit", "hangupOnStar": "leave the room by hanging up",
                 "callbackUrl": _CALLBACK, "callbackMethod": _CALLBACK, "digitsMatch": "DTMF-triggered callbacks "
                 "are not sent", "floorEvent": "floor events are not sent", "relayDTMF": "DTMF is not relayed "
                 "between members", "sendDigits": "digits are not sent into rooms",
                 "recordWhenAlone": "the room is recorded from its start", "transcriptionType": "rooms are not "
                 "transcribed", "transcriptionUrl": "rooms are not transcribed",
                 "transcriptionMethod": "rooms are not transcribed"}


def _conference(ctx: c.Ctx, el: Any, shown: str) -> Conference:
    a = c.checked_attrs(ctx, el, shown, ("muted", "startConferenceOnEnter", "endConferenceOnExit", "stayAlone",
                                         "record", "recordFileFormat", "timeLimit", "action", "method",
                                         "redirect"), _CONF_REFUSED, P)
    _redirect_true(ctx, el, shown, a)
    room = _leaf(ctx, el, shown)
    if not room:
        ctx.error(el, "`Conference` needs a room name")
    if not c.bool_attr(ctx, el, shown, a, "startConferenceOnEnter", True):
        ctx.error(el, "`Conference` attribute `startConferenceOnEnter=\"false\"` is not supported: rooms start "
                      "when the first member enters")
    if not c.bool_attr(ctx, el, shown, a, "stayAlone", True):
        ctx.error(el, "`Conference` attribute `stayAlone=\"false\"` is not supported: a member may wait alone")
    if "recordFileFormat" in a:
        c.as_choice(ctx, el, shown, "recordFileFormat", a["recordFileFormat"], ("mp3", "wav"), "mp3")
    limit = c.seconds_attr(ctx, el, shown, a, "timeLimit", 0)
    return Conference(room, None, c.bool_attr(ctx, el, shown, a, "record", False), limit or -1,
                      c.bool_attr(ctx, el, shown, a, "muted", False),
                      c.bool_attr(ctx, el, shown, a, "endConferenceOnExit", False),
                      c.url_attr(ctx, el, shown, a, "action"), c.method_attr(ctx, el, shown, a), line=el.sourceline)


# --- control -------------------------------------------------------------------------------


def _redirect(ctx: c.Ctx, el: Any, shown: str) -> GoTo:
    a = c.checked_attrs(ctx, el, shown, ("method",), {}, P)
    return GoTo(c.as_url(ctx, el, shown, _leaf(ctx, el, shown), "the URL of your next document"),
                c.method_attr(ctx, el, shown, a), line=el.sourceline)


def _pre_answer(ctx: c.Ctx, el: Any, shown: str) -> PreAnswer:
    c.checked_attrs(ctx, el, shown, (), {}, P)
    prompts = []
    for child in el:
        name = c.local_name(child.tag)
        if name == "GetDigits":
            ctx.error(child, "`GetDigits` inside `PreAnswer` is not supported: collect digits after the answer")
        elif name in _PROMPTS:
            prompts.append(_PROMPTS[name](ctx, child, name))
        elif name:
            _unknown(ctx, child, name, "PreAnswer")
    return PreAnswer(tuple(prompts), line=el.sourceline)


def _hangup(ctx: c.Ctx, el: Any, shown: str) -> Hangup | Reject:
    a = c.checked_attrs(ctx, el, shown, ("reason", "schedule"), {}, P)
    if _leaf(ctx, el, shown):
        ctx.error(el, "`Hangup` takes no text")
    if "schedule" in a and c.as_int(ctx, el, shown, "schedule", a["schedule"], 0, 0) > 0:
        ctx.error(el, "`Hangup` attribute `schedule` is not supported: put the `Hangup` where the call should end, "
                      "or give the call a time limit")
    reason = c.as_choice(ctx, el, shown, "reason", a["reason"], ("rejected", "busy"), "rejected") \
        if "reason" in a else None
    if reason:
        return Reject(reason, line=el.sourceline)
    return Hangup(None, line=el.sourceline)


def _message(ctx: c.Ctx, el: Any, shown: str) -> SendSms:
    a = c.checked_attrs(ctx, el, shown, ("src", "dst", "type"),
                        {"callbackUrl": "the message's delivery is not reported to the app",
                         "callbackMethod": "the message's delivery is not reported to the app"}, P)
    if (a.get("type") or "sms").strip().lower() != "sms":
        ctx.error(el, f"`Message` attribute `type` must be sms (MMS is not supported), not \"{a['type']}\"")
    attrs = {"to": a.get("dst", "")}
    return c.send_sms(ctx, el, shown, "Message", attrs)


def _dtmf(ctx: c.Ctx, el: Any, shown: str) -> SendDigits:
    a = c.checked_attrs(ctx, el, shown, ("async",), {}, P)
    c.bool_attr(ctx, el, shown, a, "async", True)
    digits = _leaf(ctx, el, shown)
    if not digits or any(ch not in c.DTMF_KEYS + "wW" for ch in digits):
        ctx.error(el, f"`DTMF` may hold only 0-9, *, # and w (a half-second wait), not \"{digits}\"")
    return SendDigits(digits, line=el.sourceline)


_BUILDERS = {
    "Speak": _speak, "Play": _play, "Wait": _wait, "GetDigits": _get_digits, "GetInput": _get_input,
    "Record": _record, "Dial": _dial, "Conference": _conference, "Redirect": _redirect, "PreAnswer": _pre_answer,
    "Hangup": _hangup, "Message": _message, "DTMF": _dtmf,
}

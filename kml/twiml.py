"""TwiML (Twilio's voice markup) → :class:`kml.model.App`, accepted as Twilio's own library writes it.

``docs/twiml.md`` is the reference: every verb and noun, the attributes
honoured with Twilio's defaults (``method`` POST, ``Record`` up to an hour, any
key ends it...), and what is refused and why. An attribute Twilio defines but
a self-hosted FreeSWITCH cannot honour is an error naming the reason, never
silently dropped; names Twilio does not define are errors too (warnings when
lenient). Verb and attribute names are case-sensitive, as in TwiML.
"""

from __future__ import annotations

from typing import Any

from kml import common as c
from kml.model import (
    TWIML, App, CollectDigits, Conference, Dial, DialQueue, Enqueue, GoTo, Hangup, Instruction, Pause, Play,
    Recognize, Record, Reject, SendDigits, SendSms, Speak,
)

P = "TwiML"
LANGUAGE = "en-US"
GATHER_TIMEOUT_S = 5
GATHER_MAX_DIGITS = 128  # Twilio: no limit but finishOnKey/timeout; the switch needs a number
SPEECH_AUTO_MS = 1500     # speechTimeout="auto": the silence that ends an utterance
RECORD_MAX_S = 3600
RECORD_TIMEOUT_S = 5
ANY_KEY = "1234567890*#"
DIAL_TIMEOUT_S = 30
DIAL_TIME_LIMIT_S = 14400
DIAL_RECORD = {"do-not-record": None, "false": None, "true": ("answer", False),
               "record-from-answer": ("answer", False), "record-from-ringing": ("ringing", False),
               "record-from-answer-dual": ("answer", True), "record-from-ringing-dual": ("ringing", True)}
AUDIO_SUFFIXES = (".wav", ".mp3", ".ogg", ".gsm", ".ul", ".ulaw", ".al", ".alaw")

_STATUS_CB = "per-leg status callbacks are not sent; use the call's callback URL (docs/twiml.md)"
_TWIML_URL = ("a TwiML document run on the called party needs a second interpreter on the other leg, "
              "which Vaani does not run")
_SSML = "SSML inside `Say` is not supported; write the words as text and use the voice/language attributes"

#: Verbs Twilio has that a self-hosted switch cannot honour, with the reason given to the developer.
REFUSED_VERBS = {
    "Connect": "media streams and virtual agents need Twilio's cloud",
    "Start": "media streams and SIPREC need Twilio's cloud",
    "Stop": "media streams need Twilio's cloud",
    "Pay": "payment capture needs a PCI-compliant payment connector",
    "Prompt": "`Prompt` belongs to `Pay`, which is not supported",
    "Refer": "SIP REFER transfers are not supported; use `Dial`",
    "Echo": "`Echo` is a Twilio test verb",
    "Leave": "`Leave` only runs in an `Enqueue` waitUrl document, and Vaani plays waitUrl as an audio file "
             "(see docs/twiml.md, Enqueue)",
}
TOP_VERBS = ("Say", "Play", "Pause", "Gather", "Record", "Dial", "Enqueue", "Hangup", "Redirect", "Reject", "Sms",
             "Message")


def build(root: Any, ctx: c.Ctx) -> App:
    """Build the App of a TwiML document whose root element is ``root``."""
    if (c.local_name(root.tag) or "").lower() != "response":
        ctx.error(root, f"the root element must be `Response`, not `{root.tag}`")
        return App(TWIML)
    if root.attrib:
        c.checked_attrs(ctx, root, "Response", (), {}, P)
    if c.text_of(root):
        ctx.error(root, "`Response` may not contain loose text; put words to speak in `Say`")
    return App(TWIML, tuple(_verbs(ctx, root, "", c.Order(ctx))), None, False, tuple(ctx.warnings))


def _verbs(ctx: c.Ctx, parent: Any, inside: str, order: c.Order | None) -> list[Instruction]:
    """Instructions from the children of ``parent``: the verbs of the Response (``inside`` "", with
    ``order`` checking what never runs) or the prompts of a Gather (``inside`` "Gather": Say, Play, Pause).

    One loop for both, with ``Say`` (most of an app) and ``Pause`` built right here rather than by a
    call per element (the same shape as kml.kookoo's playtext): their attribute sets are memoised, and
    a run of prompts with the same voice (pauses of the same length) is recognised by comparing short
    lists, which is cheaper than hashing them. The order check is called only for a verb that leaves
    the document, or once one has.
    """
    out: list[Instruction] = []
    append = out.append
    builders = _PROMPTS if inside else _BUILDERS
    voices = ctx.seen
    last_items = last_settings = pause_items = pause_length = None
    for el in parent[:]:  # a slice makes the children's proxies in one C call
        name = el.tag
        if name != "Say":
            if name.__class__ is not str:
                continue  # a comment or processing instruction
            if name[0] == "{":
                name = name.split("}", 1)[1]
            if name == "Pause":
                # Pauses come between prompts with the same length: the Say trick again.
                items = el.items()
                if items != pause_items:
                    length = _MEMO.get(("Pause", *items))
                    if length is None:
                        length = _settings(ctx, el, "Pause", _pause_settings)
                    else:
                        pause_items, pause_length = items, length
                else:
                    length = pause_length
                if el.text is not None or len(el):
                    if _leaf(ctx, el, name):
                        ctx.error(el, "`Pause` takes no text; give the seconds in `length`")
                pause = _new(Pause)  # as Speak below
                pause.length_ms, = length
                pause.line = el.sourceline
                if order is not None and order.stop is not None:
                    order.note(pause, name)
                append(pause)
                continue
            if name != "Say":
                builder = builders.get(name)
                if builder is None:
                    if inside and name in _BUILDERS:
                        ctx.error(el, f"`{inside}` may not contain `{name}` (only Say, Play and Pause)")
                    else:
                        _unknown_verb(ctx, el, name, inside)
                    continue
                instr = builder(ctx, el, name)
                if order is not None:
                    cls = instr.__class__
                    # Order.note's own test, made here to spare the call for the verbs that stay.
                    if order.stop is not None or cls in c.STOPS or (
                            cls in c.ACTIONS and instr.action and getattr(instr, "action_on_empty", True)):
                        order.note(instr, name)
                elif instr.__class__ is SendDigits:
                    ctx.error(el, "`Play digits` may not be a `Gather` prompt")
                    continue
                append(instr)
                continue
        items = el.items()
        if items != last_items:
            for seen, settings in voices:  # the few voices this document used before: no hashing
                if items == seen:
                    break
            else:
                settings = _MEMO.get(("Say", *items))
                if settings is None:
                    settings = _settings(ctx, el, "Say", _say_settings)
                    seen = None  # not remembered: a set with a problem is reported every time
                else:
                    voices.append((items, settings))
                    seen = items
            last_items, last_settings = seen, settings
        else:
            settings = last_settings
        if len(el):
            for child in el:
                if c.local_name(child.tag):
                    ctx.error(child, f"`Say` may not contain `{c.local_name(child.tag)}`: {_SSML}")
        text = el.text
        if text:
            text = text.strip()
        if not text:
            ctx.error(el, "`Say` has no text to speak")
            text = ""
        # Slots assigned directly: three times cheaper than the dataclass __init__ with its keyword-only
        # line (every field is set; tests compare these with Speak(...) built the ordinary way).
        speak = _new(Speak)
        speak.text = text
        speak.lang, speak.voice, speak.loop = settings
        speak.speed = speak.quality = speak.tts_type = speak.say_as = None
        speak.rate = speak.pitch = speak.volume = speak.engine = None
        speak.line = el.sourceline
        if order is not None and order.stop is not None:
            order.note(speak, name)
        append(speak)
    return out


def _unknown_verb(ctx: c.Ctx, el: Any, name: str, inside: str) -> None:
    if name in REFUSED_VERBS:
        ctx.error(el, f"TwiML `{name}` is not supported: {REFUSED_VERBS[name]}")
        return
    near = next((v for v in TOP_VERBS if v.lower() == name.lower()), None)
    hint = f"; verbs are case-sensitive: did you mean `{near}`?" if near else f" (TwiML verbs: {', '.join(TOP_VERBS)})"
    where = f" inside `{inside}`" if inside else ""
    ctx.unknown(el, f"`{name}` is not a TwiML verb{where}{hint}")


def _leaf(ctx: c.Ctx, el: Any, shown: str) -> str:
    if len(el):
        c.no_children(ctx, el, shown)
    text = el.text
    return text.strip() if text else ""


_MEMO: dict[tuple, tuple] = {}


def _settings(ctx: c.Ctx, el: Any, shown: str, compute) -> tuple:
    """``compute(ctx, el, shown)`` — what a verb's attributes say — memoised per spelling of them.

    Apps repeat the same voice, the same Gather attributes, the same Pause: reading and checking
    them once per distinct attribute set is most of the saving that keeps a TwiML parse near lxml's
    own time (bench/bench_kml.py). Only sets that raised no error or warning are remembered, so a
    problem is reported every time it occurs. Keyed by the (name, value) items, which Say and Pause
    have read already (:func:`_verbs`); the other verbs use :func:`_verb_settings`.
    """
    key = (shown, *el.items())
    hit = _MEMO.get(key)
    if hit is not None:
        return hit
    before = len(ctx.errors) + len(ctx.warnings)
    value = compute(ctx, el, shown)
    if len(ctx.errors) + len(ctx.warnings) == before:
        if len(_MEMO) >= 4096:
            _MEMO.clear()
        _MEMO[key] = value
    return value


_BY_VALUES: dict[tuple, tuple] = {}


def _verb_settings(ctx: c.Ctx, el: Any, shown: str, compute) -> tuple:
    """As :func:`_settings`, for the verbs with many attributes (Gather, Record, Dial, ...).

    This memo is keyed by the attribute values and holds their names beside the settings: reading the
    values and the names is cheaper than reading (name, value) pairs, and only the values are hashed
    (a fifth less time for a Gather's nine attributes). The same values under other names are a miss.
    """
    key = (shown, *el.values())
    hit = _BY_VALUES.get(key)
    if hit is not None and hit[0] == el.keys():
        return hit[1]
    before = len(ctx.errors) + len(ctx.warnings)
    value = compute(ctx, el, shown)
    if len(ctx.errors) + len(ctx.warnings) == before:
        if len(_BY_VALUES) >= 4096:
            _BY_VALUES.clear()
        _BY_VALUES[key] = (el.keys(), value)
    return value


_SEND_KEYS = c.DTMF_KEYS + "wW"
_new = object.__new__


# --- prompts -------------------------------------------------------------------------------


def _say_settings(ctx: c.Ctx, el: Any, shown: str) -> tuple:
    a = c.checked_attrs(ctx, el, shown, ("voice", "language", "loop"), {}, P)
    loop = c.as_int(ctx, el, shown, "loop", a["loop"], 1, 0) if "loop" in a else 1
    return a.get("language", LANGUAGE).strip() or LANGUAGE, c.vendor_voice(a.get("voice")), loop


def _play(ctx: c.Ctx, el: Any, shown: str) -> Play | SendDigits:
    if not el.attrib:  # the usual Play: a URL and no attributes, built without reading them
        url = el.text
        if url and not len(el):
            url = url.strip()
            if url and " " not in url and url.isprintable():  # see c.as_url
                play = _new(Play)
                play.url, play.loop, play.line = url, 1, el.sourceline
                return play
    a = c.checked_attrs(ctx, el, shown, ("loop", "digits"), {}, P)
    url = _leaf(ctx, el, shown)
    if "digits" in a:
        digits = a["digits"].strip()
        if url:
            ctx.error(el, "`Play` has both `digits` and a URL; use one `Play` for each")
        if not digits or any(ch not in c.DTMF_KEYS + "wW" for ch in digits):
            ctx.error(el, f"`Play` attribute `digits` may hold only 0-9, *, # and w (a half-second wait), "
                          f"not \"{a['digits']}\"")
        return SendDigits(digits, line=el.sourceline)
    loop = c.as_int(ctx, el, shown, "loop", a["loop"], 1, 0) if "loop" in a else 1
    return Play(c.as_url(ctx, el, shown, url, "the URL of an audio file"), loop, line=el.sourceline)


def _pause_settings(ctx: c.Ctx, el: Any, shown: str) -> tuple:
    a = c.checked_attrs(ctx, el, shown, ("length",), {}, P)
    return (c.seconds_attr(ctx, el, shown, a, "length", 1),)


#: Builders of a Gather's prompts but Say and Pause (built by :func:`_verbs`).
_PROMPTS = {"Play": _play}


# --- input ---------------------------------------------------------------------------------

_GATHER_ACCEPTED = ("input", "action", "method", "timeout", "speechTimeout", "maxSpeechTime", "profanityFilter",
                    "finishOnKey", "numDigits", "partialResultCallback", "partialResultCallbackMethod", "language",
                    "hints", "actionOnEmptyResult", "speechModel", "enhanced", "bargeIn", "debug")
_GATHER_REFUSED = {"dtmfDetection": "DTMF detection is always on in FreeSWITCH"}


def _gather(ctx: c.Ctx, el: Any, shown: str) -> CollectDigits | Recognize:
    if c.text_of(el):
        ctx.error(el, "`Gather` may not contain loose text; put the prompt in `Say`")
    prompts = tuple(_verbs(ctx, el, "Gather", None)) if len(el) else ()
    cls, head, tail = _verb_settings(ctx, el, shown, _gather_settings)
    # Slots assigned directly, as for Speak in _verbs: half the time of the dataclass __init__ with
    # its keyword-only line (every field is set; the tests compare with instances built the usual way).
    gather = _new(cls)
    gather.prompts = prompts
    gather.line = el.sourceline
    if cls is Recognize:
        (gather.recognizer, gather.timeout_ms, gather.silence_ms, gather.lang, gather.length, gather.grammar,
         gather.success_file) = head
        (gather.hints, gather.dtmf, gather.max_digits, gather.finish_on_key, gather.action, gather.method,
         gather.action_on_empty, gather.partial_callback) = tail
    else:
        (gather.max_digits, gather.finish_on_key, gather.timeout_ms, gather.action, gather.method,
         gather.action_on_empty) = tail
        gather.tries, gather.valid_digits, gather.invalid_prompt, gather.digit_timeout_ms = 1, "", None, None
    return gather


def _gather_settings(ctx: c.Ctx, el: Any, shown: str) -> tuple:
    """(Recognize or CollectDigits, the model's arguments before the prompts, those after) from Gather's
    attributes."""
    a = c.checked_attrs(ctx, el, shown, _GATHER_ACCEPTED, _GATHER_REFUSED, P)
    modes = set((a.get("input") or "dtmf").replace(",", " ").split())
    if not modes or modes - {"dtmf", "speech"}:
        ctx.error(el, f"`Gather` attribute `input` must be dtmf, speech or \"dtmf speech\", not \"{a.get('input')}\"")
        modes = {"dtmf"}
    if "bargeIn" in a and not c.as_bool(ctx, el, shown, "bargeIn", a["bargeIn"], True):
        ctx.error(el, "`Gather` attribute `bargeIn=\"false\"` is not supported: input always interrupts the prompt")
    timeout = c.seconds_attr(ctx, el, shown, a, "timeout", GATHER_TIMEOUT_S, 0.001)
    finish = c.as_key(ctx, el, shown, "finishOnKey", a["finishOnKey"], "#") if "finishOnKey" in a else "#"
    num = c.as_int(ctx, el, shown, "numDigits", a["numDigits"], 0, 1, "the number of digits") \
        if "numDigits" in a else 0
    action = c.url_attr(ctx, el, shown, a, "action")
    method = c.method_attr(ctx, el, shown, a)
    on_empty = c.bool_attr(ctx, el, shown, a, "actionOnEmptyResult", False)
    for flag in ("profanityFilter", "enhanced", "debug"):
        c.bool_attr(ctx, el, shown, a, flag, False)
    if c.method_attr(ctx, el, shown, a, "partialResultCallbackMethod") != "POST":
        ctx.error(el, "`Gather` attribute `partialResultCallbackMethod=\"GET\"` is not supported: interim results "
                      "are POSTed")
    if "speech" not in modes:
        for speech_only in ("speechTimeout", "hints", "partialResultCallback", "speechModel"):
            if speech_only in a:
                ctx.warn(el, f"`Gather` attribute `{speech_only}` applies to input=\"speech\"; it has no effect here")
        return CollectDigits, (), (num or GATHER_MAX_DIGITS, finish, timeout, action, method, on_empty)
    speech_timeout = (a.get("speechTimeout") or "").strip()
    if speech_timeout.lower() == "auto":
        silence = SPEECH_AUTO_MS
    elif speech_timeout:
        silence = c.seconds_to_ms(ctx, el, shown, "speechTimeout", speech_timeout, timeout, 0.001)
    else:
        silence = timeout  # Twilio: speechTimeout defaults to timeout
    hints = tuple(h.strip() for h in (a.get("hints") or "").split(",") if h.strip())
    return Recognize, (a.get("speechModel", "").strip() or "default", timeout, silence,
                       a.get("language", LANGUAGE).strip() or LANGUAGE, 1, None, None), (
                  hints, "dtmf" in modes, num if "dtmf" in modes else 0, finish if "dtmf" in modes else "",
                  action, method, on_empty, c.url_attr(ctx, el, shown, a, "partialResultCallback"))


_RECORD_ACCEPTED = ("action", "method", "timeout", "finishOnKey", "maxLength", "playBeep", "trim",
                    "recordingStatusCallback", "recordingStatusCallbackMethod", "recordingStatusCallbackEvent",
                    "transcribe", "transcribeCallback")
_RECORD_REFUSED = {"recordingChannels": "a `Record` has one party; it is always mono"}


def _trim(ctx: c.Ctx, el: Any, shown: str, a: dict[str, str]) -> None:
    value = a.get("trim", "").strip()
    if value == "trim-silence":
        ctx.error(el, f"`{shown}` attribute `trim=\"trim-silence\"` is not supported: recordings are kept as "
                      "recorded (write trim=\"do-not-trim\" or leave it out)")
    elif value and value != "do-not-trim":
        ctx.error(el, f"`{shown}` attribute `trim` must be trim-silence or do-not-trim, not \"{a['trim']}\"")


def _record(ctx: c.Ctx, el: Any, shown: str) -> Record:
    if el.text is not None or len(el):
        if _leaf(ctx, el, shown):
            ctx.error(el, "`Record` takes no text")
    record = _new(Record)  # as the Gather's instruction in _gather
    (record.name, record.format, record.silence_ms, record.max_duration_ms, record.finish_on_key, record.play_beep,
     record.action, record.method, record.status_callback, record.status_callback_method, record.transcribe,
     record.transcribe_callback) = _verb_settings(ctx, el, shown, _record_settings)
    record.session = False
    record.line = el.sourceline
    return record


def _record_settings(ctx: c.Ctx, el: Any, shown: str) -> tuple:
    a = c.checked_attrs(ctx, el, shown, _RECORD_ACCEPTED, _RECORD_REFUSED, P)
    _trim(ctx, el, shown, a)
    events = set((a.get("recordingStatusCallbackEvent") or "completed").replace(",", " ").split())
    if events - {"completed"}:
        ctx.error(el, "`Record` attribute `recordingStatusCallbackEvent` is not supported beyond \"completed\": "
                      "the recording is reported once, when its file is complete")
    maxlen = c.seconds_attr(ctx, el, shown, a, "maxLength", RECORD_MAX_S, 1)
    silence = c.seconds_attr(ctx, el, shown, a, "timeout", RECORD_TIMEOUT_S)
    transcribe = c.bool_attr(ctx, el, shown, a, "transcribe", False)
    callback = c.url_attr(ctx, el, shown, a, "transcribeCallback")
    return (None, "wav", silence or maxlen, maxlen, c.keys_attr(ctx, el, shown, a, "finishOnKey", ANY_KEY),
            c.bool_attr(ctx, el, shown, a, "playBeep", True), c.url_attr(ctx, el, shown, a, "action"),
            c.method_attr(ctx, el, shown, a), c.url_attr(ctx, el, shown, a, "recordingStatusCallback"),
            c.method_attr(ctx, el, shown, a, "recordingStatusCallbackMethod"),
            transcribe or callback is not None, callback)


# --- connecting ----------------------------------------------------------------------------

_DIAL_ACCEPTED = ("action", "method", "timeout", "hangupOnStar", "timeLimit", "callerId", "record", "trim",
                  "answerOnBridge")
_DIAL_REFUSED = {"recordingStatusCallback": "a bridged call's recording is reported in the `action` request "
                                            "(RecordingUrl) and the call's CDR",
                 "recordingStatusCallbackMethod": "see recordingStatusCallback",
                 "recordingStatusCallbackEvent": "see recordingStatusCallback",
                 "recordingTrack": "the recording always holds both parties",
                 "ringTone": "the caller hears the switch's ringback",
                 "referUrl": "SIP REFER is not supported", "referMethod": "SIP REFER is not supported",
                 "sequential": "numbers are rung at the same time, as Twilio does by default",
                 "events": "per-leg status callbacks are not sent"}
_NUMBER_REFUSED = {"url": _TWIML_URL, "method": _TWIML_URL, "statusCallback": _STATUS_CB,
                   "statusCallbackEvent": _STATUS_CB, "statusCallbackMethod": _STATUS_CB,
                   "byoc": "calls leave through the configured gateway", "machineDetection": "use the call's AMD",
                   "amdStatusCallback": "use the call's AMD"}
_SIP_REFUSED = dict(_NUMBER_REFUSED, username="SIP credentials belong in the switch's gateway configuration",
                    password="SIP credentials belong in the switch's gateway configuration")
_CONF_ACCEPTED = ("muted", "beep", "startConferenceOnEnter", "endConferenceOnExit", "record", "trim", "waitUrl",
                  "waitMethod")
_CONF_REFUSED = {"maxParticipants": "rooms have no size limit", "statusCallback": _STATUS_CB,
                 "statusCallbackEvent": _STATUS_CB, "statusCallbackMethod": _STATUS_CB,
                 "recordingStatusCallback": "the room's recording is reported in the call's CDR",
                 "recordingStatusCallbackMethod": "see recordingStatusCallback",
                 "recordingStatusCallbackEvent": "see recordingStatusCallback",
                 "region": "rooms run on this switch", "coach": "coaching is not supported",
                 "jitterBufferSize": "the switch's jitter buffer is configured on the switch",
                 "participantLabel": "participant labels are not kept",
                 "eventCallbackUrl": _STATUS_CB}


def _dial_settings(ctx: c.Ctx, el: Any, shown: str) -> tuple:
    a = c.checked_attrs(ctx, el, shown, _DIAL_ACCEPTED, _DIAL_REFUSED, P)
    _trim(ctx, el, shown, a)
    if "answerOnBridge" in a and c.as_bool(ctx, el, shown, "answerOnBridge", a["answerOnBridge"], False):
        ctx.error(el, "`Dial` attribute `answerOnBridge=\"true\"` is not supported: the call is answered before "
                      "its first verb runs")
    rec = DIAL_RECORD.get((a.get("record") or "do-not-record").strip())
    if "record" in a and a["record"].strip() not in DIAL_RECORD:
        ctx.error(el, f"`Dial` attribute `record` must be one of {', '.join(DIAL_RECORD)}, not \"{a['record']}\"")
    caller_id = a.get("callerId", "").strip() or None
    if caller_id and caller_id.lower().startswith("client:"):
        caller_id = None
    return (rec, caller_id, c.url_attr(ctx, el, shown, a, "action"), c.method_attr(ctx, el, shown, a),
            c.seconds_attr(ctx, el, shown, a, "timeLimit", DIAL_TIME_LIMIT_S, 0.001),
            c.seconds_attr(ctx, el, shown, a, "timeout", DIAL_TIMEOUT_S, 0.001),
            c.bool_attr(ctx, el, shown, a, "hangupOnStar", False))


def _leg_settings(ctx: c.Ctx, el: Any, shown: str) -> tuple:
    a = c.checked_attrs(ctx, el, shown, ("sendDigits",), _SIP_REFUSED if shown == "Sip" else _NUMBER_REFUSED, P)
    return (_send_digits(ctx, el, a),)


def _dial(ctx: c.Ctx, el: Any, shown: str) -> Dial | Conference | DialQueue:
    rec, caller_id, action, method, limit, timeout, hangup_on_star = _verb_settings(ctx, el, shown, _dial_settings)
    numbers: list[str] = []
    sips: list[str] = []
    clients: list[str] = []
    digits = ""
    others: list[tuple[str, Any]] = []
    for child in el[:]:
        name = child.tag
        if name.__class__ is not str:
            continue
        if name[0] == "{":
            name = name.split("}", 1)[1]
        if name == "Number" or name == "Sip":
            if len(child):  # _leaf inlined: a Dial's legs are most of its elements
                c.no_children(ctx, child, name)
            leg = child.text
            leg = leg.strip() if leg else ""
            if name == "Number":
                body = leg[1:] if leg[:1] == "+" else leg
                # The usual number (ASCII digits after an optional +) needs no further check.
                numbers.append(leg if body.isdigit() and body.isascii() else c.as_number(ctx, child, name, leg))
            else:
                if not leg.lower().startswith(("sip:", "sips:")) or " " in leg:
                    ctx.error(child, f"`Sip` needs a SIP URI such as sip:alice@example.com, not \"{leg}\"")
                sips.append(leg)
            if child.attrib:  # a leg without attributes sends no digits and has nothing to check
                digits = _verb_settings(ctx, child, name, _leg_settings)[0] or digits
        elif name == "Client":
            c.checked_attrs(ctx, child, name, (), dict(_NUMBER_REFUSED), P)
            ident = c.text_of(child)
            for sub in child:
                sub_name = c.local_name(sub.tag)
                if sub_name == "Identity":
                    ident = c.text_of(sub)
                elif sub_name == "Parameter":
                    ctx.error(sub, "`Client` `Parameter` is not supported: a registered phone gets no custom "
                                   "parameters")
                elif sub_name:
                    ctx.error(sub, f"`Client` may not contain `{sub_name}`")
            if not ident or not ident.replace("_", "").replace("-", "").replace(".", "").isalnum():
                ctx.error(child, f"`Client` needs the name of a user registered on the switch, not \"{ident}\"")
            clients.append(ident)
        elif name in ("Conference", "Queue"):
            others.append((name, child))
        elif name in ("Sim", "Application", "WhatsApp"):
            ctx.error(child, f"`Dial` `{name}` is not supported: it needs Twilio's cloud")
        else:
            _unknown_verb(ctx, child, name, "Dial")
    body = el.text
    if body and body.strip():
        body = body.strip()
        if numbers or sips or clients or others:
            ctx.error(el, "`Dial` has both a number as text and nested nouns; use one")
        else:
            numbers.append(c.as_number(ctx, el, shown, body))
    if others:
        name, child = others[0]
        if numbers or sips or clients or len(others) > 1:
            ctx.error(el, f"`Dial` may hold one `{name}` and nothing else")
        if name == "Queue":
            c.checked_attrs(ctx, child, name, (), {"url": _TWIML_URL, "method": _TWIML_URL,
                                                   "reservationSid": "TaskRouter is Twilio's cloud",
                                                   "postWorkActivitySid": "TaskRouter is Twilio's cloud"}, P)
            queue = _leaf(ctx, child, name)
            _queue_name(ctx, child, queue)
            return DialQueue(queue, action, method, line=el.sourceline)
        return _conference(ctx, child, caller_id, limit, action, method, el.sourceline)
    if not (numbers or sips or clients):
        ctx.error(el, "`Dial` needs a number, `Sip`, `Client`, `Conference` or `Queue`")
    dial = _new(Dial)  # as the Gather's instruction in _gather
    dial.numbers, dial.caller_id, dial.record, dial.time_limit_ms, dial.timeout_ms = (
        tuple(numbers), caller_id, rec is not None, limit, timeout)
    dial.moh, dial.prompt_to_called, dial.action, dial.method = "ring", None, action, method
    dial.sip, dial.clients, dial.send_digits, dial.hangup_on_star, dial.ring_all = (
        tuple(sips), tuple(clients), digits, hangup_on_star, True)
    dial.record_from, dial.record_dual = rec if rec else ("answer", False)
    dial.line = el.sourceline
    return dial


def _send_digits(ctx: c.Ctx, el: Any, a: dict[str, str]) -> str:
    digits = a.get("sendDigits", "").strip()
    if digits and digits.strip(_SEND_KEYS):
        ctx.error(el, f"`sendDigits` may hold only 0-9, *, # and w (a half-second wait), not \"{digits}\"")
    return digits


def _queue_name(ctx: c.Ctx, el: Any, queue: str) -> None:
    if not queue or len(queue) > 64 or not queue.replace("_", "").replace("-", "").replace(".", "").isalnum():
        ctx.error(el, f"a queue name must be 1-64 letters, digits, '.', '-' or '_', not \"{queue}\"")


def _conference(ctx: c.Ctx, el: Any, caller_id: str | None, limit: int, action: str | None, method: str,
                line: int | None) -> Conference:
    a = c.checked_attrs(ctx, el, "Conference", _CONF_ACCEPTED, _CONF_REFUSED, P)
    _trim(ctx, el, "Conference", a)
    room = _leaf(ctx, el, "Conference")
    if not room:
        ctx.error(el, "`Conference` needs a room name")
    if a.get("waitUrl", "").strip():
        ctx.error(el, "`Conference` attribute `waitUrl` is not supported: callers waiting for the room hear the "
                      "switch's music on hold (leave waitUrl out)")
    if not c.bool_attr(ctx, el, "Conference", a, "startConferenceOnEnter", True):
        ctx.error(el, "`Conference` attribute `startConferenceOnEnter=\"false\"` is not supported: rooms start "
                      "when the first caller enters")
    beep = (a.get("beep") or "true").strip()
    if beep not in ("true", "false", "onEnter", "onExit"):
        ctx.error(el, f"`Conference` attribute `beep` must be true, false, onEnter or onExit, not \"{beep}\"")
    record = (a.get("record") or "do-not-record").strip()
    if record not in ("do-not-record", "record-from-start"):
        ctx.error(el, f"`Conference` attribute `record` must be do-not-record or record-from-start, not \"{record}\"")
    return Conference(room, caller_id, record == "record-from-start",
                      -1 if limit == DIAL_TIME_LIMIT_S * 1000 else limit,
                      c.bool_attr(ctx, el, "Conference", a, "muted", False),
                      c.bool_attr(ctx, el, "Conference", a, "endConferenceOnExit", False), action, method, line=line)


def _enqueue(ctx: c.Ctx, el: Any, shown: str) -> Enqueue:
    if len(el):
        for child in el:
            name = c.local_name(child.tag)
            if name == "Task":
                ctx.error(child, "`Enqueue` `Task` is not supported: TaskRouter is Twilio's cloud")
            elif name:
                ctx.error(child, f"`Enqueue` may not contain `{name}`")
    queue = el.text
    queue = queue.strip() if queue else ""
    _queue_name(ctx, el, queue)
    enqueue = _new(Enqueue)  # as the Gather's instruction in _gather
    enqueue.queue = queue
    enqueue.hold_music, enqueue.action, enqueue.method = _verb_settings(ctx, el, shown, _enqueue_settings)
    enqueue.line = el.sourceline
    return enqueue


def _enqueue_settings(ctx: c.Ctx, el: Any, shown: str) -> tuple:
    a = c.checked_attrs(ctx, el, shown, ("action", "method", "waitUrl", "waitUrlMethod"),
                        {"workflowSid": "TaskRouter is Twilio's cloud; queues here are FreeSWITCH fifos",
                         "maxQueueSize": "queues have no size limit"}, P)
    music = c.url_attr(ctx, el, shown, a, "waitUrl")
    if music and not music.lower().split("?", 1)[0].endswith(AUDIO_SUFFIXES):
        ctx.error(el, f"`Enqueue` attribute `waitUrl` must be an audio file ({', '.join(AUDIO_SUFFIXES)}): a "
                      f"TwiML wait document is not supported, not \"{music}\"")
    c.method_attr(ctx, el, shown, a, "waitUrlMethod")
    return music, c.url_attr(ctx, el, shown, a, "action"), c.method_attr(ctx, el, shown, a)


# --- control -------------------------------------------------------------------------------


def _hangup(ctx: c.Ctx, el: Any, shown: str) -> Hangup:
    c.checked_attrs(ctx, el, shown, (), {}, P)
    if _leaf(ctx, el, shown):
        ctx.error(el, "`Hangup` takes no text")
    return Hangup(None, line=el.sourceline)


def _redirect(ctx: c.Ctx, el: Any, shown: str) -> GoTo:
    a = c.checked_attrs(ctx, el, shown, ("method",), {}, P)
    return GoTo(c.as_url(ctx, el, shown, _leaf(ctx, el, shown), "the URL of your next document"),
                c.method_attr(ctx, el, shown, a), line=el.sourceline)


def _reject(ctx: c.Ctx, el: Any, shown: str) -> Reject:
    a = c.checked_attrs(ctx, el, shown, ("reason",), {}, P)
    c.no_children(ctx, el, shown)
    reason = c.as_choice(ctx, el, shown, "reason", a["reason"], ("rejected", "busy"), "rejected") \
        if "reason" in a else "rejected"
    return Reject(reason, line=el.sourceline)


def _sms(ctx: c.Ctx, el: Any, shown: str) -> SendSms:
    a = c.checked_attrs(ctx, el, shown, ("to", "from"), _SMS_REFUSED, P)
    return c.send_sms(ctx, el, shown, shown, a)


#: An app's SMS goes through the platform's SMS path (sms/) from the call's own number; its delivery is
#: not reported back to the app.
_SMS_REFUSED = {name: "the message's delivery is not reported to the app" for name in
                ("action", "method", "statusCallback")}


#: Builders of the Response's verbs but Say and Pause (built by :func:`_verbs`).
_BUILDERS = {
    "Play": _play, "Gather": _gather, "Record": _record, "Dial": _dial,
    "Enqueue": _enqueue, "Hangup": _hangup, "Redirect": _redirect, "Reject": _reject, "Sms": _sms, "Message": _sms,
}

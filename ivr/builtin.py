"""The platform's own apps, built in the same instruction model as customers' documents.

An announcement (Konnect ``media_url``, campaign type 0), a spoken OTP (seed
002 ``outbound_call``) and click2call's agent-then-customer dial are not
special cases in the runtime: :func:`builtin_app` turns the call spec into a
:class:`kml.App` and the one interpreter runs it, with the same events, facts
and hangup handling as any fetched document.
"""

from __future__ import annotations

import kml
from ivr.call_spec import CallSpec

#: Silence between repetitions of an announcement or OTP, so they do not run together.
REPEAT_GAP_MS = 700


def has_builtin(spec: CallSpec) -> bool:
    """True when the spec names a built-in app instead of an app URL."""
    return bool(spec.announcement or spec.otp or spec.click2call)


def builtin_app(spec: CallSpec) -> kml.App:
    """The instructions of the spec's built-in app; ValueError when it names none or is incomplete."""
    if spec.announcement is not None:
        return _announcement(spec)
    if spec.otp is not None:
        return _otp(spec)
    if spec.click2call is not None:
        return _click2call(spec)
    raise ValueError("the call spec names no built-in app")


def _repeat(prompt: kml.Instruction, times: int) -> list[kml.Instruction]:
    out: list[kml.Instruction] = []
    for i in range(max(1, int(times or 1))):
        if i:
            out.append(kml.Pause(length_ms=REPEAT_GAP_MS))
        out.append(prompt)
    return out


def _announcement(spec: CallSpec) -> kml.App:
    ann = spec.announcement
    if ann.media_url:
        prompt: kml.Instruction = kml.Play(url=ann.media_url)
    elif ann.text:
        values = {k: "" if v is None else str(v) for k, v in (spec.fields or {}).items()}
        prompt = kml.Speak(text=kml.substitute(ann.text, values), voice=ann.voice, lang=ann.language)
    else:
        raise ValueError("announcement has neither media_url nor text")
    return kml.App(kml.KML, tuple(_repeat(prompt, ann.repeat) + [kml.Hangup()]))


def _otp(spec: CallSpec) -> kml.App:
    otp = spec.otp
    if not otp.text:
        raise ValueError("OTP call has no text to speak")
    prompt = kml.Speak(text=otp.text, voice=otp.voice, rate=otp.rate, pitch=otp.pitch, volume=otp.volume,
                       lang=otp.language_code, engine=otp.tts_engine_type)
    return kml.App(kml.KML, tuple(_repeat(prompt, otp.repeat) + [kml.Hangup()]))


def _click2call(spec: CallSpec) -> kml.App:
    c2c = spec.click2call
    if not c2c.destination:
        raise ValueError("click2call has no destination")
    dial = kml.Dial(numbers=(c2c.destination,), caller_id=c2c.caller_id or spec.caller_id,
                    # A transcript needs a recording: transcript on records the call even with recording off.
                    record=(c2c.recording_option or "off") != "off" or getattr(c2c, "transcript", "off") == "on",
                    timeout_ms=int(c2c.timeout or 45) * 1000,
                    moh="ring")
    return kml.App(kml.KML, (dial, kml.Hangup()))

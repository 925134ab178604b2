"""Input: what the caller says or presses — collect digits (menus) and recognize (speech).

The :class:`ivr.execute.Executor`'s input instructions, as a mixin on the executor's state; the
prompts they play come from :class:`ivr.exec_prompts.PromptInstructions`.
"""

from __future__ import annotations

import math
import os
import re

import kml
from ivr.exec_base import _DTMF_KEYS, ApplicationFailed, InstructionError, _remove, _shorten, media_arg

#: Recognize: seconds an utterance may last beyond the instruction's timeout; record's energy threshold.
UTTERANCE_LIMIT_S = 30
SILENCE_THRESHOLD = 200


class InputInstructions:
    """Collect digits (``play_and_get_digits``) and recognize (``record`` with silence detection, then the speech pool)."""

    def _do_collect_digits(self, c: kml.CollectDigits) -> dict:
        terminators = _DTMF_KEYS.sub("", c.finish_on_key or "") or "none"
        var = "vaani_digits"
        timeout = max(1, int(c.timeout_ms))
        self._last_prompt = self._prompt_file(c.prompts)
        # Plivo GetDigits: retries, validDigits, invalidDigitsSound, digitTimeout (KooKoo/KML: 1, all, none, timeout).
        valid = _DTMF_KEYS.sub("", c.valid_digits or "")
        regex = f"[{re.escape(valid)}]+" if valid else "[0-9*#]+"
        invalid = media_arg(c.invalid_prompt) if c.invalid_prompt else "silence_stream://1"
        between = max(1, int(c.digit_timeout_ms if c.digit_timeout_ms is not None else timeout))
        arg = (f"1 {max(1, int(c.max_digits))} {max(1, int(c.tries))} {timeout} {terminators} '{self._last_prompt}' "
               f"{invalid} {var} {regex} {between}")
        done = self._checked("play_and_get_digits", arg)
        if not self.session.hung_up and not done.headers.get("variable_read_result"):
            # switch_ivr_read sets read_result (success, timeout or failure) whenever it got as far as
            # collecting; it stays unset only when the prompt could not be played. Reporting an empty
            # GotDTMF here would have the app serve the same silent menu again and again.
            raise ApplicationFailed(f"play_and_get_digits: the menu prompt could not be played "
                                    f"({_shorten(self._last_prompt)}); see FreeSWITCH's log")
        digits = _DTMF_KEYS.sub("", done.headers.get("variable_" + var, "") or "")
        self.heard(f"caller pressed {digits!r}" if digits else "caller pressed nothing")
        return {"data": digits, "key_pressed": digits, "digits": digits,
                "terminator": _DTMF_KEYS.sub("", done.headers.get("variable_read_terminator_used") or "")}

    def _do_recognize(self, r: kml.Recognize) -> dict:
        """Listen to the caller and recognise what they said (KooKoo recognize, TwiML Gather speech, Plivo GetInput).

        The prompts play (a key ends them when ``dtmf`` is set), then FreeSWITCH's ``record`` with silence
        detection takes the utterance into ``RECORDINGS_DIR/<uuid>-speech<n>.wav``: it ends after
        ``silence_ms`` of silence (also when the caller never starts: record counts silence from its
        start), at ``timeout_ms`` + :data:`UTTERANCE_LIMIT_S`, or on a key when ``dtmf`` is set. The file
        is recognised by the runtime's speech pool (worker subprocesses, :mod:`ivr.speech.pool`) while the
        call's greenlet waits cooperatively, with the instruction's ``hints``, ``grammar`` and ``lang``.

        The result (the contract with the dialects' parameter builders, kml.model.Recognize):
        ``speech_result`` (the text, "" when nothing was understood), ``confidence`` (float 0..1),
        ``digits`` (when the caller pressed keys instead: then no speech is recognised), KooKoo's ``data``
        (the text, or the digits) and ``recognition`` ({text, confidence, digits or engine, audio_seconds,
        seconds}: what the engine reported, for callers that want more than the app gets). The utterance
        file is deleted once recognised (it is input, not a recording the app asked for).
        """
        speech = self.config.speech
        dtmf = bool(getattr(r, "dtmf", False))
        if speech is None and not dtmf:
            raise InstructionError("<recognize>: no speech engine is configured (SPEECH_ENGINE)")
        keys = "0123456789*#" if dtmf else "none"
        self.session.set_var("playback_terminators", keys)
        pressed = ""
        if r.prompts:
            done = self._checked("playback", self._prompt_file(r.prompts))
            pressed = _DTMF_KEYS.sub("", done.headers.get("variable_playback_terminator_used") or "")
        path = None
        if not pressed and not self.session.hung_up:
            self._recordings += 1
            path = os.path.join(self.config.recordings_dir, f"{self.session.uuid}-speech{self._recordings}.wav")
            limit = max(1, math.ceil(r.timeout_ms / 1000)) + UTTERANCE_LIMIT_S
            hits = max(1, math.ceil(r.silence_ms / 1000))
            self.heard(f"listening for speech (up to {limit}s, {hits}s of silence ends it)")
            done = self.session.execute("record", f"{path} {limit} {SILENCE_THRESHOLD} {hits}")
            pressed = _DTMF_KEYS.sub("", done.headers.get("variable_playback_terminator_used") or "") if dtmf else ""
        if pressed:
            digits = self._more_digits(r, pressed)
            _remove(path)
            self.heard(f"caller pressed {digits!r}")
            return {"speech_result": "", "confidence": 0.0, "digits": digits, "data": digits,
                    "key_pressed": digits,
                    "recognition": {"text": "", "confidence": 0.0, "digits": digits}}
        if path is None or self.session.hung_up or speech is None:
            _remove(path)
            return {"speech_result": "", "confidence": 0.0, "digits": "", "data": ""}
        from ivr.speech import SpeechError

        grammar = r.grammar
        if grammar and grammar.strip().lower() in ("digits", "number") and r.length > 1:
            grammar = f"digits:{r.length}"  # KooKoo's length: that many digits are expected
        try:
            res = speech.recognize(path, tuple(getattr(r, "hints", ()) or ()), grammar, r.lang)
        except SpeechError as exc:
            _remove(path)
            raise InstructionError(f"<recognize>: {exc}") from None
        _remove(path)
        self.heard(f"caller said {res.text!r} (confidence {res.confidence:.2f})" if res.text
                   else "caller said nothing that was understood")
        if res.text and r.success_file and not self.session.hung_up:
            # KooKoo's success_file: played once something was recognised.
            self.heard(f"audio: {r.success_file}")
            self._checked("playback", media_arg(r.success_file))
        return {"speech_result": res.text, "confidence": res.confidence, "digits": "", "data": res.text,
                "recognition": {"text": res.text, "confidence": res.confidence, "engine": res.engine,
                                "audio_seconds": res.audio_seconds, "seconds": res.seconds}}

    def _more_digits(self, r: kml.Recognize, first: str) -> str:
        """The caller answered with keys: the first ended the listening; collect the rest as a menu would."""
        finish = _DTMF_KEYS.sub("", getattr(r, "finish_on_key", "") or "")
        if first in finish:
            return ""
        wanted = int(getattr(r, "max_digits", 0) or 0)
        more = (wanted - 1) if wanted else 31
        if more <= 0 or self.session.hung_up:
            return first
        timeout = max(1000, int(r.timeout_ms))
        var = "vaani_digits"
        done = self.session.execute(
            "play_and_get_digits",
            f"0 {more} 1 {timeout} {finish or 'none'} silence_stream://1 silence_stream://1 {var} [0-9*#]* {timeout}")
        return first + _DTMF_KEYS.sub("", done.headers.get("variable_" + var, "") or "")

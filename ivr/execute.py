"""Each instruction of the model carried out with FreeSWITCH dialplan applications.

:class:`Executor` turns one :mod:`kml.model` instruction into ``execute``
commands on the call's :class:`freeswitch.outbound.OutboundSession` and returns
what the instruction produced, as the parameters both dialects report:
KooKoo's ``data``/``duration``/``status``/``message`` and KML's
``key_pressed``/``media_url``/``record_duration``/``dial_status``/... .

Every value from a document or a contact that goes into an application
argument passes through :func:`kml.escape_fs_arg` (text) or a strict pattern
(numbers, room names, URLs), so an app cannot inject channel variables,
extra arguments or ESL headers.
"""

from __future__ import annotations

import math
import os
import re
import uuid as _uuid
from dataclasses import dataclass, field
from typing import Callable

import kml
from freeswitch.outbound import OutboundSession
from freeswitch.wire import Event
from ivr import dtmf, queueing, tts
from ivr.number_format import dial_number

_NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$")
_ROOM = re.compile(r"[^A-Za-z0-9_.-]")
_URL_BAD = re.compile(r"[\s'\"{}\[\]<>|^\\!]")
_DTMF_KEYS = re.compile(r"[^0-9*#]")
_SIP_URI = re.compile(r"^sips?:[A-Za-z0-9_.+~!$&*=;:@%-]{1,200}$")
_CLIENT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

#: What the caller hears while a dial rings (model ``moh``): KooKoo's default music, a ring tone, or nothing.
RINGBACK = {"default": "local_stream://moh", "ring": "%(2000,4000,440,480)", "normal": "%(2000,4000,440,480)"}
BEEP = "tone_stream://%(500,0,800)"
#: Recognize: seconds an utterance may last beyond the instruction's timeout; record's energy threshold.
UTTERANCE_LIMIT_S = 30
SILENCE_THRESHOLD = 200
#: Reasons of <hangup>/<reject> → FreeSWITCH hangup causes.
HANGUP_CAUSES = {"busy": "USER_BUSY", "rejected": "CALL_REJECTED", "reject": "CALL_REJECTED",
                 "no-answer": "NO_ANSWER", None: "NORMAL_CLEARING", "": "NORMAL_CLEARING"}
#: FreeSWITCH DIALSTATUS / originate dispositions → KooKoo's not-answered message.
_DIAL_MESSAGES = {"NOANSWER": "no answer", "NO_ANSWER": "no answer", "BUSY": "busy", "USER_BUSY": "busy",
                  "CALL_REJECTED": "rejected", "UNALLOCATED_NUMBER": "invalid number",
                  "INVALID_NUMBER_FORMAT": "invalid number", "NORMAL_TEMPORARY_FAILURE": "network failure",
                  "ORIGINATOR_CANCEL": "caller hung up", "RECOVERY_ON_TIMER_EXPIRE": "no answer"}


class InstructionError(Exception):
    """An instruction that cannot be carried out (bad number, unsupported verb); the call records it."""


class ApplicationFailed(InstructionError):
    """FreeSWITCH ran the application and reported that it failed (a prompt that could not be played)."""


#: ``Application-Response`` values with which mod_dptools' applications report a failure
#: (``current_application_response``; playback and its kin).
FAILED_RESPONSES = frozenset({"FILE NOT FOUND", "PLAYBACK ERROR", "UNKNOWN ERROR"})


def application_failure(done: Event) -> str | None:
    """What went wrong, by the CHANNEL_EXECUTE_COMPLETE of an application, or None when nothing did."""
    response = (done.headers.get("Application-Response") or "").strip()
    if response in FAILED_RESPONSES or response.startswith("-ERR"):
        return response
    return None


@dataclass
class ExecConfig:
    """What the executor needs from configuration."""

    tts_engine: str = "flite"
    voice_map: dict[str, str] = field(default_factory=lambda: dict(tts.DEFAULT_VOICE_MAP))
    recordings_dir: str = "recordings"
    public_url: str = "http://127.0.0.1:8080"
    dial_endpoint: str = "sofia/gateway/vaani_trunk/{number}"
    default_caller_id: str = ""
    #: How numbers and the caller id are written in <dial> legs (DIALER_NUMBER_FORMAT; ivr/number_format.py).
    number_format: str = "e164"
    #: The carrier's country (DEFAULT_REGION): reads numbers written without a country code.
    region: str = "IN"
    #: How a SIP URI of TwiML ``Sip`` / Plivo ``User`` is dialled, and a user registered on the switch (``Client``).
    sip_endpoint: str = "sofia/vaani/{uri}"
    client_endpoint: str = "user/{name}"
    #: Where Recognize sends utterances (an ivr.speech.pool.SpeechPool); None: no speech engine.
    speech: object = None


def event_time(event: Event) -> float:
    """An event's FreeSWITCH timestamp in seconds (``Event-Date-Timestamp`` is in microseconds)."""
    try:
        return int(event.headers.get("Event-Date-Timestamp", "0")) / 1e6
    except ValueError:
        return 0.0


def media_arg(url: str) -> str:
    """The ``playback`` argument for an audio URL: http(s) through mod_http_cache, local files as they are."""
    url = (url or "").strip()
    if not url or _URL_BAD.search(url):
        raise InstructionError(f"unplayable audio URL {url!r}")
    if url.lower().startswith(("http://", "https://")):
        return "http_cache://" + url
    if url.startswith(("tone_stream://", "silence_stream://", "local_stream://", "/")):
        return url
    raise InstructionError(f"unsupported audio URL {url!r} (http, https or an absolute path)")


class Executor:
    """Runs instructions on one call. ``heard`` is told what the caller hears (for transcripts)."""

    def __init__(self, session: OutboundSession, config: ExecConfig, *, record_mode: str = "both",
                 heard: Callable[[str], None] | None = None):
        self.session = session
        self.config = config
        self.record_mode = record_mode
        self.heard = heard or (lambda text: None)
        self._bridged_at: float | None = None
        self._recordings = 0
        self._started: dict[str, float] = {}
        self._tts_vars: tuple[str, str] | None = None
        self._delimiter_set = False
        self._last_prompt = ""
        #: Sends an app's SMS (:class:`SmsEnqueuer`); None: <sendsms> is recorded as an app error.
        self.sms: Callable[[str, str], str | None] | None = None
        self._answer_recording = ""
        session.listeners.append(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.name == "CHANNEL_BRIDGE":
            self._bridged_at = event_time(event)
        elif event.name == "CHANNEL_EXECUTE":
            self._started[event.headers.get("Application", "")] = event_time(event)

    # -- dispatch ----------------------------------------------------------------------

    def run(self, instr: kml.Instruction) -> dict[str, str]:
        """Carry out ``instr``; returns what it produced (empty for prompts)."""
        handler = getattr(self, "_do_" + instr.kind, None)
        if handler is None:
            raise InstructionError(f"<{instr.kind}> is not supported by this platform")
        return handler(instr) or {}

    # -- prompts ------------------------------------------------------------------------

    def _speak_app(self, s: kml.Speak) -> tuple[str, str]:
        if s.say_as:
            self.heard(f"say-as {s.say_as}: {s.text}")
            return "say", tts.say_arg(s.text, s.say_as, s.lang)
        self.heard(f"speech ({s.voice or tts.DEFAULT_VOICE}): {s.text}")
        return "speak", tts.speak_arg(s.text, engine=self.config.tts_engine, voice_map=self.config.voice_map,
                                      voice=s.voice, rate=s.rate, pitch=s.pitch, volume=s.volume, speed=s.speed)

    def _do_speak(self, s: kml.Speak) -> dict:
        app, arg = self._speak_app(s)
        for _ in range(max(1, s.loop)):
            self.session.execute(app, arg)

    def _do_play(self, p: kml.Play) -> dict:
        arg = media_arg(p.url)
        self.heard(f"audio: {p.url}")
        for _ in range(max(1, p.loop)):
            self._checked("playback", arg)

    def _checked(self, app: str, arg: str) -> Event:
        """``execute`` an application; raise ApplicationFailed when FreeSWITCH reports that it failed."""
        done = self.session.execute(app, arg)
        failure = application_failure(done)
        if failure is not None:
            raise ApplicationFailed(f"{app} {_shorten(arg)}: {failure}")
        return done

    def _do_pause(self, p: kml.Pause) -> dict:
        self.heard(f"silence {p.length_ms} ms")
        self.session.execute("sleep", str(max(0, int(p.length_ms))))

    def _prompt_file(self, prompts) -> str:
        """A menu's prompts as one ``play_and_get_digits`` file argument, parts joined by ``!``.

        FreeSWITCH speaks ``say:<text>`` only where switch_ivr_play_file itself walks the
        argument: inside ``file_string://`` each part is opened as a file and ``say:`` parts fail
        (``Invalid file format``), so the menu would be silent. With the channel variable
        ``playback_delimiter`` set to ``!``, switch_ivr_play_file splits the argument and handles
        each part (``say:`` with the channel's ``tts_engine``/``tts_voice``), and a key pressed
        during any part ends them all. ``playback_sleep_val=0``: no 250 ms gap between parts.
        """
        parts = []
        voice = None
        for p in prompts:
            if isinstance(p, kml.Speak):
                if voice is None:
                    voice = tts.engine_voice(p.voice, self.config.voice_map)
                self.heard(f"speech ({p.voice or tts.DEFAULT_VOICE}): {p.text}")
                text = tts.spoken_text(p.text, engine=self.config.tts_engine, rate=p.rate, pitch=p.pitch,
                                       volume=p.volume, speed=p.speed)
                # '!' separates the parts and the whole argument is single-quoted.
                parts.extend(["say:" + text.replace("!", ".").replace("'", "\u2019")] * max(1, p.loop))
            elif isinstance(p, kml.Play):
                self.heard(f"audio: {p.url}")
                parts.extend([media_arg(p.url)] * max(1, p.loop))
            elif isinstance(p, kml.Pause):
                parts.append(f"silence_stream://{max(0, int(p.length_ms))}")
        if not parts:
            return "silence_stream://250"
        tts_vars = (self.config.tts_engine, voice) if voice else self._tts_vars
        # The channel keeps these: set them only when they change (one round trip saved per menu).
        if not self._delimiter_set or tts_vars != self._tts_vars:
            settings = ["playback_delimiter=!", "playback_sleep_val=0"]
            if tts_vars:
                settings += [f"tts_engine={tts_vars[0]}", f"tts_voice={tts_vars[1]}"]
            self.session.execute("multiset", " ".join(settings))
            self._delimiter_set = True
            self._tts_vars = tts_vars
        return "!".join(parts)

    # -- input ----------------------------------------------------------------------------

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

    def _recording_path(self, name: str | None, fmt: str) -> tuple[str, str]:
        self._recordings += 1
        fmt = fmt if fmt in ("wav", "mp3") else "wav"
        base = re.sub(r"[^A-Za-z0-9_-]", "_", name or "")[:64] or f"rec{self._recordings}"
        fname = f"{self.session.uuid}-{base}.{fmt}"
        path = os.path.join(self.config.recordings_dir, fname)
        url = f"{self.config.public_url.rstrip('/')}/recordings/{fname}"
        return path, url

    def _do_record(self, r: kml.Record) -> dict:
        path, url = self._recording_path(r.name, r.format)
        if r.session:
            # Plivo recordSession: the rest of the call, in the background; the document carries on.
            self.heard("recording the rest of the call")
            self.session.execute("record_session", path)
            # Its length is known only when the call ends (the CDR's media duration bounds it).
            return {"media_url": url, "record_duration": "",
                    "recording": {"name": os.path.basename(path), "url": url, "duration_ms": None}}
        terminators = _DTMF_KEYS.sub("", r.finish_on_key or "") or "none"
        self.session.set_var("playback_terminators", terminators)
        if r.play_beep:
            self.session.execute("playback", BEEP)
        limit = max(1, math.ceil(r.max_duration_ms / 1000))
        hits = max(1, math.ceil(r.silence_ms / 1000))
        self.heard(f"recording up to {limit}s")
        done = self.session.execute("record", f"{path} {limit} 200 {hits}")
        ms = _int(done.headers.get("variable_record_ms"))
        if ms is None:
            secs = _int(done.headers.get("variable_record_seconds")) or 0
            ms = secs * 1000
        seconds = str(round(ms / 1000))
        return {"data": url, "duration": seconds, "media_url": url, "record_duration": seconds,
                "terminator": _DTMF_KEYS.sub("", done.headers.get("variable_playback_terminator_used") or ""),
                "hung_up": self.session.hung_up,
                "recording": {"name": os.path.basename(path), "url": url, "duration_ms": ms}}

    # -- connecting ----------------------------------------------------------------------

    def _for_carrier(self, number: str) -> str:
        """A number as the carrier wants it (DIALER_NUMBER_FORMAT); an extension stays as written."""
        return dial_number(number, self.config.number_format, self.config.region)

    def _dial_string(self, d: kml.Dial) -> str:
        caller_id = d.caller_id or self.config.default_caller_id
        legs = []
        for number in d.numbers:
            number = (number or "").strip()
            if not _NUMBER.match(number):
                raise InstructionError(f"cannot dial {number!r}: not a phone number")
            legs.append(self.config.dial_endpoint.format(number=self._for_carrier(number)))
        for uri in d.sip:
            if not _SIP_URI.match(uri or ""):
                raise InstructionError(f"cannot dial {uri!r}: not a SIP URI")
            legs.append(self.config.sip_endpoint.format(uri=uri))
        for name in d.clients:
            if not _CLIENT.match(name or ""):
                raise InstructionError(f"cannot dial client {name!r}: not a user name")
            legs.append(self.config.client_endpoint.format(name=name))
        if not legs:
            raise InstructionError("<dial> has no number")
        variables = [f"call_timeout={max(1, d.timeout_ms // 1000)}", f"leg_timeout={max(1, d.timeout_ms // 1000)}"]
        if caller_id:
            if not _NUMBER.match(caller_id):
                raise InstructionError(f"bad caller id {caller_id!r}")
            variables.append(f"origination_caller_id_number={self._for_carrier(caller_id)}")
        # FreeSWITCH runs every variable named execute_on_answer* on the called leg when it answers.
        if d.time_limit_ms and d.time_limit_ms < 1000_000:
            variables.append(f"execute_on_answer_1='sched_hangup +{max(1, d.time_limit_ms // 1000)} ALLOTTED_TIMEOUT'")
        if d.prompt_to_called:
            variables.append(f"execute_on_answer_2='playback {media_arg(d.prompt_to_called)}'")
        if d.send_digits:
            try:
                variables.append(f"execute_on_answer_3='send_dtmf {dtmf.checked(d.send_digits)}'")
            except ValueError as exc:
                raise InstructionError(str(exc)) from None
        if d.record and d.record_from == "answer" and self._answer_recording:
            # TwiML record-from-answer: the called leg records the bridged call from its answer on.
            variables.append(f"RECORD_STEREO={'true' if d.record_dual else 'false'}")
            variables.append(f"execute_on_answer_4='record_session {self._answer_recording}'")
        # KooKoo/KML: numbers tried in order ('|': "on failure, try the next"); TwiML/Plivo ring them
        # all at once (','), the first to answer is bridged.
        return "{" + ",".join(variables) + "}" + ("," if d.ring_all else "|").join(legs)

    def _do_dial(self, d: kml.Dial) -> dict:
        self._answer_recording = ""
        if d.record and d.record_from == "answer":
            self._answer_recording, url = self._recording_path("dial", "wav")
        dial_string = self._dial_string(d)
        ringback = RINGBACK.get(d.moh, RINGBACK["default"])
        self.session.set_var("ringback", ringback)
        self.session.set_var("transfer_ringback", ringback)
        self.session.set_var("hangup_after_bridge", "false")
        url = ""
        if d.record and d.record_from == "answer":
            url = f"{self.config.public_url.rstrip('/')}/recordings/{os.path.basename(self._answer_recording)}"
        elif d.record:
            path, url = self._recording_path("dial", "wav")
            if self.record_mode == "agent":
                self.session.set_var("RECORD_READ_ONLY", "true")
            elif self.record_mode == "customer":
                self.session.set_var("RECORD_WRITE_ONLY", "true")
            else:
                self.session.set_var("RECORD_STEREO", "true" if d.record_dual else "false")
            self.session.execute("record_session", path)
        if d.hangup_on_star:
            # TwiML/Plivo hangupOnStar: the caller's * ends the bridge and the document carries on.
            self.session.set_var("bridge_terminate_key", "*")
        self.heard(f"dialling {', '.join(d.numbers)} ({d.moh} while ringing)")
        self._bridged_at = None
        done = self.session.execute("bridge", dial_string)
        status = (done.headers.get("variable_DIALSTATUS") or "").upper()
        cause = done.headers.get("variable_originate_disposition") or done.headers.get(
            "variable_bridge_hangup_cause") or status
        answered = status == "SUCCESS" or self._bridged_at is not None
        duration = 0
        if answered and self._bridged_at:
            duration = max(0, round(event_time(done) - self._bridged_at))
        if d.hangup_on_star and not self.session.hung_up:
            self.session.set_var("bridge_terminate_key", "")
        if d.record and d.record_from != "answer" and not self.session.hung_up:
            try:
                self.session.execute("stop_record_session", dial_path(url, self.config))
            except Exception:  # the recording stops with the call anyway
                pass
        message = "" if answered else _DIAL_MESSAGES.get(cause.upper(), cause.lower().replace("_", " "))
        self.heard(f"dial {'answered' if answered else 'not answered'}"
                   + (f" ({duration}s)" if answered else f": {message}"))
        result = {"data": url if answered else "", "status": "answered" if answered else "not_answered",
                  "duration": str(duration), "message": message,
                  "dial_status": "answered" if answered else "not_answered", "dial_duration": str(duration),
                  "media_url": url if answered else "", "dial_cause": "" if answered else cause.upper(),
                  "dial_uuid": done.headers.get("variable_bridge_uuid") or done.headers.get(
                      "variable_last_bridge_to") or "",
                  "dial": {"number": ",".join(d.numbers), "status": "answered" if answered else "not_answered",
                           "billsec": duration}}
        if d.record and answered:
            result["recording"] = {"name": url.rsplit("/", 1)[-1], "url": url, "duration_ms": duration * 1000}
        return result

    def _do_conference(self, c: kml.Conference) -> dict:
        room = _ROOM.sub("_", c.room or "")[:64]
        if not room:
            raise InstructionError("<conference> has no room name")
        self.heard(f"conference room {room}")
        if c.timeout_ms and c.timeout_ms > 0:
            self.session.execute("sched_hangup", f"+{max(1, c.timeout_ms // 1000)} ALLOTTED_TIMEOUT")
        flags = [f for f, on in (("mute", c.muted), ("endconf", c.end_on_exit)) if on]
        done = self.session.execute("conference", f"{room}@default" + (f"+flags{{{'|'.join(flags)}}}" if flags else ""))
        started = self._started.get("conference")
        seconds = str(max(0, round(event_time(done) - started))) if started else "0"
        return {"data": room, "duration": seconds, "conference_duration": seconds}

    # -- control --------------------------------------------------------------------------

    def _do_hangup(self, h: kml.Hangup) -> dict:
        self.heard("the platform hangs up")
        self.session.hangup(HANGUP_CAUSES.get(h.reason, "NORMAL_CLEARING"))

    def _do_reject(self, r: kml.Reject) -> dict:
        if r.ring > 0:
            # ring_ready sends 180 Ringing; sleep on a channel without media just waits (switch_ivr_sleep):
            # the caller hears their network's ringback, and nothing is answered.
            self.heard(f"ringing {r.ring} s")
            self.session.execute("ring_ready")
            self.session.execute("sleep", str(r.ring * 1000))
            if self.session.hung_up:
                return None
        self.heard(f"call rejected ({r.reason})")
        self.session.hangup(HANGUP_CAUSES.get(r.reason, "CALL_REJECTED"))

    def _do_goto(self, g: kml.GoTo) -> dict:
        return None

    def _do_send_digits(self, s: kml.SendDigits) -> dict:
        try:
            return dtmf.send_digits(self, s.digits)
        except ValueError as exc:
            raise InstructionError(str(exc)) from None

    def _do_enqueue(self, e: kml.Enqueue) -> dict:
        try:
            return queueing.enqueue(self, e, media_arg)
        except ValueError as exc:
            raise InstructionError(f"<Enqueue>: {exc}") from None

    def _do_dial_queue(self, d: kml.DialQueue) -> dict:
        try:
            return queueing.dial_queue(self, d)
        except ValueError as exc:
            raise InstructionError(f"<Dial><Queue>: {exc}") from None

    def _do_pre_answer(self, p: kml.PreAnswer) -> dict:
        """Plivo PreAnswer: early media (183) and its prompts before the call is answered."""
        self.heard("early media (pre-answer)")
        self.session.execute("pre_answer")
        for prompt in p.prompts:
            self.run(prompt)

    def _do_send_sms(self, s: kml.SendSms) -> dict:
        to = (s.to or "").strip()
        if not _NUMBER.match(to):
            raise InstructionError(f"<sendsms> to {to!r} is not a number")
        if self.sms is None:
            raise InstructionError("<sendsms> needs the SMS path, which this call has not (the call carries on)")
        sms_id = self.sms(to, s.text)
        if sms_id is None:
            raise InstructionError("<sendsms> could not be queued (Redis unavailable); the call carries on")
        self.heard(f"SMS to {to} queued: {_shorten(s.text, 60)}")
        return {}


#: The RQ job an app's <sendsms> / <Sms> becomes, by dotted name: the runtime never imports the sms package.
SMS_JOB = "sms.jobs.send_from_call"
SMS_QUEUE_SUFFIX = "sms"


class SmsEnqueuer:
    """Sends an app's SMS through the platform's one SMS path: the job :data:`SMS_JOB` on ``<prefix>-sms``.

    Called as ``enqueuer(to, text)``; returns the id the message is stored under (so a job run twice
    stores one message), or None when Redis could not take it (logged, never raised into the call).
    """

    def __init__(self, redis_conn, key_prefix: str, *, account_id: str, sender: str | None, call_uuid: str):
        from rq import Queue

        self.queue = Queue(f"{key_prefix}-{SMS_QUEUE_SUFFIX}", connection=redis_conn)
        self.account_id, self.sender, self.call_uuid = account_id, sender, call_uuid

    def __call__(self, to: str, text: str) -> str | None:
        import logging

        sms_id = f"{self.call_uuid}:{_uuid.uuid4().hex}"
        payload = {"sms_id": sms_id, "account_id": self.account_id, "to": to, "text": text,
                   "from": self.sender, "call_uuid": self.call_uuid}
        try:
            self.queue.enqueue(SMS_JOB, payload, job_timeout=60, result_ttl=300, failure_ttl=7 * 86400)
        except Exception as exc:  # noqa: BLE001 - a lost SMS must not take the call down
            logging.getLogger(__name__).error("could not enqueue the SMS of call %s: %s", self.call_uuid, exc)
            return None
        return sms_id


def dial_path(url: str, config: ExecConfig) -> str:
    """The file path of a recording given its public URL (same name under RECORDINGS_DIR)."""
    return os.path.join(config.recordings_dir, url.rsplit("/", 1)[-1])


def _remove(path: str | None) -> None:
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except ValueError:
        return None

"""Prompts: what the caller hears — speak, play, pause, and a menu's prompts as one argument.

The :class:`ivr.execute.Executor`'s prompt instructions, as a mixin on the executor's state
(``session``, ``config``, ``heard``, ``_tts_vars``, ``_delimiter_set``).
"""

from __future__ import annotations

import kml
from freeswitch.wire import Event
from ivr import tts
from ivr.exec_base import ApplicationFailed, _shorten, application_failure, media_arg


class PromptInstructions:
    """Speak, play and pause; ``_checked`` (an application whose failure is reported) and a menu's prompt file."""

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

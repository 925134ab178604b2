"""The application machinery: the registry, how an application runs, and playing media.

:func:`execute` wraps every application as ``switch_core_session_exec`` does:
``current_application``/``current_application_data`` variables, then
CHANNEL_EXECUTE, the application itself, CHANNEL_EXECUTE_COMPLETE with
``Application-Response`` (the ``current_application_response`` variable, which
switch_core_session_exec clears before each application, or ``_none_``). Media applications take simulated
time, are cut short by a hangup (response ``PLAYBACK ERROR`` for playback) or
``uuid_break``, and read the far end's DTMF (:func:`media_wait`, :func:`play`).

The applications themselves live in modules that import this one and nothing that imports them
(apps.py: call control and prompts; dtmf_apps.py: digits; fifo.py: mod_fifo; bridge.py, record.py...):
:mod:`freeswitch.sim.apps` imports them all, so importing it registers every application.
"""

from __future__ import annotations

import logging
import re
from typing import Callable

import gevent
import gevent.queue

from freeswitch.sim import media
from freeswitch.sim.channel import Channel
from freeswitch.sim.dialstring import separate_string

log = logging.getLogger("freeswitch.sim")

APPS: dict[str, Callable[[Channel, str], None]] = {}


def app(name: str):
    """Register an application under ``name``."""
    def deco(fn):
        APPS[name] = fn
        return fn
    return deco


def execute(channel: Channel, name: str, arg: str | None, app_uuid: str | None = None) -> str:
    """Run one application on the channel with FreeSWITCH's events around it; returns the response."""
    fn = APPS.get(name)
    if fn is None or name in channel.switch.__dict__.get("sim_unloaded_apps", ()):
        # switch_core_session_execute_application: an unknown application hangs the call up.
        log.error("Invalid Application %s", name)
        channel.hangup("DESTINATION_OUT_OF_ORDER")
        return "_none_"
    app_uuid = app_uuid or channel.switch.new_uuid()
    data = arg if arg else None
    channel.app_log.append((name, data))  # switch_core_session_exec logs it (last_app/last_arg at hangup)
    channel.current_app = name
    channel.set_var("current_application_data", data)
    channel.set_var("current_application", name)
    channel.set_var("current_application_response", None)  # each application starts without one
    head = [("Application", name)]
    if data is not None:
        head.append(("Application-Data", data))
    channel.fire("CHANNEL_EXECUTE", extra=head + [("Application-UUID", app_uuid)])
    try:
        fn(channel, arg or "")
    except gevent.GreenletExit:
        raise
    except Exception:
        log.exception("application %s failed on %s", name, channel.uuid)
    response = channel.get_var("current_application_response") or "_none_"
    channel.fire("CHANNEL_EXECUTE_COMPLETE", extra=head + [("Application-Response", response),
                                                           ("Application-UUID", app_uuid)])
    return response


def respond(channel: Channel, text: str) -> None:
    """Set the application response (``current_application_response``)."""
    channel.set_var("current_application_response", text)


# ---------------------------------------------------------------------------
# Waiting with media semantics
# ---------------------------------------------------------------------------

HANGUP, BREAK, DONE, DIGIT = "hangup", "break", "done", "digit"


def media_wait(channel: Channel, seconds: float, on_digit: Callable[[str], bool] | None = None) -> str:
    """Wait ``seconds`` of simulated time for media to play.

    Ends early on hangup (HANGUP), ``uuid_break`` (BREAK), or when ``on_digit``
    returns True for a digit the far end sent (DIGIT). Digits ``on_digit``
    declines are consumed, as a playing file with an input callback consumes
    them; without ``on_digit`` (a file played with no input arguments, like
    play_and_get_digits' invalid-input file) digits stay queued for the next reader.
    """
    clock = channel.switch.clock
    deadline = clock.now() + seconds if seconds != media.INFINITE else None
    while True:
        if not channel.is_up:
            return HANGUP
        if channel.break_evt.is_set():
            channel.break_evt.clear()
            return BREAK if channel.is_up else HANGUP
        if getattr(channel, "transfer_to", None) is not None:
            return BREAK
        digit = None
        if on_digit is not None:
            try:
                digit = channel.dtmf_queue.get_nowait()
            except gevent.queue.Empty:
                pass
        if digit is not None:
            if on_digit is not None and on_digit(digit):
                return DIGIT
            continue
        channel.dtmf_evt.clear()
        if deadline is None:
            timeout = None
        else:
            remaining = deadline - clock.now()
            if remaining <= 0:
                return DONE
            timeout = clock.real(remaining)
        if on_digit is None:
            gevent.wait([channel.hung_up, channel.break_evt], timeout=timeout, count=1)
            continue
        if channel.dtmf_queue.qsize():
            continue
        gevent.wait([channel.hung_up, channel.break_evt, channel.dtmf_evt], timeout=timeout, count=1)


def terminators_var(channel: Channel) -> str:
    """playback_terminators (default ``*``; ``none`` disables)."""
    t = channel.get_var("playback_terminators")
    if t is None:
        return "*"
    return "" if t.lower() == "none" else t


def play(channel: Channel, path: str, on_digit: Callable[[str], bool] | None = None,
         with_events: bool = True) -> str:
    """Play ``path`` as switch_ivr_play_file; returns 'played', 'break' (digit or uuid_break), 'hangup' or 'notfound'.

    With the channel variable ``playback_delimiter`` set, ``path`` is a list split on its first
    character; each part is played in turn (``say:`` parts included: this loop is where FreeSWITCH
    speaks them), ``playback_sleep_val`` ms (default 250) apart. A part that is not found is skipped
    and the list's outcome is its last part's, as in switch_ivr_play_file; a digit, a break or a
    hangup ends the whole list.
    """
    delimiter = (channel.get_var("playback_delimiter") or "")[:1]
    if not delimiter:
        return _play_one(channel, path, on_digit, with_events)
    parts = separate_string(path, delimiter, limit=128)
    pause = _atoi(channel.get_var("playback_sleep_val"), 250)
    result = "played"
    for i, part in enumerate(parts):
        if i and pause > 0:
            outcome = media_wait(channel, pause / 1000.0, on_digit)
            if outcome != DONE:
                return "hangup" if outcome == HANGUP else "break"
        result = _play_one(channel, part, on_digit, with_events)
        if result in ("break", "hangup"):
            return result
    return result


def _play_one(channel: Channel, path: str, on_digit: Callable[[str], bool] | None, with_events: bool) -> str:
    """One source: PLAYBACK_START/STOP and the playback_* variables."""
    try:
        seconds = media.source_seconds(path, channel.switch.config.sounds_dir)
    except media.NotFound as exc:
        log.info("FILE NOT FOUND: %s", exc)
        return "notfound"
    if not channel.answered and not channel.early:
        channel.pre_answer()
    file_type = []
    low = path.lower()
    if low.startswith("tone_stream:"):
        file_type = [("Playback-File-Type", "tone_stream")]
    elif low.startswith("local_stream:"):
        file_type = [("Playback-File-Type", "local_stream")]
    if with_events:
        channel.fire("PLAYBACK_START", extra=file_type + [("Playback-File-Path", path)])
    clock = channel.switch.clock
    started = clock.now()
    outcome = media_wait(channel, seconds, on_digit)
    played = min(seconds, clock.now() - started) if seconds != media.INFINITE else clock.now() - started
    samples = int(played * 8000)
    channel.set_var("playback_last_offset_pos", str(samples))
    channel.set_var("playback_seconds", str(samples // 8000))
    channel.set_var("playback_ms", str(samples // 8))
    channel.set_var("playback_samples", str(samples))
    if with_events:
        status = "break" if outcome in (DIGIT, BREAK) else "done"
        channel.fire("PLAYBACK_STOP", extra=file_type + [("Playback-File-Path", path), ("Playback-Status", status)])
    if outcome == HANGUP:
        return "hangup"
    if outcome in (DIGIT, BREAK):
        return "break"
    return "played"


def _atoi(text: str | None, default: int = 0) -> int:
    m = re.match(r"\s*([+-]?\d+)", text or "")
    return int(m.group(1)) if m else default

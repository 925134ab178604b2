"""Answering-machine detection on the far end's speech: ``wait_for_silence`` and mod_avmd's ``avmd_start``/``avmd_stop``.

The far end's audio is a timeline (:func:`far_end_audio`): from the answer it speaks its greeting
(``greeting`` seconds: a person's "hello?", a machine's message), a machine then beeps (``beep``
seconds at 1000 Hz, half a second after its greeting), and then it is silent. Each 20 ms frame is
speech, beep or silence, with the energy score switch_ivr_wait_for_silence would compute for it
(mean absolute sample value): speech :data:`SPEECH_SCORE`, the beep :data:`BEEP_SCORE`, silence 0.

Nothing here runs per frame in real time: an application works out from the timeline in which frame
it ends, then sleeps until then (or until a hangup or a transfer ends it first).

The applications are registered by apps.py (this module imports nothing of it: no import circle).
"""

from __future__ import annotations

import logging
import math

import gevent

from freeswitch.sim import media
from freeswitch.sim.channel import Channel
from freeswitch.sim.dialstring import separate_string

log = logging.getLogger("freeswitch.sim")

FRAME = 0.02                 # seconds per frame: 20 ms ptime, 160 samples at 8 kHz
SAMPLES_PER_FRAME = 160
SPEECH_SCORE = 1000          # mean |sample| of speech at about -30 dBFS
BEEP_SCORE = 4000            # a voicemail beep is louder than speech
BEEP_GAP = 0.5               # seconds between a machine's greeting and its beep
BEEP_HZ = 1000.0
BEEP_AMPLITUDE = 8000.0
AVMD_DETECT_AFTER = 0.04     # mod_avmd's DESA-2 estimators settle within two frames of a steady tone


def far_end_audio(channel: Channel) -> list[tuple[float, float, int]]:
    """(start, end, score) segments of what the far end sends, in simulated epoch seconds; silence elsewhere."""
    b = channel.behaviour
    if b is None or not channel.answered:
        return []
    t0 = channel.answered_us / 1_000_000
    segments = []
    greeting = b.greeting_seconds
    if greeting > 0:
        segments.append((t0, t0 + greeting, SPEECH_SCORE))
    beep = b.beep_seconds if b.outcome == "machine" else 0.0
    if beep > 0:
        at = t0 + greeting + BEEP_GAP
        segments.append((at, at + beep, BEEP_SCORE))
    return segments


def _score(segments, t: float) -> int:
    for start, end, score in segments:
        if start <= t < end:
            return score
    return 0


def silence_outcome(segments, start: float, thresh: int, silence_hits: int, listen_hits: int, timeout_ms: int,
                    file_frames: int | None) -> tuple[int | None, tuple[str, int, int] | None]:
    """switch_ivr_wait_for_silence's loop over the far end's frames from ``start``.

    Returns (the frame it ends in, counting from 1 — None: never, until hangup —, and the variables it sets:
    (wait_for_silence_timeout, _listenhits, _silence_hits), or None when it ends without setting them:
    its file ran out first).
    """
    sample_count = 8 * timeout_ms            # (actual_samples_per_second / 1000) * timeout_ms at 8 kHz
    timeout_frame = math.ceil(sample_count / SAMPLES_PER_FRAME) if sample_count else None
    eof_frame = file_frames + 1 if file_frames is not None else None   # the read after the last one fails
    last_sound = max((end for _, end, _ in segments), default=start)
    org, hits, listening, countdown, n = silence_hits, silence_hits, 0, 0, 0
    while True:
        n += 1
        if timeout_frame is not None and n >= timeout_frame:
            return n, ("true", listening, hits)
        if eof_frame is not None and n >= eof_frame:
            return n, None
        if countdown:
            countdown -= 1
            if not countdown:
                return n, ("false", listening, hits)
            continue
        t = start + (n - 1) * FRAME
        if t >= last_sound:
            break  # silence from here on: the rest follows without walking every frame
        score = _score(segments, t)
        if score >= thresh:
            listening += 1
        if (listen_hits == 0 or listening > listen_hits) and score < thresh:
            hits -= 1
            if not hits:
                countdown = 25
        else:
            hits = org
    # Frame n and every later one are silent (score 0 < thresh): silence counts down only once
    # enough frames were heard; otherwise each silent frame resets the count.
    done = None
    if listen_hits == 0 or listening > listen_hits:
        done = n + hits - 1 + 25             # hits reaches 0 in frame n + hits - 1, then 25 more frames
    ends = [(f, k) for k, f in enumerate((timeout_frame, eof_frame, done)) if f is not None]
    if not ends:
        return None, None
    frame, which = min(ends)
    if which == 0:
        counted = max(0, min(frame - 1, n + hits - 1) - n + 1) if done is not None else 0
        return frame, ("true", listening, hits - counted if done is not None else org)
    if which == 1:
        return frame, None
    return frame, ("false", listening, 0)


def _wait_until(channel: Channel, deadline: float | None) -> bool:
    """Sleep until the simulated ``deadline`` (None: for ever); False if a hangup or a transfer came first.

    switch_channel_ready is false once the channel hangs up or a transfer is pending.
    """
    clock = channel.switch.clock
    mark = channel.transfers
    while channel.is_up and channel.transfers == mark and channel.transfer_to is None:
        remaining = None if deadline is None else deadline - clock.now()
        if remaining is not None and remaining <= 0:
            return True
        gevent.wait([channel.hung_up, channel.moved], timeout=None if remaining is None else clock.real(remaining),
                    count=1)
    return False


def app_wait_for_silence(channel: Channel, arg: str) -> None:
    """``wait_for_silence <thresh> <silence_hits> <listen_hits> <timeout_ms> [<file>]`` (mod_dptools)."""
    argv = separate_string(arg, " ", limit=5) if arg.strip() else []
    if len(argv) >= 4:
        thresh, silence_hits, listen_hits = (_atoi(a) for a in argv[:3])
        timeout_ms = max(0, _atoi(argv[3]))
        if thresh > 0 and silence_hits > 0:
            _wait_for_silence(channel, thresh, silence_hits, max(0, listen_hits), timeout_ms,
                              argv[4] if len(argv) > 4 else None)
            return
    log.error("Usage: <silence_thresh> <silence_hits> <listen_hits> <timeout_ms> [<file>]")


def _wait_for_silence(channel: Channel, thresh: int, silence_hits: int, listen_hits: int, timeout_ms: int,
                      file: str | None) -> None:
    file_frames = None
    if file:
        try:
            seconds = media.source_seconds(file, channel.switch.config.sounds_dir)
        except media.NotFound:
            log.warning("Failure opening playback file %s.", file)
            return
        file_frames = math.ceil(seconds / FRAME) if seconds != media.INFINITE else None
    start = channel.switch.clock.now()
    frame, result = silence_outcome(far_end_audio(channel), start, thresh, silence_hits, listen_hits, timeout_ms,
                                    file_frames)
    if not _wait_until(channel, None if frame is None else start + frame * FRAME) or result is None:
        return
    timeout, listening, hits = result
    channel.set_vars([("wait_for_silence_timeout", timeout), ("wait_for_silence_listenhits", str(listening)),
                      ("wait_for_silence_silence_hits", str(hits))])


def _atoi(text: str | None) -> int:
    digits = ""
    for i, ch in enumerate((text or "").strip()):
        if ch.isdigit() or (i == 0 and ch in "+-"):
            digits += ch
        else:
            break
    try:
        return int(digits)
    except ValueError:
        return 0


# ---------------------------------------------------------------------------
# mod_avmd
# ---------------------------------------------------------------------------

def _avmd_event(channel: Channel, subclass: str, headers: list[tuple[str, str]]) -> None:
    """avmd_fire_event: a CUSTOM event with only Unique-ID, Call-command and its own headers (no channel data)."""
    from freeswitch.sim.events import SimEvent

    sw = channel.switch
    if not sw.wants("CUSTOM", channel.uuid):
        return
    # switch_event_create_subclass: the common block first, then Event-Subclass at the bottom.
    event = sw.common("CUSTOM") + [("Event-Subclass", subclass), ("Unique-ID", channel.uuid),
                                   ("Call-command", "avmd")] + headers
    sw.deliver(SimEvent("CUSTOM", event, None, channel.uuid))


def app_avmd_start(channel: Channel, arg: str) -> None:
    """``avmd_start [option=value,...]``: start beep detection (mod_avmd's media bug on the read side)."""
    if channel.__dict__.get("avmd") is not None:
        log.error("Avmd already started!")
        return
    inbound, outbound = False, True          # avmd.conf's defaults: inbound_channel 0, outbound_channel 1
    for option in separate_string(arg, ",") if arg.strip() else []:
        key, eq, value = option.partition("=")
        if not eq or not key.strip() or not value.strip():
            log.error("Failed to set dynamic parameters for avmd session. Parsing error")
            return
        if key.strip() in ("inbound_channel", "outbound_channel"):
            if value.strip() not in ("0", "1"):
                log.error("Bad value for this option")
                return
            if key.strip() == "inbound_channel":
                inbound = value.strip() == "1"
            else:
                outbound = value.strip() == "1"
    outgoing = channel.profile.direction == "outbound"
    if not ((outgoing and outbound) or (not outgoing and inbound)):
        log.error("Can't set direction for channel [%s]", channel.name)
        return
    if outgoing and channel.get_var("read_codec") is None:
        log.error("Channel [%s] has no codec assigned yet. Please try again", channel.name)
        return
    now = channel.switch.clock.now()
    state = {"start": now, "detected": False, "stopped": False}
    channel.__dict__["avmd"] = state
    _avmd_event(channel, "avmd::start", [("Start-time", str(int(now * 1_000_000)))])
    beep = _beep_moment(channel, now)
    if beep is not None:
        channel.greenlets.append(gevent.spawn(_detect, channel, state, beep))


def _beep_moment(channel: Channel, start: float) -> float | None:
    # The frame in which the detectors have heard enough of the beep; None if there is none left to hear.
    for seg_start, seg_end, score in far_end_audio(channel):
        if score == BEEP_SCORE:
            heard_from = max(seg_start, start)
            if seg_end - heard_from < AVMD_DETECT_AFTER:
                return None
            frames = math.ceil((heard_from + AVMD_DETECT_AFTER - start) / FRAME - 1e-9)
            return start + frames * FRAME
    return None


def _detect(channel: Channel, state: dict, at: float) -> None:
    clock = channel.switch.clock
    if channel.hung_up.wait(clock.real(at - clock.now())):
        return
    if state["stopped"] or channel.__dict__.get("avmd") is not state:
        return
    state["detected"] = True
    # avmd_report_detection: detection time from the first frame processed (one frame after the start).
    detection_us = max(0, round((at - state["start"] - FRAME) * 1_000_000))
    channel.set_var("avmd_total_time", f"[{detection_us // 1000}]")
    channel.set_var("avmd_detect", "TRUE")
    _avmd_event(channel, "avmd::beep", [
        ("Beep-Status", "DETECTED"), ("Frequency", f"{BEEP_HZ:f}"), ("Frequency-variance", f"{0.000001:f}"),
        ("Amplitude", f"{BEEP_AMPLITUDE:f}"), ("Amplitude-variance", f"{0.000001:f}"),
        ("Detection-time", str(detection_us)), ("Detector-resolution", "1"), ("Detector-offset", "0"),
        ("Detector-index", "0")])


def app_avmd_stop(channel: Channel, arg: str) -> None:
    """``avmd_stop``: remove the detector; avmd::stop says whether a beep was detected and for how long it ran."""
    state = channel.__dict__.pop("avmd", None)
    if state is None:
        log.error("Stop failed - no avmd session running on this channel [%s]!", channel.name)
        return
    state["stopped"] = True
    total_us = round((channel.switch.clock.now() - state["start"]) * 1_000_000)
    _avmd_event(channel, "avmd::stop", [("Beep-Status", "DETECTED" if state["detected"] else "NOTDETECTED"),
                                        ("Total-time", str(total_us))])

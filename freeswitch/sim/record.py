"""Recording applications: ``record`` (the far end talks, a WAV of the simulated length is written) and
``record_session`` / ``stop_record_session`` (the rest of the call, in the background; ``uuid_record`` too)."""

from __future__ import annotations

import logging
import os

import gevent
import gevent.event

from freeswitch.sim import media, speech
from freeswitch.sim.appcore import DONE, _atoi, app, media_wait, terminators_var
from freeswitch.sim.channel import Channel
from freeswitch.sim.dialstring import separate_string

log = logging.getLogger("freeswitch.sim")


def resolve_record_path(channel: Channel, path: str) -> str:
    """A relative path is under ``sound_prefix`` (the channel's, else the global one), as switch_ivr_record_file
    and switch_ivr_record_session put it -- not under the recordings directory."""
    path = media.strip_params(path)
    if os.path.isabs(path):
        return path
    sw = channel.switch
    base = channel.get_var("sound_prefix") or sw.global_vars.get("sound_prefix") or sw.config.sounds_dir or "."
    return os.path.join(base, path)


@app("record")
def app_record(channel: Channel, arg: str) -> None:
    """``record <path> [<time_limit_secs>] [<silence_thresh>] [<silence_hits>]``: the caller talks, we write a WAV."""
    argv = separate_string(arg, " ", limit=4)
    if not argv or not argv[0]:
        log.error("record: No file specified.")
        return
    argv += [None] * (4 - len(argv))
    path = resolve_record_path(channel, argv[0])
    limit = _atoi((argv[1] or "").lstrip("+")) if argv[1] else 0
    thresh = _atoi(argv[2]) if argv[2] else 0
    hits = _atoi(argv[3]) if argv[3] else 0
    if thresh and not hits:
        hits = 3
    if not channel.answered and not channel.early:
        channel.pre_answer()
    channel.set_var("playback_terminator_used", "")
    if not os.path.isdir(os.path.dirname(path) or "."):
        # The file cannot be opened (record creates no directory, unlike record_session): record_function
        # hangs the call up.
        log.error("Error opening %s", path)
        channel.hangup("DESTINATION_OUT_OF_ORDER")
        return
    channel.set_var("silence_hits_exhausted", "false")
    terms = terminators_var(channel)
    talk = channel.behaviour.talk if channel.behaviour is not None else 3.0
    utterance = speech.next_utterance(channel)  # a far end that speaks real audio (speech.py)
    if utterance is not None:
        try:
            talk = speech.seconds(utterance)
        except speech.SpeechUnavailable as exc:
            log.error("record: the far end cannot speak: %s", exc)
            utterance = None
    # The recording stops at the time limit, after `hits` seconds of silence once the caller
    # has stopped talking (only with a threshold), on a terminator, a break, or hangup.
    stop_at = media.INFINITE
    if thresh:
        stop_at = talk + hits
    channel.fire("RECORD_START", extra=[("Record-File-Path", path)])
    clock = channel.switch.clock
    started = clock.now()
    if limit:
        # switch_ivr_record_file compares whole epoch seconds (now - start > limit) at each frame, so
        # a recording runs past its limit to the second after: limit + 1 - the start's fraction.
        stop_at = min(stop_at, limit + 1 - started % 1)

    def on_digit(d: str) -> bool:
        if d in terms:
            channel.set_var("playback_terminator_used", d)
            return True
        return False

    outcome = media_wait(channel, stop_at, on_digit)
    elapsed = clock.now() - started
    if stop_at != media.INFINITE:
        elapsed = min(elapsed, stop_at)
    if outcome == DONE and thresh and talk + hits <= stop_at:
        channel.set_var("silence_hits_exhausted", "true")
    try:
        if utterance is not None:
            speech.write(path, [utterance], elapsed)
        else:
            media.write_wav(path, min(talk, elapsed), elapsed)
    except (OSError, speech.SpeechUnavailable) as exc:
        log.error("cannot write recording %s: %s", path, exc)
        channel.hangup("DESTINATION_OUT_OF_ORDER")
        return
    try:
        size = str(os.path.getsize(path))  # the file format's size column (the WAV as written)
        channel.set_vars([("record_record_file_size", size), ("record_file_size", size)])
    except OSError:
        pass
    samples = int(elapsed * 8000)
    channel.set_var("record_seconds", str(samples // 8000))
    channel.set_var("record_ms", str(samples // 8))
    channel.set_var("record_samples", str(samples))
    channel.fire("RECORD_STOP", extra=[("Record-File-Path", path)])


@app("record_session")
def app_record_session(channel: Channel, arg: str) -> None:
    """Record the whole call from now on (in the background) to a WAV file written at hangup or stop."""
    path = resolve_record_path(channel, separate_string(arg, " ")[0] if arg.strip() else "")
    if not arg.strip():
        log.error("record_session: no path")
        return
    start_session_recording(channel, path)


def start_session_recording(channel: Channel, path: str) -> None:
    """Begin a background recording (record_session / uuid_record start)."""
    recs = channel.__dict__.setdefault("session_recordings", {})
    if path in recs:
        return
    clock = channel.switch.clock
    stop = gevent.event.Event()
    recs[path] = stop
    channel.fire("RECORD_START", extra=[("Record-File-Path", path)])

    def run():
        started = clock.now()
        gevent.wait([channel.hung_up, stop], count=1)
        elapsed = clock.now() - started
        talk = channel.behaviour.talk if channel.behaviour is not None else 0.0
        said = speech.all_utterances(channel, channel.__dict__.get("last_bridged"))
        try:
            if said:
                speech.write(path, said, elapsed)
            else:
                media.write_wav(path, min(talk, elapsed), elapsed)
        except (OSError, speech.SpeechUnavailable) as exc:
            log.error("cannot write recording %s: %s", path, exc)
        samples = int(elapsed * 8000)
        channel.set_var("record_seconds", str(samples // 8000))
        channel.set_var("record_ms", str(samples // 8))
        channel.set_var("record_samples", str(samples))
        recs.pop(path, None)
        channel.fire("RECORD_STOP", extra=[("Record-File-Path", path)])

    # Not in channel.greenlets: it must outlive the session greenlet to write the file.
    channel.__dict__.setdefault("recorders", []).append(gevent.spawn(run))


def stop_session_recording(channel: Channel, path: str | None) -> bool:
    """Stop one background recording (or all with path None/'all')."""
    recs = channel.__dict__.get("session_recordings", {})
    found = False
    for p, ev in list(recs.items()):
        if path in (None, "all") or p == path:
            ev.set()
            found = True
    return found


@app("stop_record_session")
def app_stop_record_session(channel: Channel, arg: str) -> None:
    """Stop a record_session."""
    stop_session_recording(channel, resolve_record_path(channel, arg.strip()) if arg.strip() and arg.strip() != "all" else None)

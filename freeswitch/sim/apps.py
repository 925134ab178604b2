"""Dialplan applications with FreeSWITCH's arguments, timing, variables and responses: call control,
variables, prompts (playback, speak, say) and the socket.

How an application runs (events, responses) and how media plays are in appcore.py, which this module
re-exports for its importers; the other applications are in their own modules (dtmf_apps.py: digits;
fifo.py: mod_fifo; bridge.py, transfer.py, record.py, conference.py, amd.py, hooks.py), imported at the
end so that importing this module registers every application. None of them imports this module.
"""

from __future__ import annotations

import logging

import gevent

from freeswitch.sim import media
from freeswitch.sim.appcore import (APPS, BREAK, DIGIT, DONE, HANGUP, _atoi, app, execute, media_wait,  # noqa: F401
                                    play, respond, terminators_var)
from freeswitch.sim.channel import Channel, normalize_cause
from freeswitch.sim.dialstring import DialStringError, parse_dialstring, separate_string  # noqa: F401

log = logging.getLogger("freeswitch.sim")

# ---------------------------------------------------------------------------
# Call control
# ---------------------------------------------------------------------------

@app("answer")
def app_answer(channel: Channel, arg: str) -> None:
    """Answer the call (an inbound leg: the far end's script starts now)."""
    from freeswitch.sim import sofia
    from freeswitch.sim.calls import start_caller

    sofia.answer_inbound(channel)
    if channel.answer() and channel.profile.direction == "inbound":
        start_caller(channel)


@app("pre_answer")
def app_pre_answer(channel: Channel, arg: str) -> None:
    """183 with early media."""
    channel.pre_answer()


@app("ring_ready")
def app_ring_ready(channel: Channel, arg: str) -> None:
    """180 Ringing — only on a channel neither answered nor in early media: switch_channel_perform_ring_ready_value
    returns before INDICATE_RINGING (no 180, no CHANNEL_PROGRESS) once either happened."""
    if channel.answered or channel.early:
        return
    channel.ring()


@app("hangup")
def app_hangup(channel: Channel, arg: str) -> None:
    """Hang up with a cause (name or Q.850 code; default NORMAL_CLEARING)."""
    channel.hangup(normalize_cause(arg))


@app("set")
def app_set(channel: Channel, arg: str) -> None:
    """``set name=value`` (an empty value unsets)."""
    name, _, value = arg.partition("=")
    name = name.strip()
    if name:
        channel.set_var(name, value if value != "" else None)


@app("export")
def app_export(channel: Channel, arg: str) -> None:
    """``export [nolocal:]name=value``: set here and on legs this channel bridges to."""
    name, _, value = arg.partition("=")
    nolocal = name.startswith("nolocal:")
    name = name.split(":", 1)[1] if nolocal else name
    name = name.strip()
    if not name:
        return
    if not nolocal:
        channel.set_var(name, value if value != "" else None)
    exported = [v for v in (channel.get_var("export_vars") or "").split(",") if v]
    if name not in exported:
        exported.append(name)
    channel.set_var("export_vars", ",".join(exported))
    channel.exported = getattr(channel, "exported", {})
    channel.exported[name] = value


@app("unset")
def app_unset(channel: Channel, arg: str) -> None:
    """Unset a variable."""
    channel.set_var(arg.strip(), None)


@app("multiset")
def app_multiset(channel: Channel, arg: str) -> None:
    """``multiset a=1 b=2``."""
    for piece in separate_string(arg, " "):
        app_set(channel, piece)


@app("sleep")
def app_sleep(channel: Channel, arg: str) -> None:
    """``sleep <ms>``: digits that arrive meanwhile stay queued unless sleep_eat_digits is true."""
    try:
        ms = int(arg.strip() or "0")
    except ValueError:
        ms = 0
    eat = (channel.get_var("sleep_eat_digits") or "").lower() in ("true", "1", "yes")
    clock = channel.switch.clock
    if eat:
        media_wait(channel, ms / 1000.0, None)
        return
    channel.hung_up.wait(clock.real(ms / 1000.0))


@app("sched_hangup")
def app_sched_hangup(channel: Channel, arg: str) -> None:
    """``sched_hangup [+]<seconds> [<cause>]``."""
    parts = arg.split()
    if not parts:
        return
    when = parts[0]
    try:
        secs = float(when.lstrip("+"))
    except ValueError:
        return
    cause = normalize_cause(parts[1] if len(parts) > 1 else None, "ALLOTTED_TIMEOUT")
    if not when.startswith("+"):
        secs = max(0.0, secs - channel.switch.clock.now())

    def later():
        if not channel.hung_up.wait(channel.switch.clock.real(secs)):
            channel.hangup(cause)
    channel.greenlets.append(gevent.spawn(later))


@app("park")
def app_park(channel: Channel, arg: str) -> None:
    """Park until hung up or transferred; messages sent with sendmsg run meanwhile."""
    from freeswitch.sim.outbound import park_loop

    park_loop(channel)


@app("echo")
def app_echo(channel: Channel, arg: str) -> None:
    """Echo the caller until hangup."""
    media_wait(channel, media.INFINITE, None)


@app("transfer")
def app_transfer(channel: Channel, arg: str) -> None:
    """``transfer <exten> [<dialplan>] [<context>]``: run the dialplan for exten instead of what is left."""
    parts = separate_string(arg, " ")
    if not parts:
        return
    exten = parts[0]
    context = parts[2] if len(parts) > 2 else channel.profile.context
    transfer(channel, exten, context)


def transfer(channel: Channel, exten: str, context: str | None = None, dialplan: str | None = None) -> None:
    """Send the channel to a dialplan extension (switch_ivr_session_transfer; see transfer.py)."""
    from freeswitch.sim.transfer import session_transfer

    session_transfer(channel, exten, dialplan, context)


@app("start_dtmf")
def app_start_dtmf(channel: Channel, arg: str) -> None:
    """Inband DTMF detection: the simulator's digits are always detected, nothing to do."""


@app("stop_dtmf")
def app_stop_dtmf(channel: Channel, arg: str) -> None:
    """Stop inband DTMF detection."""


@app("log")
def app_log(channel: Channel, arg: str) -> None:
    """Log a line."""
    log.info("%s: %s", channel.uuid, arg)


@app("info")
def app_info(channel: Channel, arg: str) -> None:
    """Dump the channel (to the log)."""
    log.info("%s: %s", channel.uuid, channel.variables)


@app("event")
def app_event(channel: Channel, arg: str) -> None:
    """Fire a CUSTOM event with the given headers (``Event-Subclass=x,header=value``)."""
    extra = []
    for piece in separate_string(arg, ","):
        k, _, v = piece.partition("=")
        if k:
            extra.append((k, v))
    channel.fire("CUSTOM", extra=extra)


# ---------------------------------------------------------------------------
# Prompts
# ---------------------------------------------------------------------------

@app("playback")
def app_playback(channel: Channel, arg: str) -> None:
    """Play a file, URL, tone or silence stream; playback_terminators end it."""
    terms = terminators_var(channel)
    channel.set_var("playback_terminator_used", None)

    def on_digit(d: str) -> bool:
        if d in terms:
            channel.set_var("playback_terminator_used", d)
            return True
        return False

    result = play(channel, arg, on_digit)
    if result in ("played", "break"):
        respond(channel, "FILE PLAYED")
    elif result == "notfound":
        respond(channel, "FILE NOT FOUND")
    else:
        respond(channel, "PLAYBACK ERROR")


@app("endless_playback")
def app_endless_playback(channel: Channel, arg: str) -> None:
    """Play a file again and again until hangup or break."""
    while channel.is_up:
        result = play(channel, arg)
        if result != "played":
            break


@app("speak")
def app_speak(channel: Channel, arg: str) -> None:
    """``speak <engine>|<voice>|<text>`` (or just text with tts_engine/tts_voice set)."""
    parts = arg.split("|", 2)
    text = parts[2] if len(parts) == 3 else arg
    channel.set_var("playback_terminator_used", None)
    terms = terminators_var(channel)

    def on_digit(d: str) -> bool:
        if d in terms:
            channel.set_var("playback_terminator_used", d)
            return True
        return False

    if not channel.answered and not channel.early:
        channel.pre_answer()
    media_wait(channel, media.text_seconds(text), on_digit)


@app("say")
def app_say(channel: Channel, arg: str) -> None:
    """``say <lang> <type> <method> [<gender>] <text>``: about 0.6 s per spoken item."""
    parts = arg.split(None, 3)
    text = parts[3] if len(parts) == 4 else arg
    items = len(text.replace(" ", "")) if parts[1:2] and parts[1].lower() in ("number", "digits") else len(text.split())
    media_wait(channel, max(0.6, 0.6 * max(1, items)), None)


# ---------------------------------------------------------------------------
# The socket (bridging and transfers: bridge.py, transfer.py; conference: conference.py)
# ---------------------------------------------------------------------------

@app("socket")
def app_socket(channel: Channel, arg: str) -> None:
    """Hand the call to an outbound Event Socket listener (see outbound.py)."""
    from freeswitch.sim.outbound import run_socket_app

    run_socket_app(channel, arg)


# Their applications register in APPS (appcore's) when they are imported.
from freeswitch.sim import bridge as _bridge, record as _record, transfer as _transfer  # noqa: E402,F401
from freeswitch.sim import dtmf_apps as _dtmf_apps, fifo as _fifo  # noqa: E402,F401

# These modules import nothing of this one (no import circle): their applications are registered here.
from freeswitch.sim import amd as _amd, conference as _conference, hooks as _hooks  # noqa: E402

APPS.update({"conference": _conference.app_conference, "wait_for_silence": _amd.app_wait_for_silence,
             "avmd_start": _amd.app_avmd_start, "avmd_stop": _amd.app_avmd_stop,
             "verbose_events": _hooks.app_verbose_events})

"""Dialplan applications with FreeSWITCH's arguments, timing, variables and responses.

:func:`execute` wraps every application as ``switch_core_session_exec`` does:
``current_application``/``current_application_data`` variables, then
CHANNEL_EXECUTE, the application itself, CHANNEL_EXECUTE_COMPLETE with
``Application-Response`` (the ``current_application_response`` variable, which
switch_core_session_exec clears before each application, or ``_none_``). Media applications take simulated
time, are cut short by a hangup (response ``PLAYBACK ERROR`` for playback) or
``uuid_break``, and read the far end's DTMF.
"""

from __future__ import annotations

import logging
import re
from typing import Callable

import gevent
import gevent.queue

from freeswitch.sim import media
from freeswitch.sim.channel import Channel, normalize_cause
from freeswitch.sim.dialstring import DialStringError, parse_dialstring, separate_string

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
    if fn is None:
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
    """180 Ringing."""
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
# Collecting digits
# ---------------------------------------------------------------------------

def read_digits(channel: Channel, min_digits: int, max_digits: int, prompt: str | None, var_name: str | None,
                timeout_ms: int, terminators: str, digit_timeout_ms: int) -> tuple[str, str]:
    """switch_ivr_read: play the prompt (a digit stops it), collect, set read_result. Returns (status, digits)."""
    if not digit_timeout_ms:
        digit_timeout_ms = timeout_ms
    if max_digits < min_digits:
        max_digits = min_digits
    channel.set_var("read_result", None)
    channel.set_var("read_terminator_used", None)
    if var_name:
        channel.set_var(var_name, None)
    if not channel.answered and not channel.early:
        channel.pre_answer()
    buf: list[str] = []
    term_used = [""]

    def take(d: str) -> bool:
        if terminators and d in terminators:
            term_used[0] = d
            return True
        buf.append(d)
        return True  # the first digit stops the prompt

    status = "success"
    if prompt and prompt.lower() != "silence":
        result = play(channel, prompt, take)
        if result == "hangup" or not channel.is_up:
            return "failure", ""
        if result == "notfound":
            # switch_ivr_read: a prompt that cannot be played ends the read at once ("goto end"):
            # no digits are collected and read_result stays unset.
            return "notfound", ""
    if not term_used[0] and ((min_digits and len(buf) < min_digits) or len(buf) < max_digits):
        status = collect(channel, buf, max_digits, terminators, term_used,
                         digit_timeout_ms if buf else timeout_ms, digit_timeout_ms)
    if not channel.is_up:
        return "failure", "".join(buf)
    if term_used[0]:
        channel.set_var("read_terminator_used", term_used[0])
    digits = "".join(buf)
    if min_digits and len(digits) < min_digits:
        status = "too_small"
    channel.set_var("read_result", {"success": "success", "timeout": "timeout"}.get(status, "failure"))
    if var_name and digits:
        channel.set_var(var_name, digits)
    return status, digits


def collect(channel: Channel, buf: list[str], max_digits: int, terminators: str, term_used: list[str],
            first_timeout_ms: int, digit_timeout_ms: int) -> str:
    """switch_ivr_collect_digits_count: 'success' (max or terminator), 'timeout', or 'hangup'."""
    clock = channel.switch.clock
    timeout = first_timeout_ms
    while len(buf) < max_digits:
        got: list[str] = []

        def one(d: str) -> bool:
            got.append(d)
            return True

        outcome = media_wait(channel, timeout / 1000.0, one)
        if outcome == HANGUP:
            return "hangup"
        if outcome == BREAK:
            return "success"
        if outcome == DONE:
            return "timeout"
        d = got[0]
        if terminators and d in terminators:
            term_used[0] = d
            return "success"
        buf.append(d)
        timeout = digit_timeout_ms
    return "success"


def _atoi(text: str | None, default: int = 0) -> int:
    m = re.match(r"\s*([+-]?\d+)", text or "")
    return int(m.group(1)) if m else default


@app("play_and_get_digits")
def app_play_and_get_digits(channel: Channel, arg: str) -> None:
    """``<min> <max> <tries> <timeout> <terminators> <file> <invalid_file> [<var> [<regexp> [<digit_timeout> [<transfer_on_failure>]]]]``."""
    argv = separate_string(arg, " ", limit=11)
    if not argv or not arg.strip():
        log.error("play_and_get_digits: No arguments specified.")
        return
    argv += [None] * (11 - len(argv))
    min_digits = max(0, _atoi(argv[0]))
    max_digits = _atoi(argv[1])
    max_tries = _atoi(argv[2])
    timeout = _atoi(argv[3], 1000)
    terminators = argv[4] or "#"
    prompt = argv[5]
    bad_file = argv[6]
    var_name = argv[7]
    regex = argv[8]
    digit_timeout = _atoi(argv[9]) if argv[9] else 0
    transfer_on_failure = argv[10]
    if max_digits < min_digits:
        max_digits = min_digits
    if timeout <= 1000:
        timeout = 1000
    if regex and var_name:
        channel.set_var(f"{var_name}_invalid", None)
    while channel.is_up and max_tries > 0:
        status, digits = read_digits(channel, min_digits, max_digits, prompt, var_name, timeout, terminators,
                                     digit_timeout)
        if status == "timeout" and len(digits) >= min_digits:
            status = "success"
        if min_digits == 0 and not digits and channel.get_var("read_terminator_used") is not None:
            return
        if not (status == "too_small" and not digits) and status == "success" and digits:
            if not regex:
                return
            try:
                ok = re.search(regex, digits) is not None
            except re.error:
                ok = False
            if ok:
                return
            if var_name:
                channel.set_var(var_name, None)
                channel.set_var(f"{var_name}_invalid", digits)
        if not channel.is_up:
            break
        if bad_file:
            play(channel, bad_file)
        max_tries -= 1
    if var_name and channel.is_up:
        pass
    if transfer_on_failure and channel.is_up:
        target = separate_string(transfer_on_failure, " ")
        if target:
            transfer(channel, target[0], target[2] if len(target) > 2 else channel.profile.context)


@app("read")
def app_read(channel: Channel, arg: str) -> None:
    """``read <min> <max> <file> <var> <timeout> <terminators> [<digit_timeout>]``."""
    argv = separate_string(arg, " ", limit=7)
    if not argv or not arg.strip():
        log.error("read: No arguments specified.")
        return
    argv += [None] * (7 - len(argv))
    min_digits = max(1, _atoi(argv[0]))
    max_digits = max(_atoi(argv[1]), min_digits)
    timeout = _atoi(argv[4], 1000) if argv[4] else 1000
    if timeout <= 1000:
        timeout = 1000
    read_digits(channel, min_digits, max_digits, argv[2], argv[3], timeout, argv[5] or "#",
                _atoi(argv[6]) if argv[6] else 0)


# ---------------------------------------------------------------------------
# The socket (bridging and transfers: bridge.py, transfer.py; conference: conference.py)
# ---------------------------------------------------------------------------

@app("socket")
def app_socket(channel: Channel, arg: str) -> None:
    """Hand the call to an outbound Event Socket listener (see outbound.py)."""
    from freeswitch.sim.outbound import run_socket_app

    run_socket_app(channel, arg)


# Their applications register in APPS when they are imported (they import from this module).
from freeswitch.sim import bridge as _bridge, record as _record, transfer as _transfer  # noqa: E402,F401

# These modules import nothing of this one (no import circle): their applications are registered here.
from freeswitch.sim import amd as _amd, conference as _conference, hooks as _hooks  # noqa: E402

APPS.update({"conference": _conference.app_conference, "wait_for_silence": _amd.app_wait_for_silence,
             "avmd_start": _amd.app_avmd_start, "avmd_stop": _amd.app_avmd_stop,
             "verbose_events": _hooks.app_verbose_events})

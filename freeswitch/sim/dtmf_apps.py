"""Digits: collecting them (``read``, ``play_and_get_digits``: switch_ivr_read, switch_play_and_get_digits)
and sending them (``send_dtmf``: mod_dptools' send_dtmf_function).

``send_dtmf <digits>[@<ms>][+<digits>[@<ms>]...]`` is switch_core_session_send_dtmf_string: the channel
is pre-answered, each group's keys (0-9, *, #, A-D, and ``w``/``W``, which the RTP stack turns into
500 ms / 1 s pauses) are queued for the endpoint with the group's tone length (``@<ms>``, default
``default_dtmf_duration``: 2000 samples, 250 ms), ``last_dtmf_duration`` is set to the total (each key's
length plus a 250 ms gap, in ms), and the application returns at once: a string longer than 99
characters is ignored, as FreeSWITCH does. No DTMF event fires on the channel (the keys go out, not
in). The far end hears the keys as they are sent: the simulator keeps what it heard per channel
(:func:`far_end_heard`), the sending channel's ``uuid_send_dtmf`` too.
"""

from __future__ import annotations

import logging
import re

import gevent

from freeswitch.sim.appcore import BREAK, DONE, HANGUP, _atoi, app, media_wait, play
from freeswitch.sim.channel import Channel
from freeswitch.sim.dialstring import separate_string

log = logging.getLogger("freeswitch.sim")


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
            from freeswitch.sim.transfer import session_transfer

            session_transfer(channel, target[0], None, target[2] if len(target) > 2 else channel.profile.context)


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
# Sending digits
# ---------------------------------------------------------------------------

DEFAULT_DURATION = 2000   # samples (switch_core_default_dtmf_duration)
MIN_DURATION, MAX_DURATION = 400, 192000
_KEYS = set("0123456789*#ABCDabcdwW")
_HEARD_KEPT = 2000        # channels whose far end's digits are kept (the oldest go first)


def far_end_heard(switch, uuid: str) -> str:
    """The keys channel ``uuid``'s far end has heard so far (``w``/``W`` pauses not included)."""
    return "".join(switch.__dict__.get("far_end_dtmf", {}).get(uuid, []))


def send_dtmf(channel: Channel, text: str) -> bool:
    """switch_core_session_send_dtmf_string; False when nothing was sent."""
    if not text or not channel.is_up:
        return False
    if text.startswith("~"):
        text = text[1:]
    if len(text) > 99:
        log.error("Attempt to send very large dtmf string ignored!")
        return False
    groups = separate_string(text, "+", limit=256)
    if groups:
        if not (channel.answered or channel.early):
            channel.pre_answer()
    keys: list[tuple[str, int]] = []
    total = 0
    for group in groups:
        duration = DEFAULT_DURATION
        digits, at, ms = group.partition("@")
        if at and _atoi(ms) > MIN_DURATION // 8:
            duration = _atoi(ms) * 8
        for key in digits:
            if key not in _KEYS:
                continue
            d = duration
            if key not in "wW":
                d = min(max(d, MIN_DURATION), MAX_DURATION)
            keys.append((key, d))
            total += d + 250 * 8
    if not keys:
        return False
    channel.set_var("last_dtmf_duration", str(total // 8))
    heard = channel.switch.__dict__.setdefault("far_end_dtmf", {})
    heard.setdefault(channel.uuid, [])
    while len(heard) > _HEARD_KEPT:
        heard.pop(next(iter(heard)))
    channel.greenlets.append(gevent.spawn(_transmit, channel, keys))
    return True


def _transmit(channel: Channel, keys: list[tuple[str, int]]) -> None:
    # The endpoint's RTP queue: one key after the other, each its tone length; w/W are pauses of their own.
    clock = channel.switch.clock
    heard = channel.switch.__dict__.setdefault("far_end_dtmf", {}).setdefault(channel.uuid, [])
    for key, samples in keys:
        if not channel.is_up:
            return
        if key == "w":
            clock.sleep(0.5)
            continue
        if key == "W":
            clock.sleep(1.0)
            continue
        clock.sleep(samples / 8000.0)
        heard.append(key)


@app("send_dtmf")
def app_send_dtmf(channel: Channel, arg: str) -> None:
    """``send_dtmf <digits>[@<ms>]``: the keys go to the far end (module docstring); returns at once."""
    send_dtmf(channel, arg)

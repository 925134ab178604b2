"""The far end of a leg: its SIP answer to our INVITE (ringing, answer or failure) and, once answered, the
person's script (digits pressed, hanging up), as a scenario's :class:`~freeswitch.sim.scenario.Behaviour` says."""

from __future__ import annotations

from freeswitch.sim import agents, sofia
from freeswitch.sim.channel import Channel
from freeswitch.sim.scenario import Behaviour


def press_dtmf(channel: Channel, digit: str, duration: int = 2000, source: str = "RTP") -> None:
    """A digit arrives on the channel: the DTMF event fires and apps can read it."""
    if not channel.is_up:
        return
    channel.last_dtmf_duration = str(duration)
    channel.dtmf_log.append(digit)
    channel.set_var("last_dtmf_duration", str(duration))
    channel.fire("DTMF", extra=[("DTMF-Digit", digit), ("DTMF-Duration", str(duration)), ("DTMF-Source", source)])
    channel.dtmf_queue.put(digit)
    channel.dtmf_evt.set()


def far_end(channel: Channel, b: Behaviour, leg_timeout: float | None) -> None:
    """Ring, then answer or fail as the behaviour says (runs while originate waits)."""
    clock = channel.switch.clock
    cause = b.failure_cause
    # Provisional response first: 180 (or 183 with early media) a moment after the INVITE,
    # except for outcomes that fail at once (unallocated, congestion) and failures after no ringing
    # (`ring: 0`: a 486 straight after the INVITE).
    if (cause and b.ring == 0) or channel.name.startswith("loopback/"):
        # (A loopback A leg answers without ringing itself: its B leg is the one that rings.)
        clock.sleep(0.02 if cause else 0.0)
    elif cause not in ("UNALLOCATED_NUMBER", "NORMAL_CIRCUIT_CONGESTION", "NORMAL_TEMPORARY_FAILURE",
                       "NO_ROUTE_DESTINATION", "INVALID_NUMBER_FORMAT"):
        clock.sleep(min(0.1, b.ring or 0.1))
        if not channel.is_up:
            return
        _far_end_responds(channel)
        if b.early_media:
            channel.pre_answer()
        else:
            channel.ring()
    if b.ring is None:
        return  # rings until the originate gives up
    wait = max(0.0, b.ring - (0.1 if channel.progress_us or channel.early else 0.0))
    if leg_timeout is not None and leg_timeout < b.ring:
        clock.sleep(leg_timeout)
        channel.hangup("NO_ANSWER")
        return
    clock.sleep(wait)
    if not channel.is_up:
        return
    _far_end_responds(channel)
    if cause:
        sofia.far_end_refused(channel, cause)
        channel.hangup(cause, remote=True)
    else:
        channel.answer()


def _far_end_responds(channel: Channel) -> None:
    # The first SIP response tells sofia where the far end is (Caller-Network-Addr from then on).
    if sofia.is_sofia(channel) and not channel.profile.network_addr:
        channel.profile.network_addr = "127.0.0.1"


def caller_script(channel: Channel, b: Behaviour) -> None:
    """Once answered: the person presses digits at their moments and hangs up when they mean to."""
    clock = channel.switch.clock
    start = clock.now()
    events: list[tuple[float, str]] = []
    for at, digits in b.dtmf:
        for i, d in enumerate(digits):
            events.append((at + i * b.dtmf_interval, d))
    hangup_after = agents.effective_hangup_after(b)
    if hangup_after is not None:
        events.append((hangup_after, ""))
    if b.persistent:
        agents.start(channel, b, press_dtmf)
    events.sort(key=lambda e: (e[0], e[1] == ""))
    for at, digit in events:
        delay = start + at - clock.now()
        if delay > 0:
            if channel.hung_up.wait(clock.real(delay)):
                return
        if not channel.is_up:
            return
        if digit in ("W", "w"):
            continue
        if digit:
            press_dtmf(channel, digit)
        else:
            channel.hangup("NORMAL_CLEARING", remote=True)
            return

"""The variables switch_channel_set_timestamps writes when a channel is hung up: the DTMF log, the stamps and
epochs, the last application, the caller id, and durations and bill times (what CDRs are made of)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from freeswitch.sim.channel import Channel


def set_timestamps(channel: "Channel") -> None:
    """Set them on ``channel`` in FreeSWITCH's order (the order of its ``variable_*`` headers)."""
    from freeswitch.sim.channel import _stamp

    created, answered = channel.created_us, channel.answered_us
    end = channel.hangup_us or channel.switch.clock.now_us()
    progress, pmedia = channel.progress_us, channel.progress_media_us
    # profile_start_*: when the current caller profile was made (a transfer or a uuid_bridge makes one).
    profile_created = created if channel.profile.created_us is None else channel.profile.created_us
    created_stamp = _stamp(created)
    # The digits received come first (the DTMF log), then the stamps, epochs and the last application.
    pairs = [("digits_dialed", "".join(channel.dtmf_log) or "none"),
             ("start_stamp", created_stamp), ("profile_start_stamp", _stamp(profile_created))]
    if answered:
        pairs.append(("answer_stamp", _stamp(answered)))
    if progress:
        pairs.append(("progress_stamp", _stamp(progress)))
    if pmedia:
        pairs.append(("progress_media_stamp", _stamp(pmedia)))
    pairs.append(("end_stamp", _stamp(end)))
    for name, us in (("start", created), ("profile_start", profile_created), ("answer", answered),
                     ("bridge", channel.bridged_us), ("last_hold", 0)):
        pairs.append((f"{name}_epoch", str(us // 1_000_000)))
        pairs.append((f"{name}_uepoch", str(us)))
    pairs += [("hold_accum_seconds", "0"), ("hold_accum_usec", "0"), ("hold_accum_ms", "0")]
    for name, us in (("resurrect", 0), ("progress", progress), ("progress_media", pmedia), ("end", end)):
        pairs.append((f"{name}_epoch", str(us // 1_000_000)))
        pairs.append((f"{name}_uepoch", str(us)))
    p = channel.profile
    last_app, last_arg = channel.app_log[-1] if channel.app_log else (None, None)
    pairs += [("last_app", last_app), ("last_arg", last_arg)]
    pairs.append(("caller_id", f'"{p.caller_id_name}" <{p.caller_id_number}>' if p.caller_id_name
                  else p.caller_id_number))
    # Set in this order: the order of a channel's variables is the order of its variable_* headers.
    channel.set_vars(pairs)

    # Seconds are differences of whole epochs (FreeSWITCH: 2.4 s spanning 3 epoch seconds is billsec 3);
    # milliseconds and microseconds are exact.
    def spans(a_us: int, b_us: int, div: int) -> str:
        if not a_us or not b_us:
            return "0"
        if div == 1_000_000:
            return str(b_us // div - a_us // div)
        return str((b_us - a_us) // div)

    pairs = []
    for dname, bname, suffix, div in (("duration", "billsec", "sec", 1_000_000),
                                      ("mduration", "billmsec", "msec", 1_000),
                                      ("uduration", "billusec", "usec", 1)):
        billed = spans(answered, end, div)
        answered_after = spans(created, answered, div)
        pairs += [
            (dname, spans(created, end, div)),
            (bname, billed),
            (f"progress{suffix}", spans(created, progress, div)),
            (f"answer{suffix}", answered_after),
            (f"wait{suffix}", answered_after),
            (f"progress_media{suffix}", spans(created, pmedia, div)),
            (f"flow_bill{suffix}", billed),
        ]
    channel.set_vars(pairs)

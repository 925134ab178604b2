"""Caller profiles (switch_caller.c): the one a channel's events show as ``Caller-*``, and the copies of
other legs' profiles they show as ``Other-Leg-*``.

As FreeSWITCH 1.10 keeps them (switch_channel.c, switch_ivr_originate.c, switch_ivr_bridge.c):

* A leg dialled for a channel (``bridge``, ``att_xfer``: switch_core_session_outgoing_channel with a
  session) starts from a copy of that channel's profile — its caller id, original caller id, ANI,
  network address, source, context and dialplan — with its own destination and callee ``Outbound Call``
  <destination>; it gets a clone of the channel's profile as its *originator* profile at once, and the
  channel gets a clone of the answered leg's profile as its *originatee* profile when the originate
  succeeds. ``uuid_bridge`` sets them anew on both legs.
* A clone is switch_caller_profile_dup: no Profile-Index, Logical-Direction ``inbound`` (the field is
  not copied, and 0 is inbound), the fields as they were then. An originatee clone shows the times of
  the profile copied (its ``old_times``); an originator clone gets a zeroed timetable whose progress and
  progress-media times the dialled leg fills when it rings or gets early media.
* Events carry ``Other-Type`` and the clone set last (switch_channel_event_set_basic_data): the clones
  stay on the profile after the bridge ends, until CHANNEL_DESTROY or until the profile is replaced.
* A transfer (switch_ivr_session_transfer) or a uuid_bridge replaces the profile with a copy
  (switch_channel_set_caller_profile): Profile-Index counts up, the new profile was created at that
  moment, its transfer and bridge times start at 0, and it has no clones.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from freeswitch.sim.channel import Channel


@dataclass
class Profile:
    """The caller profile (switch_caller_profile_t) fields that events carry."""

    direction: str
    destination_number: str
    caller_id_name: str = ""
    caller_id_number: str = "0000000000"
    orig_caller_id_name: str = ""
    orig_caller_id_number: str = "0000000000"
    callee_id_name: str = ""
    callee_id_number: str = ""
    network_addr: str = ""
    ani: str = "0000000000"
    dialplan: str = "XML"
    context: str = "default"
    source: str = "src/switch_ivr_originate.c"
    rdnis: str = ""
    username: str = ""
    index: int = 1
    #: When this profile was made; None for the one the channel was created with (its creation time).
    created_us: int | None = None
    originator: "ProfileClone | None" = None
    originatee: "ProfileClone | None" = None


#: The fields switch_caller_profile_dup copies (the text ones; not the index, times or clones).
COPIED = tuple(f.name for f in fields(Profile) if f.name not in ("index", "created_us", "originator", "originatee"))


class ProfileClone:
    """A copy of a channel's profile as it was (switch_caller_profile_dup), with that channel's uuid and name.

    ``times``: profile-created, created, answered, progress, progress-media, hangup, transfer, resurrect,
    bridged, last-hold, hold-accum (switch_channel_timetable_t).
    """

    __slots__ = ("profile", "uuid", "chan_name", "times")

    def __init__(self, profile: Profile, uuid: str, chan_name: str, times: list[int]):
        self.profile = profile
        self.uuid = uuid
        self.chan_name = chan_name
        self.times = times

    def headers(self, prefix: str) -> list[tuple[str, str]]:
        """switch_caller_profile_event_set_data on the clone."""
        return headers(self.profile, prefix, self.uuid, self.chan_name, self.times, None, "inbound")


def timetable(channel: "Channel") -> list[int]:
    """The channel's current profile's times, in switch_channel_timetable_t's order."""
    created = channel.created_us
    p_created = channel.profile.created_us
    return [created if p_created is None else p_created, created, channel.answered_us, channel.progress_us,
            channel.progress_media_us, channel.hangup_us, channel.transfer_us, 0, channel.bridged_us, 0, 0]


def clone(channel: "Channel", keep_times: bool) -> ProfileClone:
    """switch_caller_profile_clone of the channel's profile: with its times as they are (an originatee clone),
    or with a zeroed timetable (what switch_channel_set_originator_caller_profile gives the clone)."""
    p = channel.profile
    copy = Profile(**{name: getattr(p, name) for name in COPIED})
    return ProfileClone(copy, channel.uuid, channel.name, timetable(channel) if keep_times else [0] * 11)


def set_originator(channel: "Channel", other: ProfileClone) -> None:
    """switch_channel_set_originator_caller_profile: events show ``other`` as ``Other-Type: originator``."""
    channel.profile.originator = other
    channel.other_type = "originator"


def set_originatee(channel: "Channel", other: ProfileClone) -> None:
    """switch_channel_set_originatee_caller_profile: events show ``other`` as ``Other-Type: originatee``."""
    channel.profile.originatee = other
    channel.other_type = "originatee"


def other_leg(channel: "Channel") -> tuple[str, ProfileClone] | None:
    """The Other-Type and clone the channel's events carry: the kind set last, if its profile has one."""
    p = channel.profile
    kind = channel.other_type
    other = p.originator if kind == "originator" else p.originatee if kind == "originatee" else None
    return None if other is None else (kind, other)


def step(channel: "Channel") -> None:
    """switch_channel_step_caller_profile: the channel's profile is replaced by a copy (see the module text)."""
    old = channel.profile
    channel.profile = replace(old, index=old.index + 1, created_us=channel.switch.clock.now_us(),
                              originator=None, originatee=None)
    # switch_channel_set_caller_profile gives the new profile a fresh timetable and copies only the
    # created, answered, progress, progress-media and hangup times into it.
    channel.transfer_us = 0
    channel.bridged_us = 0


def dialled_from(caller: "Channel", destination: str) -> Profile:
    """The profile of a leg ``caller`` dials (switch_ivr_originate's caller_profile_override, a copy of the
    caller's): the caller's fields, its own destination, callee ``Outbound Call`` <destination>."""
    p = caller.profile
    copy = Profile(**{name: getattr(p, name) for name in COPIED})
    copy.destination_number = destination
    copy.callee_id_name, copy.callee_id_number = "Outbound Call", destination
    return copy


def ringing(channel: "Channel") -> None:
    """switch_channel_perform_mark_ring_ready_value: the progress time goes to the originator clone, and to
    the originator's own profile if it had none."""
    other = channel.profile.originator
    if other is None:
        return
    at = channel.progress_us
    origin = channel.switch.locate(other.uuid)
    if origin is not None and not origin.progress_us:
        origin.progress_us = at
    other.times[3] = at


def early_media(channel: "Channel") -> None:
    """switch_channel_perform_mark_pre_answered: the progress-media time goes to the originator clone and
    to the originator's own profile."""
    other = channel.profile.originator
    if other is None:
        return
    at = channel.progress_media_us
    origin = channel.switch.locate(other.uuid)
    if origin is not None:
        origin.progress_media_us = at
    other.times[4] = at


class _Names:
    """The caller-profile header names under one prefix (``Caller``, ``Other-Leg``, ``Channel``), made once."""

    def __init__(self, prefix: str):
        for field in ("Direction", "Logical-Direction", "Username", "Dialplan", "Caller-ID-Name", "Caller-ID-Number",
                      "Orig-Caller-ID-Name", "Orig-Caller-ID-Number", "Callee-ID-Name", "Callee-ID-Number",
                      "Network-Addr", "ANI", "Destination-Number", "Unique-ID", "Source", "Context", "RDNIS",
                      "Channel-Name", "Profile-Index"):
            setattr(self, field.lower().replace("-", "_"), f"{prefix}-{field}")
        self.times = tuple(f"{prefix}-{field}" for field in (
            "Profile-Created-Time", "Channel-Created-Time", "Channel-Answered-Time", "Channel-Progress-Time",
            "Channel-Progress-Media-Time", "Channel-Hangup-Time", "Channel-Transfer-Time", "Channel-Resurrect-Time",
            "Channel-Bridged-Time", "Channel-Last-Hold", "Channel-Hold-Accum"))
        self.flags = tuple(f"{prefix}-{field}" for field in ("Screen-Bit", "Privacy-Hide-Name", "Privacy-Hide-Number"))


_NAMES: dict[str, _Names] = {}


def headers(p: Profile, prefix: str, uuid: str, chan_name: str, times: Sequence[int], index: str | None,
            logical_direction: str) -> list[tuple[str, str]]:
    """switch_caller_profile_event_set_data: empty fields are left out."""
    n = _NAMES.get(prefix)
    if n is None:
        n = _NAMES[prefix] = _Names(prefix)
    h = [(n.direction, p.direction), (n.logical_direction, logical_direction)]
    if p.username:
        h.append((n.username, p.username))
    if p.dialplan:
        h.append((n.dialplan, p.dialplan))
    if p.caller_id_name:
        h.append((n.caller_id_name, p.caller_id_name))
    if p.caller_id_number:
        h.append((n.caller_id_number, p.caller_id_number))
    # The original caller id is written when the caller id is set (an unset original adds nothing).
    if p.orig_caller_id_name and p.caller_id_name:
        h.append((n.orig_caller_id_name, p.orig_caller_id_name))
    if p.orig_caller_id_number and p.caller_id_number:
        h.append((n.orig_caller_id_number, p.orig_caller_id_number))
    if p.callee_id_name:
        h.append((n.callee_id_name, p.callee_id_name))
    if p.callee_id_number:
        h.append((n.callee_id_number, p.callee_id_number))
    if p.network_addr:
        h.append((n.network_addr, p.network_addr))
    if p.ani:
        h.append((n.ani, p.ani))
    if p.destination_number:
        h.append((n.destination_number, p.destination_number))
    h.append((n.unique_id, uuid))
    if p.source:
        h.append((n.source, p.source))
    if p.context:
        h.append((n.context, p.context))
    if p.rdnis:
        h.append((n.rdnis, p.rdnis))
    h.append((n.channel_name, chan_name))
    if index is not None:
        h.append((n.profile_index, index))
    h += zip(n.times, map(str, times))
    h += zip(n.flags, ("true", "false", "false"))
    return h

"""The ``conference`` application as mod_conference 1.10 runs it, at the level of events and variables.

* ``conference <name>[@<profile>][+[<pin>]][+flags{<flag>|...}]``: the channel (answered if it was not) joins
  the room, which is created by its first member (a dynamic conference, with its own ``conference_uuid``).
  Variables, in mod_conference's order: ``conference_name``, ``app_session_uuid`` (the room's uuid),
  ``conference_member_id`` (a switch-wide counter, as next_member_id), ``conference_moderator``,
  ``conference_ghost``, ``conference_uuid``, ``conference_call_key``
  (``conference_<name>_<domain>_<caller_id_number>``, unset again when the member leaves).
* Members stay (CHANNEL_EXECUTE_COMPLETE only when they leave) while others come and go: a second
  member joining or one leaving changes nothing for the rest, unless the room is destroyed — when a member
  with the ``endconf`` flag leaves, when the room falls below two members after having had two with a
  ``mintwo`` member, or when the last member leaves. Then every member left is hung up with NORMAL_CLEARING
  — unless its ``hangup_after_conference`` is false: its ``conference`` application returns and its
  dialplan (or socket) goes on.
* A member leaves when it hangs up, is transferred, or on ``uuid_break`` (the simulator's; mod_conference
  keeps the member) — or presses ``#``: the member's digits are read by the conference (conference_loop_input
  dequeues them, which is when the DTMF event fires) and fed to its caller controls, the stock
  conference.conf.xml's ``default`` group, whose ``#`` is ``hangup`` (conference_loop_hangup: the member
  leaves, the channel goes on with what follows ``conference``). ``conference_controls=none`` on the channel
  (conference_member.c) or the ``dist-dtmf`` member flag turns the controls off; the group's other digits
  (mute, volume, energy) change nothing the simulator shows.

Far ends that react to company (a nailed-up agent, agents.py) put a callable in the channel's
``conference_join_hooks``: it is called with (that channel, the other member) whenever the two meet in a room.
"""

from __future__ import annotations

import itertools
import re

import gevent
import gevent.event

from freeswitch.sim.channel import Channel

_member_ids = itertools.count(1)
_FALSE = ("no", "off", "false", "f", "disabled", "inactive", "disallow", "0")  # switch_false


class Room:
    """One conference: its members in the order they joined, and what ends it."""

    def __init__(self, name: str, uuid: str):
        self.name = name
        self.uuid = uuid
        self.members: list[Channel] = []
        self.min = 0
        self.enforce_min = False
        self.over = gevent.event.Event()   # CFLAG_DESTRUCT: the room is being destroyed


def parse_target(arg: str) -> tuple[str, set[str]]:
    """The room's name and the member flags of a ``conference`` argument."""
    flags: set[str] = set()
    m = re.search(r"\+flags\{([^}]*)\}", arg)
    if m:
        flags = {f.strip().lower() for f in m.group(1).split("|") if f.strip()}
        arg = arg[:m.start()] + arg[m.end():]
    name = arg.split("@", 1)[0].split("+", 1)[0].strip()
    return name or "default", flags


def app_conference(channel: Channel, arg: str) -> None:
    """``conference <name>[@<profile>][+flags{...}]``: be a member until leaving or the room's end."""
    sw = channel.switch
    name, flags = parse_target(arg)
    rooms = sw.__dict__.setdefault("conferences", {})
    room = rooms.get(name)
    if room is None:
        room = rooms[name] = Room(name, sw.new_uuid())
    if not channel.answered:
        channel.answer()
    channel.set_var("conference_name", name)
    channel.set_var("app_session_uuid", room.uuid)
    member_id = str(channel.__dict__.setdefault("conference_member_number", next(_member_ids)))
    domain = sw.global_vars.get("domain", "127.0.0.1")  # the stock profile's domain is $${domain}
    channel.set_vars([("conference_member_id", member_id), ("conference_member_id", member_id),
                      ("conference_moderator", "true" if "moderator" in flags else "false"),
                      ("conference_ghost", "false"), ("conference_uuid", room.uuid)])
    if channel.get_var("conference_call_key") is None:
        channel.set_var("conference_call_key",
                        f"conference_{name}_{domain}_{channel.get_var('caller_id_number') or channel.profile.caller_id_number}")
    if "mintwo" in flags:
        room.min = 2
    others = list(room.members)
    room.members.append(channel)
    channel.__dict__["conference_room"] = room
    if room.min and len(room.members) >= room.min:
        room.enforce_min = True
    for other in others:  # whoever reacts to company learns of it
        for hook in other.__dict__.get("conference_join_hooks", ()):
            hook(other, channel)
        for hook in channel.__dict__.get("conference_join_hooks", ()):
            hook(channel, other)
    mark = channel.transfers
    controls = _controls_on(channel, flags)
    try:
        while channel.is_up and channel.transfers == mark and not room.over.is_set():
            if controls and _hangup_digit(channel):
                break
            wait = [channel.hung_up, channel.break_evt, channel.moved, room.over]
            gevent.wait(wait + [channel.dtmf_evt] if controls else wait, count=1)
            if channel.break_evt.is_set():
                channel.break_evt.clear()
                break
    finally:
        _leave(channel, room, flags, rooms)


def _leave(channel: Channel, room: Room, flags: set[str], rooms: dict) -> None:
    # conference_member_del, then what the conference thread does once CFLAG_DESTRUCT is set.
    if channel in room.members:
        room.members.remove(channel)
    channel.__dict__.pop("conference_room", None)
    channel.set_var("conference_call_key", None)
    if not room.over.is_set() and ("endconf" in flags or (room.min and room.enforce_min
                                                          and len(room.members) < room.min) or not room.members):
        room.over.set()
        if rooms.get(room.name) is room:
            rooms.pop(room.name, None)
        for member in list(room.members):
            if (member.get_var("hangup_after_conference") or "").strip().lower() not in _FALSE:
                member.hangup("NORMAL_CLEARING")


def _controls_on(channel: Channel, flags: set[str]) -> bool:
    """Whether the member's digits drive caller controls (not ``conference_controls=none``, not dist-dtmf)."""
    controls = (channel.get_var("conference_controls") or "default").strip().lower()
    return controls != "none" and "dist-dtmf" not in flags


def _hangup_digit(channel: Channel) -> bool:
    """Read the member's queued digits as the conference does; True when one was the ``hangup`` control."""
    channel.dtmf_evt.clear()
    hangup = False
    while not channel.dtmf_queue.empty():
        hangup = channel.dtmf_queue.get_nowait() == "#" or hangup
    return hangup


def room_of(channel: Channel) -> Room | None:
    """The conference the channel is a member of now, if any."""
    return channel.__dict__.get("conference_room")

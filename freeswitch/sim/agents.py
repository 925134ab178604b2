"""Agents as far ends: a ringing agent hangs up after its talk time; a nailed-up one stays and ends conversations.

A scenario rule for the numbers of agents (``user/<id>`` is dialled as ``<id>``) sets ``ring`` (how long the agent
takes to answer), ``talk_time`` (a number, a range or ``{lognormal: {mean, sigma}}``) and ``persistent``:

* not persistent: the agent hangs up ``talk_time`` after it answered (drawn per call; ``hangup_after``, when
  set, wins);
* persistent (nailed up): the agent never hangs up. Each time another member joins its conference
  (conference.py), it talks for a ``talk_time`` drawn for that conversation, then presses ``end_dtmf`` (if
  set; DTMF events on its channel) — how an agent's phone tells the platform it is done. The
  conversation is over sooner if the other member leaves.

The far end's script (farend.py) starts :func:`start` once the agent's leg is answered; ``press`` is
farend.press_dtmf, passed in so that this module imports neither farend nor the applications.
"""

from __future__ import annotations

from collections.abc import Callable

import gevent

from freeswitch.sim import population as pop
from freeswitch.sim.channel import Channel
from freeswitch.sim.conference import room_of
from freeswitch.sim.scenario import Behaviour


def effective_hangup_after(b: Behaviour) -> float | None:
    """When the far end hangs up (seconds after the answer): never for a persistent agent."""
    if b.persistent:
        return None
    if b.hangup_after is not None:
        return b.hangup_after
    return b.talk_time


def start(channel: Channel, b: Behaviour, press: Callable[[Channel, str], None]) -> None:
    """A persistent agent begins to wait for company (its conferences call the hook)."""
    if not b.persistent:
        return
    conversations = [0]

    def joined(me: Channel, other: Channel) -> None:
        k = conversations[0]
        conversations[0] += 1
        me.greenlets.append(gevent.spawn(_conversation, me, other, b, k, press))

    channel.__dict__.setdefault("conference_join_hooks", []).append(joined)


def talk_seconds(b: Behaviour, k: int) -> float | None:
    """How long the k-th conversation of a persistent agent lasts (None: until the other side leaves)."""
    dist = b.draws.get("talk_time")
    if dist is not None:
        return round(dist.draw(pop.conversation_rng(b.draw_key, k)), 3)
    return b.talk_time


def _conversation(me: Channel, other: Channel, b: Behaviour, k: int, press) -> None:
    seconds = talk_seconds(b, k)
    if seconds is None or not b.end_dtmf:
        return
    clock = me.switch.clock
    room = room_of(me)
    deadline = clock.now() + seconds
    while me.is_up and other.is_up and room is not None and room_of(me) is room and room_of(other) is room:
        remaining = deadline - clock.now()
        if remaining <= 0:
            for i, digit in enumerate(b.end_dtmf):
                if i and me.hung_up.wait(clock.real(b.dtmf_interval)):
                    return
                press(me, digit)
            return
        gevent.wait([me.hung_up, other.hung_up, me.moved, other.moved, room.over], timeout=clock.real(remaining), count=1)

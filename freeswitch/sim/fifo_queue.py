"""mod_fifo's queues (fifo nodes) and its ``fifo::info`` events: what the caller side (fifo.py) and the
consumer side (fifo_consumer.py) of the ``fifo`` application share."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import gevent.event

from freeswitch.sim.channel import Channel
from freeswitch.sim.events import SimEvent

MAX_PRI = 10
USAGE = ("<fifo name>[!<importance_number>] [in [<announce file>|undef] [<music file>|undef] [early|noans] "
         "| out [wait|nowait] [<announce file>|undef] [<music file>|undef]]")


@dataclass
class Node:
    """One fifo: its callers by priority slot, in arrival order."""

    name: str
    slots: list[list[Channel]] = field(default_factory=lambda: [[] for _ in range(MAX_PRI)])
    start_waiting: float = 0.0          # when its first waiting caller arrived (waiting_longer strategy)
    changed: gevent.event.Event = field(default_factory=gevent.event.Event)

    def count(self) -> int:
        """How many callers wait."""
        return sum(len(s) for s in self.slots)

    def remove(self, channel: Channel) -> bool:
        """Take ``channel`` out of the queue (it left); False if it was not in it."""
        for slot in self.slots:
            if channel in slot:
                slot.remove(channel)
                return True
        return False

    def pop(self) -> Channel | None:
        """The next caller: a VIP first, then the oldest of the lowest slot."""
        for slot in self.slots:
            for c in slot:
                if (c.get_var("fifo_vip") or "").lower() == "true":
                    slot.remove(c)
                    return c
        for slot in self.slots:
            if slot:
                return slot.pop(0)
        return None

    def wake(self) -> None:
        """Wake consumers waiting for a caller."""
        changed, self.changed = self.changed, gevent.event.Event()
        changed.set()


def nodes(switch) -> dict[str, Node]:
    """The switch's fifos by name (created on first use, as mod_fifo's create_node)."""
    return switch.__dict__.setdefault("fifo_nodes", {})


def node(switch, name: str) -> Node:
    """The fifo ``name`` (``!importance`` stripped), created when first used."""
    name = name.split("!", 1)[0]
    table = nodes(switch)
    if name not in table:
        table[name] = Node(name)
    return table[name]


def fifo_event(channel: Channel, name: str, action: str, extra: list | tuple = ()) -> None:
    """A ``fifo::info`` CUSTOM event with the channel's data (switch_channel_event_set_data), then its own headers."""
    sw = channel.switch
    if not sw.wants("CUSTOM", channel.uuid):
        return
    headers = sw.common("CUSTOM", "fifo::info") + channel.event_headers()
    headers += [("FIFO-Name", name), ("FIFO-Action", action)] + list(extra)
    sw.deliver(SimEvent("CUSTOM", headers, None, channel.uuid))


def _date(channel: Channel) -> str:
    # fifo_timestamp: "%Y-%m-%d %T" in local time, on the simulated clock.
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(channel.switch.clock.now()))


def _arg(value: str | None) -> str | None:
    # cleanup_fifo_arg: "undef" is no argument.
    return None if not value or value.lower() == "undef" else value


def _answer(channel: Channel) -> None:
    from freeswitch.sim import sofia
    from freeswitch.sim.calls import start_caller

    if channel.answered:
        return
    sofia.answer_inbound(channel)
    if channel.answer() and channel.profile.direction == "inbound":
        start_caller(channel)

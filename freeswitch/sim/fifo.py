"""mod_fifo's ``fifo`` application: callers wait in a named queue, consumers take the oldest and bridge to it.

As mod_fifo.c (fifo_function), with the variables and ``fifo::info`` events it sets:

* ``fifo <name> in [<announce>|undef] [<music>|undef] [early|noans]``: the caller is answered (unless
  ``noans``/``early``), pushed in slot ``fifo_priority`` (0-9, default 0; FIFO-Action ``push``,
  ``fifo_position``, ``fifo_priority``, ``fifo_status=WAITING``, ``fifo_timestamp``,
  ``fifo_push_timestamp``) and hears the music (``fifo_music`` by default; ``silence`` or none: it
  waits in silence) until a consumer takes it, it hangs up, or it presses a key of
  ``fifo_caller_exit_key``. Taken: ``fifo_serviced_uuid``/``fifo_serviced_by`` are set, the announce plays
  to it, and the application *returns* — the channel goes to CS_HIBERNATE until the consumer's bridge
  takes it to CS_EXCHANGE_MEDIA (its socket sees EXECUTE_COMPLETE before the bridge starts, and no
  CHANNEL_BRIDGE: that event is the consumer's). Left without being taken: ``fifo_status=ABORTED``,
  FIFO-Action ``abort``.
* ``fifo <name>[,<name>...] out [wait|nowait] [<announce>|undef] [<music>|undef]``: FIFO-Action
  ``consumer_start``, ``fifo_status=WAITING``; pops the longest-waiting caller (a ``fifo_vip=true`` caller
  first, then slot 0 to 9; with several fifos, the one whose callers have waited longest), FIFO-Actions
  ``caller_pop`` (the caller's) and ``consumer_pop`` (``FIFO-Caller-UUID``), plays the announce to the
  consumer, waits until the caller's ``fifo in`` has let go, answers and bridges to it as
  switch_ivr_multi_threaded_bridge (the consumer is the A leg: CHANNEL_BRIDGE/UNBRIDGE are its).
  ``fifo_status=TALKING``, ``fifo_target``, ``fifo_role`` (consumer / caller),
  ``fifo_epoch_start_bridge``, ``fifo_initiated_bridge``, ``fifo_bridge_role``; FIFO-Actions
  ``channel-consumer-start``, ``bridge-consumer-start``, ``bridge-caller-start`` and their ``-stop``s;
  then ``fifo_epoch_stop_bridge``, ``fifo_bridge_seconds`` and ``fifo_status`` WAITING (consumer) / DONE
  (caller). When the consumer leaves the bridge the caller (a B leg left in CS_EXCHANGE_MEDIA) is
  hung up; when the caller leaves, ``nowait`` returns and ``wait`` goes on after the wrap-up time
  (``fifo_consumer_wrapup_time``, default 5000 ms; ``fifo_status=WRAPUP``, ``consumer_wrapup``).
  ``nowait`` with nobody waiting returns at once; ``wait`` waits (hearing the music, if any). FIFO-Action
  ``consumer_stop`` when the consumer's fifo returns (``consumer_reentrance`` before each new wait).
* Music that cannot be played (a ``local_stream://moh`` whose directory has no files: FreeSWITCH without
  its music package) ends the caller's wait at once: ``abort``, ``fifo_status=ABORTED``. The simulator
  plays ``local_stream://`` sources as always there; a missing file is missing.
* A consumer that hangs up between taking a caller and bridging to it gives the caller back: the
  caller runs its ``fifo`` again as a VIP (``fifo_vip=true``), as mod_fifo does.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import gevent
import gevent.event

from freeswitch.sim import media
from freeswitch.sim import profile as profiles
from freeswitch.sim.appcore import HANGUP, _atoi, app, execute, media_wait, play
from freeswitch.sim.bridge import hold, leave, link, wait_bridged
from freeswitch.sim.calls import state_handler
from freeswitch.sim.channel import Channel
from freeswitch.sim.dialstring import separate_string
from freeswitch.sim.events import SimEvent

log = logging.getLogger("freeswitch.sim")

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


@app("fifo")
def app_fifo(channel: Channel, arg: str) -> None:
    """``fifo <name> in|out ...`` (module docstring)."""
    argv = separate_string(arg or "", " ", limit=5)
    if not arg.strip() or len(argv) < 2 or argv[1].lower() not in ("in", "out"):
        log.error("USAGE %s", USAGE)
        return
    names = [n for n in argv[0].split(",") if n]
    consumer = argv[1].lower() == "out"
    if not names or (not consumer and len(names) > 1):
        log.error("USAGE %s", USAGE)
        return
    moh = channel.get_var("fifo_music")
    announce = channel.get_var("fifo_announce")
    answer = 0
    if consumer:
        announce = argv[3] if len(argv) > 3 else announce
        moh = argv[4] if len(argv) > 4 else moh
    else:
        announce = argv[2] if len(argv) > 2 else announce
        moh = argv[3] if len(argv) > 3 else moh
        if len(argv) > 4:
            answer = {"noans": 1, "early": 2}.get(argv[4].lower(), 0)
    if moh and moh.lower() == "silence":
        moh = None
    announce, moh = _arg(announce), _arg(moh)
    fifos = [node(channel.switch, n) for n in names]
    if consumer:
        _consume(channel, argv, fifos, announce, moh, answer)
    else:
        _wait_in(channel, argv[0], fifos[0], announce, moh, answer, arg)


# ---------------------------------------------------------------------------
# fifo <name> in
# ---------------------------------------------------------------------------

def _wait_in(channel: Channel, name: str, fifo: Node, announce: str | None, moh: str | None, answer: int,
             arg: str) -> None:
    if answer == 0:
        _answer(channel)
    pri = channel.get_var("fifo_priority")
    p = min(max(_atoi(pri), 0), MAX_PRI - 1)
    if not fifo.count():
        fifo.start_waiting = channel.switch.clock.now()
    fifo_event(channel, name, "push", [("FIFO-Slot", str(p))])
    fifo.slots[p].append(channel)
    channel.set_var("fifo_position", str(len(fifo.slots[p])))
    if not pri:
        channel.set_var("fifo_priority", str(p))
    date = _date(channel)
    channel.set_vars([("fifo_status", "WAITING"), ("fifo_timestamp", date), ("fifo_push_timestamp", date),
                      ("fifo_serviced_uuid", None)])
    left = gevent.event.Event()  # FIFO_APP_BRIDGE_TAG cleared: the consumer may bridge now
    channel.__dict__["fifo_left"] = left
    channel.__dict__["fifo_handoff"] = gevent.event.AsyncResult()
    channel.__dict__["fifo_hibernating"] = gevent.event.Event()
    fifo.wake()
    exit_key = channel.get_var("fifo_caller_exit_key") or ""
    pressed: list[str] = []

    def on_digit(digit: str) -> bool:  # moh_on_dtmf: a key of fifo_caller_exit_key ends the wait
        if exit_key and digit in exit_key:
            pressed.append(digit)
            return True
        return False

    aborted = False
    serviced = None
    while channel.is_up:
        serviced = channel.get_var("fifo_serviced_uuid")
        if serviced:
            break
        if moh:
            outcome = play(channel, moh, on_digit)
        else:
            outcome = media_wait(channel, media.INFINITE, on_digit)
        if outcome == HANGUP or outcome == "hangup" or outcome == "notfound":
            aborted = True
            break
        if pressed:
            channel.set_var("fifo_caller_exit_key", pressed[0])
            aborted = True
            break
    if not aborted:
        if not serviced and channel.is_up:
            channel.hangup("NORMAL_CLEARING")
        elif serviced:
            other = channel.switch.channels.get(serviced)
            if other is None or not other.is_up:
                channel.hangup("NORMAL_CLEARING")
        if channel.is_up and announce:
            play(channel, announce)
    channel.break_evt.clear()
    left.set()
    if not aborted and channel.is_up:
        # switch_channel_set_state(CS_HIBERNATE): the application returns; the consumer bridges it.
        leave(channel, [("_fifo_hibernate", arg)], ("CS_HIBERNATE",), "CS_HIBERNATE")
        channel.break_evt.clear()
        return
    channel.set_vars([("fifo_status", "ABORTED"), ("fifo_timestamp", _date(channel))])
    fifo_event(channel, name, "abort")
    fifo.remove(channel)
    channel.__dict__.pop("fifo_handoff", None)


@state_handler("_fifo_hibernate")
def _hibernate(channel: Channel, arg: str) -> None:
    # CS_HIBERNATE until the consumer bridges it (CS_EXCHANGE_MEDIA: a B leg, hung up when the consumer
    # leaves), or gives it back (the consumer hung up first: fifo again, as a VIP).
    handoff = channel.__dict__.get("fifo_handoff")
    if handoff is None:
        return
    hibernating = channel.__dict__.get("fifo_hibernating")
    if hibernating is not None:
        hibernating.set()
    while channel.is_up and not handoff.ready():
        gevent.wait([handoff, channel.hung_up], count=1)
    if not channel.is_up:
        return
    channel.__dict__.pop("fifo_handoff", None)
    if handoff.get() == "requeue":
        channel.set_state("CS_EXECUTE")
        execute(channel, "fifo", arg)
        return
    wait_bridged(channel)


# ---------------------------------------------------------------------------
# fifo <name> out
# ---------------------------------------------------------------------------

def _pick(fifos: list[Node]) -> Node | None:
    # STRAT_WAITING_LONGER: the fifo whose callers have waited longest.
    best = None
    for f in fifos:
        if f.count() and (best is None or f.start_waiting < best.start_waiting):
            best = f
    return best


def _consume(channel: Channel, argv: list[str], fifos: list[Node], announce: str | None, moh: str | None,
             answer: int) -> None:
    name = argv[0]
    do_wait = True
    if len(argv) > 2:
        if argv[2].lower() == "nowait":
            do_wait = False
        elif argv[2].lower() != "wait":
            log.error("USAGE %s", USAGE)
            return
    my_id = channel.get_var("fifo_consumer_id") or channel.uuid
    if do_wait and answer == 0:
        _answer(channel)
    fifo_event(channel, name, "consumer_start")
    channel.set_vars([("fifo_status", "WAITING"), ("fifo_timestamp", _date(channel))])
    while channel.is_up:
        fifo = _pick(fifos)
        caller = fifo.pop() if fifo is not None else None
        if caller is None:
            if not do_wait:
                break
            waits = [channel.hung_up] + [f.changed for f in fifos]
            if moh:
                # consumer_read_frame_callback: the music stops when a caller arrives.
                stop = gevent.spawn(lambda: (gevent.wait(waits[1:], count=1), channel.break_evt.set()))
                try:
                    outcome = play(channel, moh)
                finally:
                    stop.kill(block=False)
                channel.break_evt.clear()
                if outcome == "hangup":
                    break
            else:
                gevent.wait(waits, count=1)
            continue
        if fifo is not None and not fifo.count():
            fifo.start_waiting = 0.0
        if not _serve(channel, name, caller, announce, my_id, answer):
            break
        if not do_wait or not channel.is_up:
            break
        if not _wrapup(channel, name):
            break
        fifo_event(channel, name, "consumer_reentrance")
    fifo_event(channel, name, "consumer_stop")


def _serve(channel: Channel, name: str, caller: Channel, announce: str | None, my_id: str, answer: int) -> bool:
    """Take ``caller`` and bridge to it; False when the consumer's loop must end."""
    fifo_event(caller, name, "caller_pop")
    fifo_event(channel, name, "consumer_pop", [("FIFO-Caller-UUID", caller.uuid)])
    announce = caller.get_var("fifo_override_announce") or announce
    if announce and play(channel, announce) == "hangup":
        _give_back(caller)
        return False
    caller.set_vars([("fifo_serviced_by", my_id), ("fifo_serviced_uuid", channel.uuid)])
    caller.break_evt.set()  # CF_BREAK: its music stops
    left = caller.__dict__.get("fifo_left")
    while channel.is_up and caller.is_up and left is not None and not left.is_set():
        gevent.wait([left, channel.hung_up, caller.hung_up], count=1)
    if not channel.is_up:
        # "appears to be abandoned by agent": the caller goes back to the queue as a VIP.
        caller.set_var("fifo_vip", "true")
        _give_back(caller)
        return False
    # switch_ivr_multi_threaded_bridge takes the caller once its session has left the application (its
    # socket application too, under an outbound socket) and hibernates.
    hibernating = caller.__dict__.get("fifo_hibernating")
    while channel.is_up and caller.is_up and hibernating is not None and not hibernating.is_set():
        gevent.wait([hibernating, channel.hung_up, caller.hung_up], count=1)
    handoff = caller.__dict__.get("fifo_handoff")
    if not channel.is_up:
        caller.set_var("fifo_vip", "true")
        _give_back(caller)
        return False
    if not caller.is_up or handoff is None:
        return True
    if answer in (0, 2):
        _answer(channel)
    # The caller profiles: each leg a new one, each the other's as its clone (switch_channel_step_caller_profile).
    profiles.step(channel)
    profiles.step(caller)
    profiles.set_originator(caller, profiles.clone(channel, keep_times=False))
    profiles.set_originatee(channel, profiles.clone(caller, keep_times=True))
    date, epoch = _date(channel), str(int(channel.switch.clock.now()))
    channel.set_vars([("fifo_status", "TALKING"), ("fifo_target", caller.uuid), ("fifo_timestamp", date),
                      ("fifo_epoch_start_bridge", epoch), ("fifo_role", "consumer")])
    caller.set_vars([("fifo_status", "TALKING"), ("fifo_timestamp", date), ("fifo_epoch_start_bridge", epoch),
                     ("fifo_target", channel.uuid), ("fifo_role", "caller")])
    p = channel.profile
    if p.direction == "inbound":
        cid_name = channel.get_var("callee_id_name") or channel.get_var("destination_number") or ""
        cid_number = channel.get_var("callee_id_number") or cid_name
    else:
        cid_name, cid_number = p.caller_id_name or "", p.caller_id_number or ""
    fifo_event(channel, name, "channel-consumer-start", [("FIFO-Type", "onhook"), ("FIFO-Caller-CID-Name", cid_name),
                                                         ("FIFO-Caller-CID-Number", cid_number)])
    fifo_event(channel, name, "bridge-consumer-start")
    fifo_event(caller, name, "bridge-caller-start")
    channel.set_vars([("signal_bond", caller.uuid), ("fifo_initiated_bridge", "true"), ("fifo_bridge_role", "consumer")])
    caller.set_vars([("signal_bond", channel.uuid), ("fifo_initiated_bridge", "true"), ("fifo_bridge_role", "caller")])
    started = channel.switch.clock.now()
    link(channel, caller)
    # switch_ivr_multi_threaded_bridge wakes the hibernating caller (CS_CONSUME_MEDIA), then bridges it.
    caller.set_state("CS_CONSUME_MEDIA")
    caller.set_state("CS_EXCHANGE_MEDIA")
    handoff.set("bridge")
    hold(channel, caller)
    talk = max(0.0, channel.switch.clock.now() - started)
    fifo_event(channel, name, "channel-consumer-stop", [("FIFO-Type", "onhook")] + _times("Consumer", talk))
    fifo_event(channel, name, "bridge-consumer-stop")
    fifo_event(caller, name, "bridge-caller-stop", _times("Caller", talk))
    end = int(channel.switch.clock.now())
    seconds = str(end - int(epoch))
    date = _date(channel)
    channel.set_vars([("fifo_epoch_stop_bridge", str(end)), ("fifo_bridge_seconds", seconds),
                      ("fifo_status", "WAITING"), ("fifo_timestamp", date)])
    caller.set_vars([("fifo_epoch_stop_bridge", str(end)), ("fifo_bridge_seconds", seconds),
                     ("fifo_status", "DONE"), ("fifo_timestamp", date)])
    return True


def _times(who: str, talk: float) -> list[tuple[str, str]]:
    us = int(talk * 1_000_000)
    return [(f"FIFO-{who}-Talk-Time-us", str(us)), (f"FIFO-{who}-Talk-Time-ms", str(us // 1000)),
            (f"FIFO-{who}-Talk-Time-s", str(us // 1_000_000)), (f"FIFO-{who}-Hold-Time-us", "0"),
            (f"FIFO-{who}-Hold-Time-ms", "0"), (f"FIFO-{who}-Hold-Time-s", "0")]


def _give_back(caller: Channel) -> None:
    # The consumer will not bridge: the caller's hibernation ends with its fifo run again.
    handoff = caller.__dict__.get("fifo_handoff")
    if handoff is not None and not handoff.ready():
        left = caller.__dict__.get("fifo_left")
        if left is not None and not left.is_set():
            left.wait(timeout=5)
        handoff.set("requeue")


def _wrapup(channel: Channel, name: str) -> bool:
    """The wrap-up between two callers of ``fifo ... out wait``; False if the consumer hung up."""
    ms = _atoi(channel.get_var("fifo_consumer_wrapup_time"), 5000) if channel.get_var(
        "fifo_consumer_wrapup_time") else 5000
    if ms or channel.get_var("fifo_consumer_wrapup_key"):
        channel.set_var("fifo_status", "WRAPUP")
        fifo_event(channel, name, "consumer_wrapup")
    if ms and media_wait(channel, ms / 1000.0) == HANGUP:
        return False
    channel.set_vars([("fifo_status", "WAITING"), ("fifo_timestamp", _date(channel))])
    return channel.is_up

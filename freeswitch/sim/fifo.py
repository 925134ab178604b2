"""mod_fifo's ``fifo`` application: callers wait in a named queue, consumers take the oldest and bridge to it.

As mod_fifo.c (fifo_function), with the variables and ``fifo::info`` events it sets (this module: the
application and its caller side; fifo_consumer.py: the consumer; fifo_queue.py: the queues and events):

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

import gevent
import gevent.event

from freeswitch.sim import media
from freeswitch.sim.appcore import HANGUP, _atoi, app, execute, media_wait, play
from freeswitch.sim.bridge import leave, wait_bridged
from freeswitch.sim.calls import state_handler
from freeswitch.sim.channel import Channel
from freeswitch.sim.dialstring import separate_string
from freeswitch.sim.fifo_consumer import consume
from freeswitch.sim.fifo_queue import MAX_PRI, USAGE, Node, _answer, _arg, _date, fifo_event, node

log = logging.getLogger("freeswitch.sim")


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
        consume(channel, argv, fifos, announce, moh, answer)
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

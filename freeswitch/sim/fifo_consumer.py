"""mod_fifo's consumer: ``fifo <name>[,<name>...] out [wait|nowait] ...`` (fifo.py describes both sides)."""

from __future__ import annotations

import logging

import gevent

from freeswitch.sim import profile as profiles
from freeswitch.sim.appcore import HANGUP, _atoi, media_wait, play
from freeswitch.sim.bridge import hold, link
from freeswitch.sim.channel import Channel
from freeswitch.sim.fifo_queue import USAGE, Node, _answer, _date, fifo_event

log = logging.getLogger("freeswitch.sim")


def _pick(fifos: list[Node]) -> Node | None:
    # STRAT_WAITING_LONGER: the fifo whose callers have waited longest.
    best = None
    for f in fifos:
        if f.count() and (best is None or f.start_waiting < best.start_waiting):
            best = f
    return best


def consume(channel: Channel, argv: list[str], fifos: list[Node], announce: str | None, moh: str | None,
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

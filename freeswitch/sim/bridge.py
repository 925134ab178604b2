"""Bridged legs: the ``bridge`` application, ``uuid_bridge``, and what a leg does when its partner leaves.

As switch_ivr_bridge.c (switch_ivr_multi_threaded_bridge, audio_bridge_on_exchange_media,
switch_ivr_uuid_bridge):

* ``bridge <dial string>`` dials the B leg (its far end follows the scenario), answers the A leg
  and holds both until one hangs up or is transferred away; the B leg's session runs ``_bridged``.
* While bridged both legs carry ``bridge_to`` (the partner's uuid: what ``uuid_transfer -bleg``
  reads and what the bridge clears at its end) besides ``signal_bond``, ``bridge_uuid``,
  ``bridge_channel`` and ``last_bridge_to``.
* The A leg leaves (hangs up, or a transfer takes it, which ends its bridge with a clean exit):
  the B leg, left in CS_EXCHANGE_MEDIA, hangs up with NORMAL_CLEARING — unless it was itself
  transferred, or the bridge is an att_xfer consultation (CF_INNER_BRIDGE).
* The B leg leaves: the A leg's ``bridge`` returns and its dialplan (or its socket) goes on;
  ``hangup_after_bridge=true`` hangs it up then, unless the A leg itself was transferred.
* Each leg runs the messages queued for it meanwhile (``uuid_broadcast``'s execute): FreeSWITCH's
  bridge loop parses private events (unbridge, run the application, rebridge). That is how
  ``att_xfer`` runs on a leg that is in a bridge.
* ``uuid_bridge <a> <b>``: both legs leave what they run (CS_HIBERNATE) and ``a``, the originator,
  bridges ``b``. When either leaves the other hangs up: the originator has run its last
  instruction, the originatee is a B leg left in CS_EXCHANGE_MEDIA.
* An A leg whose B leg was uuid_bridged elsewhere as the originatee (att_xfer handing the held
  party to the target) stays in ``bridge`` — hung up or not — until that new bridge ends: the
  multi-threaded bridge waits while its peer is in CS_EXCHANGE_MEDIA. A click2call agent that
  completes an attended transfer is hung up at once, but its CHANNEL_HANGUP_COMPLETE comes when
  the customer's call with the target ends (as a real FreeSWITCH 1.10 does).
"""

from __future__ import annotations

import re

import gevent
import gevent.event
import gevent.queue

from freeswitch.sim.api import command
from freeswitch.sim.apps import app
from freeswitch.sim.channel import STATE_NUMBERS, Channel
from freeswitch.sim.dialstring import DialStringError, parse_dialstring, separate_string

DIALSTATUS = {"USER_BUSY": "BUSY", "NO_ANSWER": "NOANSWER", "NO_USER_RESPONSE": "NOANSWER",
              "ORIGINATOR_CANCEL": "CANCEL", "CALL_REJECTED": "BUSY", "UNALLOCATED_NUMBER": "INVALIDARGS",
              "NORMAL_CIRCUIT_CONGESTION": "CONGESTION", "SUCCESS": "ANSWER"}

_TRUE = ("true", "1", "yes", "on")


def atoi(text: str | None, default: int = 0) -> int:
    """C's atoi on a channel variable: the leading integer, or ``default``."""
    m = re.match(r"\s*([+-]?\d+)", text or "")
    return int(m.group(1)) if m else default


def leave(channel: Channel, apps: list, states: tuple[str, ...], pending_state: str) -> None:
    """The channel stops what it runs and will run ``apps`` instead (a transfer or a uuid_bridge).

    Channel-State-Number becomes the state FreeSWITCH is taking it to (``pending_state``) while the
    interrupted application completes; ``states`` are entered (CHANNEL_STATE) before ``apps`` run.
    """
    channel.transfer_to = list(apps)
    channel.transfer_states = tuple(states)
    channel.transfers += 1
    channel.state_num = STATE_NUMBERS[pending_state]
    # Whoever waits on `moved` wakes now; later waiters get a fresh event for the next transfer.
    moved, channel.moved = channel.moved, gevent.event.Event()
    moved.set()
    channel.break_evt.set()


def push_transfer_history(channel: Channel, entry: str) -> None:
    """``transfer_source`` = entry; ``transfer_history`` gets it pushed (an ARRAY:: once there are two)."""
    channel.set_var("transfer_source", entry)
    old = channel.get_var("transfer_history")
    if not old:
        channel.set_var("transfer_history", entry)
    elif old.startswith("ARRAY::"):
        channel.set_var("transfer_history", f"{old}|:{entry}")
    else:
        channel.set_var("transfer_history", f"ARRAY::{old}|:{entry}")


def link(a: Channel, b: Channel) -> None:
    """Bridge ``a`` (originator) and ``b``: partners, the bridge variables, CHANNEL_BRIDGE."""
    now = a.switch.clock.now_us()
    a.bridged_us = b.bridged_us = now
    a.bridged_to, b.bridged_to = b, a
    a.other_type, b.other_type = "originatee", "originator"
    for c, o, role in ((a, b, "originator"), (b, a, "originatee")):
        c.set_vars([("bridge_channel", o.name), ("bridge_uuid", o.uuid), ("signal_bond", o.uuid),
                    ("bridge_to", o.uuid), ("last_bridge_to", o.uuid), ("last_bridge_role", role)])
    a.fire("CHANNEL_BRIDGE", pre=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)])


def unlink(a: Channel, b: Channel) -> None:
    """The end of a's bridge with b: CHANNEL_UNBRIDGE, then partners and ``bridge_to`` cleared.

    A leg that has meanwhile been bridged elsewhere (a transfer ran faster than this teardown)
    keeps its new partner.
    """
    a.fire("CHANNEL_UNBRIDGE", pre=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)])
    for c, o in ((a, b), (b, a)):
        if c.bridged_to is o:
            c.bridged_to = None
            c.other_type = None
        if c.get_var("bridge_to") == o.uuid:
            c.set_var("bridge_to", None)


def wait_bridged(channel: Channel, peer: Channel | None = None) -> None:
    """Hold the channel until it (or ``peer``) hangs up or is transferred; queued messages run meanwhile."""
    from freeswitch.sim.outbound import run_message

    mine = channel.transfers
    theirs = peer.transfers if peer is not None else 0

    def holding() -> bool:
        if not channel.is_up or channel.transfers != mine:
            return False
        return peer is None or (peer.is_up and peer.transfers == theirs)

    while holding():
        try:
            frame = channel.messages.get_nowait()
        except gevent.queue.Empty:
            frame = None
        if frame is not None:
            run_message(channel, frame)
            continue
        waiter = gevent.spawn(channel.messages.peek)
        waits = [waiter, channel.hung_up, channel.break_evt, channel.moved]
        if peer is not None:
            waits += [peer.hung_up, peer.moved]
        try:
            gevent.wait(waits, count=1)
        finally:
            waiter.kill(block=False)
        if channel.break_evt.is_set() and holding():
            channel.break_evt.clear()  # uuid_break on a bridged leg stops nothing


def b_leg_session(b: Channel) -> None:
    """The session of a leg that ``bridge`` or ``att_xfer`` dialled: it is held until it hangs up or moves."""
    from freeswitch.sim.calls import run_session

    run_session(b, [("_bridged", None)])


@app("_bridged")
def _app_bridged(channel: Channel, arg: str) -> None:
    # The B leg in CS_EXCHANGE_MEDIA: whoever bridged it decides when it hangs up.
    wait_bridged(channel)


@app("bridge")
def app_bridge(channel: Channel, arg: str) -> None:
    """Dial a second leg and bridge it; the call continues when the other leg leaves."""
    from freeswitch.sim.calls import dial, start_caller

    try:
        ds = parse_dialstring(arg)
    except DialStringError as exc:
        _bridge_failed(channel, exc.cause)
        return
    timeout = atoi(channel.get_var("call_timeout")) or 60
    extra = list(getattr(channel, "exported", {}).items())
    p = channel.profile
    cid_name = channel.get_var("effective_caller_id_name") or p.caller_id_name
    cid_num = channel.get_var("effective_caller_id_number") or p.caller_id_number
    b, cause = dial(channel.switch, ds, timeout, cid_name, cid_num, extra_vars=extra, cancel=channel.hung_up)
    if b is None:
        _bridge_failed(channel, cause)
        return
    if not channel.is_up:
        b.hangup("ORIGINATOR_CANCEL")
        return
    if not channel.answered:
        channel.answer()
    start_caller(b)
    b.state = "CS_EXCHANGE_MEDIA"
    b.state_num = 5
    channel.set_var("originate_disposition", "SUCCESS")
    channel.set_var("DIALSTATUS", "SUCCESS")
    a_mark, b_mark = channel.transfers, b.transfers
    link(channel, b)
    b_session = b.session_greenlet = gevent.spawn(b_leg_session, b)
    wait_bridged(channel, b)
    a_moved, b_moved = channel.transfers != a_mark, b.transfers != b_mark
    if b.is_up and not b_moved:
        b.hangup("NORMAL_CLEARING")  # the A leg left: a B leg left alone in the bridge is hung up
    if b.hangup_cause is not None:
        channel.set_var("bridge_hangup_cause", b.hangup_cause)
        channel.set_var("last_bridge_hangup_cause", b.hangup_cause)
    b.set_var("last_bridge_hangup_cause", channel.hangup_cause or b.hangup_cause)
    unlink(channel, b)
    if not b_moved:
        b_session.join(timeout=5)
    elif not a_moved:
        _wait_exchange_media(b)
    if channel.is_up and not a_moved and (channel.get_var("hangup_after_bridge") or "").lower() in _TRUE:
        channel.hangup(b.hangup_cause or "NORMAL_CLEARING")


def _wait_exchange_media(b: Channel) -> None:
    # switch_ivr_multi_threaded_bridge, once the A leg's side of the bridge is over, waits while its
    # B leg is in CS_EXCHANGE_MEDIA. A B leg uuid_bridged elsewhere as the originatee (att_xfer handing
    # the held party to the target) is in CS_EXCHANGE_MEDIA again, of that new bridge: the A leg's
    # session — hung up or not — stays in `bridge` until that bridge ends.
    entry = b.__dict__.get("exchange_media")
    if entry is None:
        return
    mark, over = entry
    while b.is_up and b.transfers == mark and not over.is_set():
        gevent.wait([over, b.hung_up, b.moved], count=1)


def _bridge_failed(channel: Channel, cause: str) -> None:
    channel.set_var("originate_disposition", cause)
    channel.set_var("originate_failed_cause", cause)
    channel.set_var("DIALSTATUS", DIALSTATUS.get(cause, cause))
    if channel.is_up and (channel.get_var("continue_on_fail") or "true").lower() in ("false", "0", "no"):
        channel.hangup(cause)


# ---------------------------------------------------------------------------
# uuid_bridge
# ---------------------------------------------------------------------------

def uuid_bridge(a: Channel, b: Channel) -> bool:
    """switch_ivr_uuid_bridge: both legs leave what they run and ``a`` bridges ``b``; False if it cannot."""
    if not a.is_up or not b.is_up or not (a.answered or b.answered):
        return False
    epoch = a.switch.clock.now_us() // 1_000_000
    for c, o, role in ((a, b, "originator"), (b, a, "originatee")):
        c.set_vars([("bridge_channel", o.name), ("bridge_uuid", o.uuid), ("signal_bond", o.uuid)])
        push_transfer_history(c, f"{epoch}:{c.uuid}:uuid_br:{o.uuid}")
        c.__dict__["uuid_bridge_peer"] = o
        c.__dict__["uuid_bridge_ready"] = gevent.event.Event()
        leave(c, [("_uuid_bridged", role)], ("CS_HIBERNATE", "CS_RESET"), "CS_HIBERNATE")
    # The originatee will be the new bridge's B leg (CS_EXCHANGE_MEDIA) until that bridge ends.
    b.__dict__["exchange_media"] = (b.transfers, gevent.event.Event())
    return True


@app("_uuid_bridged")
def _app_uuid_bridged(channel: Channel, role: str) -> None:
    # One leg of a uuid_bridge. The originator waits for the originatee to have left what it ran
    # (uuid_bridge_on_soft_execute), then the two are bridged until one of them leaves.
    peer = channel.__dict__.pop("uuid_bridge_peer", None)
    ready = channel.__dict__.pop("uuid_bridge_ready", None)
    if peer is None or ready is None:
        return
    channel.set_state("CS_SOFT_EXECUTE" if role == "originator" else "CS_EXCHANGE_MEDIA")
    mine, theirs = channel.transfers, peer.transfers
    ready.set()
    if role != "originator":
        try:
            wait_bridged(channel, peer)
        finally:
            entry = channel.__dict__.get("exchange_media")
            if entry is not None:
                entry[1].set()
        return
    peer_ready = peer.__dict__.get("uuid_bridge_ready")
    while peer_ready is not None and not peer_ready.is_set() and channel.is_up and peer.is_up \
            and channel.transfers == mine and peer.transfers == theirs:
        gevent.wait([peer_ready, channel.hung_up, peer.hung_up, channel.moved, peer.moved], count=1)
    if not (channel.is_up and peer.is_up and channel.transfers == mine and peer.transfers == theirs):
        return
    link(channel, peer)
    wait_bridged(channel, peer)
    for c, o in ((channel, peer), (peer, channel)):
        if o.hangup_cause is not None:
            c.set_var("bridge_hangup_cause", o.hangup_cause)
            c.set_var("last_bridge_hangup_cause", o.hangup_cause)
    unlink(channel, peer)


@command("uuid_bridge")
def api_uuid_bridge(switch, arg, conn) -> str:
    """``uuid_bridge <uuid> <other_uuid> [<fallback_uuid>]``: both legs leave what they run and are bridged."""
    argv = separate_string(arg or "", " ", limit=4)
    if len(argv) < 2 or not arg.strip():
        return "-USAGE: <uuid> <other_uuid>\n"
    a = switch.channels.get(argv[0])
    for other in argv[1:3]:
        b = switch.channels.get(other or "")
        if a is not None and b is not None and uuid_bridge(a, b):
            return f"+OK {other}\n"
    return "-ERR Invalid uuid\n"

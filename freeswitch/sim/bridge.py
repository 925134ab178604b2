"""Bridged legs: the ``bridge`` application, ``uuid_bridge``, and what a leg does when its partner leaves.

As switch_ivr_bridge.c (switch_ivr_multi_threaded_bridge, audio_bridge_on_exchange_media,
switch_ivr_uuid_bridge):

* ``bridge <dial string>`` dials the B leg (its far end follows the scenario, its caller profile is
  a copy of the A leg's: profile.py), answers the A leg and holds both until one hangs up or is
  transferred away. The B leg runs no application: it is in CS_EXCHANGE_MEDIA (no CHANNEL_EXECUTE,
  no ``current_application``, no ``last_app``).
* The bridge gives the A leg the B leg's callee id (check_bridge_export) and the B leg the A leg's
  ``call_uuid`` until it ends. The originator/originatee profile clones the originate set stay on
  both legs' events (``Other-Type``, ``Other-Leg-*``) after the bridge ends.
* While bridged both legs carry ``bridge_to`` (the partner's uuid: what ``uuid_transfer -bleg``
  reads and what the bridge clears at its end) besides ``signal_bond``, ``bridge_uuid``,
  ``bridge_channel`` and ``last_bridge_to``.
* The A leg leaves (hangs up, or a transfer takes it, which ends its bridge with a clean exit):
  the B leg, left in CS_EXCHANGE_MEDIA, hangs up with NORMAL_CLEARING — unless it was itself
  transferred, or the bridge is an att_xfer consultation (CF_INNER_BRIDGE).
* The B leg leaves: the A leg's ``bridge`` returns and its dialplan (or its socket) goes on;
  ``hangup_after_bridge=true`` hangs it up then, unless the A leg itself was transferred. A B leg
  that hung up is torn down by its own session up to CHANNEL_HANGUP_COMPLETE before the A leg's bridge
  loop sees it (at its next frame) and fires CHANNEL_UNBRIDGE; the A leg's read lock on the B leg
  keeps the B leg's CHANNEL_DESTROY until after that.
* Each leg runs the messages queued for it meanwhile (``uuid_broadcast``'s execute): FreeSWITCH's
  bridge loop parses private events (unbridge, run the application, rebridge). That is how
  ``att_xfer`` runs on a leg that is in a bridge.
* ``uuid_bridge <a> <b>``: both legs get a new caller profile (Profile-Index 2, ...), each the
  other's as its originatee/originator clone, and ``b`` the caller id of ``a``; both leave what they
  run (CS_HIBERNATE, CS_RESET, CS_SOFT_EXECUTE) and ``a``, the originator, fires CHANNEL_EXECUTE
  ``uuid_bridge`` on both and bridges ``b`` (CS_EXCHANGE_MEDIA). When either leaves the other hangs
  up: the originator has run its last instruction, the originatee is a B leg left in CS_EXCHANGE_MEDIA.
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

from freeswitch.sim import profile as profiles
from freeswitch.sim.api import command
from freeswitch.sim.appcore import app
from freeswitch.sim.calls import state_handler
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
    """switch_ivr_multi_threaded_bridge up to CHANNEL_BRIDGE: ``a`` (the originator) takes a read lock on
    ``b``, gets its callee id (check_bridge_export) and is answered if it was not; partners, variables,
    CHANNEL_BRIDGE. :func:`unlink` ends it."""
    b.read_lock(a)
    pa, pb = a.profile, b.profile
    pa.callee_id_name, pa.callee_id_number = pb.callee_id_name, pb.callee_id_number
    if b.answered and not a.answered:
        a.answer()
    b.set_var("call_uuid", a.uuid)  # until the bridge ends
    now = a.switch.clock.now_us()
    a.bridged_us = b.bridged_us = now
    a.bridged_to, b.bridged_to = b, a
    a.last_bridged, b.last_bridged = b, a  # kept after the bridge: a session recording hears both (speech.py)
    for c, o, role in ((a, b, "originator"), (b, a, "originatee")):
        c.set_vars([("bridge_channel", o.name), ("bridge_uuid", o.uuid), ("signal_bond", o.uuid),
                    ("bridge_to", o.uuid), ("last_bridge_to", o.uuid), ("last_bridge_role", role)])
    a.fire("CHANNEL_BRIDGE", pre=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)])


def part(a: Channel, b: Channel) -> None:
    """The bridge loops are over: partners and ``bridge_to`` cleared (the profile clones stay).

    A leg that has meanwhile been bridged elsewhere (a transfer ran faster than this teardown)
    keeps its new partner.
    """
    for c, o in ((a, b), (b, a)):
        if c.bridged_to is o:
            c.bridged_to = None
        if c.get_var("bridge_to") == o.uuid:
            c.set_var("bridge_to", None)


def unlink(a: Channel, b: Channel) -> None:
    """The end of a's bridge with b (switch_ivr_multi_threaded_bridge's last steps): partners cleared,
    ``a`` lets ``b`` go, ``b``'s ``call_uuid`` is its own again, CHANNEL_UNBRIDGE on ``a``."""
    part(a, b)
    b.read_unlock(a)
    b.set_var("call_uuid", b.uuid)
    a.fire("CHANNEL_UNBRIDGE", pre=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)])


def reported(b: Channel) -> None:
    """Wait for a B leg that hung up in a bridge to be reported (CHANNEL_HANGUP_COMPLETE) by its own session.

    The hangup wakes the B leg's read at once and its session runs CS_HANGUP and CS_REPORTING, while the
    A leg's bridge loop only sees the end at its next frame: FreeSWITCH fires the B leg's
    CHANNEL_HANGUP_COMPLETE before the A leg's CHANNEL_UNBRIDGE.
    """
    b.reported.wait(timeout=5)


def hold(a: Channel, b: Channel) -> tuple[bool, bool]:
    """The A leg in its bridge with ``b`` from CHANNEL_BRIDGE (:func:`link`, done) to CHANNEL_UNBRIDGE:
    returns whether ``a`` and ``b`` were transferred away meanwhile."""
    a_mark, b_mark = a.transfers, b.transfers
    try:
        wait_bridged(a, b)
        a_moved, b_moved = a.transfers != a_mark, b.transfers != b_mark
        part(a, b)
        if b_moved:
            if not a_moved:
                _wait_exchange_media(b)
        elif b.is_up:
            # The A leg left: a B leg left alone in CS_EXCHANGE_MEDIA is hung up (the A leg's cause
            # reached it as last_bridge_hangup_cause when the A leg hung up).
            if a.hangup_cause is not None:
                b.set_var("last_bridge_hangup_cause", a.hangup_cause)
            b.hangup("NORMAL_CLEARING")
        else:
            reported(b)
        if a.hangup_cause is not None:
            b.set_var("bridge_hangup_cause", a.hangup_cause)
        if b.hangup_cause is not None:
            a.set_vars([("bridge_hangup_cause", b.hangup_cause), ("last_bridge_hangup_cause", b.hangup_cause)])
    finally:
        b.read_unlock(a)  # a killed session must not keep the B leg from its CHANNEL_DESTROY
    unlink(a, b)
    return a_moved, b_moved


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
    """The session of a leg that ``bridge`` or ``att_xfer`` dialled: in CS_EXCHANGE_MEDIA, running no
    application (audio_bridge_on_exchange_media), until it hangs up or moves."""
    from freeswitch.sim.calls import run_session

    run_session(b, [("_bridged", None)], state="CS_EXCHANGE_MEDIA")


@state_handler("_bridged")
def _bridged(channel: Channel, arg: str) -> None:
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
    b, cause = dial(channel.switch, ds, timeout, cid_name, cid_num, extra_vars=extra, cancel=channel.hung_up,
                    caller=channel)
    if b is None:
        _bridge_failed(channel, cause)
        return
    if not channel.is_up:
        b.hangup("ORIGINATOR_CANCEL")
        return
    start_caller(b)
    channel.set_var("originate_disposition", "SUCCESS")
    channel.set_var("DIALSTATUS", "SUCCESS")
    link(channel, b)
    b_session = b.session_greenlet = gevent.spawn(b_leg_session, b)
    a_moved, b_moved = hold(channel, b)
    if not b_moved:
        b_session.join(timeout=5)
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
    # New caller profiles for both, each with the other's as its clone; the originator takes the
    # originatee's callee id and the originatee the originator's caller id.
    profiles.step(b)
    profiles.step(a)
    profiles.set_originator(b, profiles.clone(a, keep_times=False))
    profiles.set_originatee(a, profiles.clone(b, keep_times=True))
    pa, pb = a.profile, b.profile
    pa.callee_id_name, pa.callee_id_number = pb.callee_id_name, pb.callee_id_number
    pb.caller_id_name, pb.caller_id_number = pa.caller_id_name, pa.caller_id_number
    for c, o, role in ((a, b, "originator"), (b, a, "originatee")):
        push_transfer_history(c, f"{epoch}:{c.uuid}:uuid_br:{o.uuid}")
        c.__dict__["uuid_bridge_peer"] = o
        c.__dict__["uuid_bridge_ready"] = gevent.event.Event()
        leave(c, [("_uuid_bridged", role)], ("CS_HIBERNATE", "CS_RESET"), "CS_HIBERNATE")
    # The originatee will be the new bridge's B leg (CS_EXCHANGE_MEDIA) until that bridge ends.
    b.__dict__["exchange_media"] = (b.transfers, gevent.event.Event())
    return True


@state_handler("_uuid_bridged")
def _uuid_bridged(channel: Channel, role: str) -> None:
    # One leg of a uuid_bridge (uuid_bridge_state_handlers: no application runs). The originatee goes to
    # CS_SOFT_EXECUTE and waits; the originator, in CS_SOFT_EXECUTE, waits for it
    # (uuid_bridge_on_soft_execute), fires CHANNEL_EXECUTE uuid_bridge on both and bridges it.
    peer = channel.__dict__.pop("uuid_bridge_peer", None)
    ready = channel.__dict__.pop("uuid_bridge_ready", None)
    if peer is None or ready is None:
        return
    channel.set_state("CS_SOFT_EXECUTE")
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
    for c, o in ((channel, peer), (peer, channel)):
        c.fire("CHANNEL_EXECUTE", extra=[("Application", "uuid_bridge"), ("Application-Data", o.uuid)])
    link(channel, peer)
    peer.set_state("CS_EXCHANGE_MEDIA")  # switch_ivr_multi_threaded_bridge puts the originatee there
    hold(channel, peer)


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

"""Moving live legs: ``uuid_transfer``, the inline dialplan, ``uuid_broadcast`` and ``att_xfer``.

As FreeSWITCH 1.10 does it:

* :func:`session_transfer` is switch_ivr_session_transfer (switch_ivr.c): ``max_forwards`` counts
  down (at 0 the call hangs up with EXCHANGE_ROUTING_ERROR), the caller profile gets the new
  extension, dialplan and context (the old destination becomes ``rdnis``), ``signal_bond`` is
  cleared on the leg and its partner, ``transfer_source``/``transfer_history`` record
  ``<epoch>:<uuid>:bl_xfer:<exten>/<context>/<dialplan>``, and the running application ends
  (CF_TRANSFER) while Channel-State-Number already says CS_ROUTING. Then CS_ROUTING, CS_EXECUTE
  and the new extension. A bridge the leg was in ends as bridge.py describes: the partner that
  is a B leg hangs up, the partner that is an A leg carries on with its dialplan.
* The ``inline`` dialplan (mod_dptools' inline_dialplan_hunt): ``app:arg,app:arg``; ``m:<d>:``
  in front makes ``<d>`` the separator; the destination number goes back to what it was.
  The ``XML`` dialplan is the one we ship (the IVR's socket; see calls.dialplan_apps).
* ``uuid_transfer <uuid> [-bleg|-both] <dest> [<dialplan>] [<context>]`` (mod_commands): ``-bleg``
  transfers the leg named by ``bridge_to`` — and, when there is none, the named leg itself.
* ``uuid_dual_transfer <uuid> <A-dest>[/<dialplan>[/<context>]] <B-dest>[/...]`` (mod_commands):
  the leg's partner (``signal_bond``) to the B destination first, then the leg to the A one; a
  destination ending in ``/inline`` is an inline extension (only the first ``/inline`` is looked at,
  as strstr does).
* ``intercept [-bleg] <uuid>`` (switch_ivr_intercept_session): the channel answers and is
  uuid_bridged to ``<uuid>`` (``-bleg``: to its partner), whose own partner is hung up
  (PICKED_OFF); ``intercept_unbridged_only``/``intercept_unanswered_only`` make it pass over a
  bridged/answered leg.
* ``uuid_broadcast <uuid> <path> [aleg|bleg|holdb|both]`` (switch_ivr_broadcast): ``app::args``
  queues that application (else ``playback <path>``) on the leg and/or its partner (``signal_bond``);
  a leg in a bridge runs it inside the bridge.
* ``att_xfer <dial string>`` (mod_dptools att_thread_run), on the transferer while it is bridged to
  the party to be transferred (its ``signal_bond``): the transferer calls the target and talks to
  it (an inner bridge). The transferer hanging up (or pressing ``attxfer_hangup_key``, default
  ``*``) bridges the target to the held party (``att_xfer_result=success`` on the target); the
  target hanging up (or ``attxfer_cancel_key``, default ``#``) bridges the transferer back. A
  target that does not answer leaves everything as it was. ``attxfer_conf_key`` (three-way) is not
  simulated: the digit is ignored. The held party need not be bridged to the transferer: att_xfer
  takes whatever ``signal_bond`` names (a party parked, its bond set with ``set``).
"""

from __future__ import annotations

import logging

import gevent
import gevent.queue

from freeswitch import wire
from freeswitch.sim import bridge
from freeswitch.sim import profile as profiles
from freeswitch.sim.api import command
from freeswitch.sim.appcore import app
from freeswitch.sim.channel import Channel
from freeswitch.sim.dialstring import DialStringError, parse_dialstring, separate_string

log = logging.getLogger("freeswitch.sim")

TRANSFER_USAGE = "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
DUAL_TRANSFER_USAGE = ("-USAGE: <uuid> <A-dest-exten>[/<A-dialplan>][/<A-context>] "
                       "<B-dest-exten>[/<B-dialplan>][/<B-context>]\n")
BROADCAST_USAGE = "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"


def inline_apps(target: str) -> list[tuple[str, str | None]]:
    """The applications of an inline extension: ``app[:data]`` pieces split at ``,`` (or ``m:<d>:``'s d)."""
    delim = ","
    if len(target) >= 4 and target[0] == "m" and target[1] == ":" and target[3] == ":":
        delim, target = target[2], target[4:]
    apps = []
    for piece in separate_string(target, delim, limit=128):
        name, colon, data = piece.partition(":")
        name = name.lstrip(" ")
        if name:
            apps.append((name, data if colon else None))
    return apps


def session_transfer(channel: Channel, extension: str | None, dialplan: str | None = None,
                     context: str | None = None) -> bool:
    """switch_ivr_session_transfer; False when the channel ran out of ``max_forwards`` (and hung up)."""
    from freeswitch.sim.calls import dialplan_apps

    name = "max_session_transfers"
    limit = channel.get_var(name)
    if not limit:
        name, limit = "max_forwards", channel.get_var("max_forwards")
    forwards = bridge.atoi(limit) - 1 if limit else 70
    if forwards <= 0:
        channel.hangup("EXCHANGE_ROUTING_ERROR")
        return False
    channel.set_var(name, str(forwards))
    p = channel.profile
    if not dialplan:
        dialplan = channel.get_var("force_transfer_dialplan") or (
            p.dialplan if p.dialplan and p.dialplan.lower() != "inline" else None) or "XML"
    if not context:
        context = channel.get_var("force_transfer_context") or p.context or "default"
    extension = extension or "service"
    # The bond to a partner goes (the partner's too): whatever comes next bonds anew.
    partner = channel.switch.channels.get(channel.get_var("bridge_to") or "")
    channel.set_var("signal_bond", None)
    if partner is not None:
        partner.set_var("signal_bond", None)
    # The new extension runs on a new caller profile (Profile-Index up, no Other-Leg clone: profile.py).
    profiles.step(channel)
    p = channel.profile
    old_destination = p.destination_number
    p.dialplan, p.context = dialplan, context
    epoch = channel.switch.clock.now_us() // 1_000_000
    bridge.push_transfer_history(channel, f"{epoch}:{channel.uuid}:bl_xfer:{extension}/{context}/{dialplan}")
    if dialplan.lower() == "inline":
        apps = inline_apps(extension)
        p.rdnis = ""  # inline_dialplan_hunt: the destination stays what it was
    else:
        apps = dialplan_apps(channel.switch, extension, context)
        p.destination_number, p.rdnis = extension, old_destination
    bridge.leave(channel, apps, ("CS_ROUTING", "CS_EXECUTE"), "CS_ROUTING")
    return True


@command("uuid_transfer")
def api_uuid_transfer(switch, arg, conn) -> str:
    """``uuid_transfer <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]``."""
    if not (arg or "").strip():
        return TRANSFER_USAGE
    argv = separate_string(arg, " ", limit=5)
    if len(argv) < 2:
        return TRANSFER_USAGE
    argv += [None] * (5 - len(argv))
    ch = switch.channels.get(argv[0] or "")
    if ch is None or not ch.is_up:
        return "-ERR No such channel!\n"
    dest, dialplan, context = argv[1], argv[2], argv[3]
    flag = None
    if dest.startswith("-"):
        flag, dest, dialplan, context = dest[1:].lower(), argv[2], argv[3], argv[4]
    if flag in ("bleg", "both"):
        other = switch.channels.get(ch.get_var("bridge_to") or "")
        if other is not None and other.is_up:
            if flag == "bleg":
                ch = other
            else:
                session_transfer(other, dest, dialplan, context)
    return "+OK\n" if session_transfer(ch, dest, dialplan, context) else "-ERR\n"


def _true(value: str | None) -> bool:
    """switch_true: yes/on/true/t/enabled/active/allow, or a number other than 0."""
    v = (value or "").strip().lower()
    return v in ("yes", "on", "true", "t", "enabled", "active", "allow") or (v.isdigit() and int(v) != 0)


def _dual_destination(dest: str) -> tuple[str, str | None, str | None]:
    """``exten[/dialplan[/context]]`` as dual_transfer_function splits it; ``.../inline`` keeps its slashes."""
    at = dest.find("/inline")
    if at >= 0 and at + len("/inline") == len(dest):
        return dest[:at], "inline", None
    exten, slash, rest = dest.partition("/")
    if not slash:
        return exten, None, None
    dialplan, slash, context = rest.partition("/")
    return exten, dialplan, context if slash else None


@command("uuid_dual_transfer")
def api_uuid_dual_transfer(switch, arg, conn) -> str:
    """``uuid_dual_transfer <uuid> <A-dest> <B-dest>``: the partner to B-dest, then the leg to A-dest."""
    argv = separate_string(arg or "", " ", limit=5)
    if not (arg or "").strip() or len(argv) != 3:
        return DUAL_TRANSFER_USAGE
    a_dest, b_dest = _dual_destination(argv[1]), _dual_destination(argv[2])
    ch = switch.channels.get(argv[0] or "")
    if ch is None or not ch.is_up:
        return "-ERR No such channel!\n"
    # switch_core_session_get_partner: the partner by signal_bond (originate_signal_bond while dialling).
    partner = switch.channels.get(ch.get_var("signal_bond") or ch.get_var("originate_signal_bond") or "")
    if partner is not None and partner.is_up:
        session_transfer(partner, *b_dest)
    session_transfer(ch, *a_dest)
    return "+OK\n"


@app("intercept")
def app_intercept(channel: Channel, arg: str) -> None:
    """``intercept [-bleg] <uuid>``: take that leg over (uuid_bridge to it); its partner is hung up."""
    argv = separate_string(arg or "", " ", limit=4)
    if not argv or not argv[0]:
        log.error("intercept on %s: usage: [-bleg] <uuid>", channel.uuid)
        return
    switch = channel.switch
    uuid = argv[0]
    if uuid.lower() == "-bleg":
        if len(argv) < 2:
            log.error("intercept on %s: usage: [-bleg] <uuid>", channel.uuid)
            return
        held = switch.channels.get(argv[1])
        uuid = (held.get_var("originate_signal_bond") or held.get_var("signal_bond")) if held else None
    r = switch.channels.get(uuid or "")
    if r is None or not r.is_up:
        return
    partner = switch.channels.get(r.get_var("signal_bond") or r.get_var("originate_signal_bond") or "")
    if partner is channel:
        partner = None
    if _true(channel.get_var("intercept_unbridged_only")) and r.bridged_to is not None:
        return
    if _true(channel.get_var("intercept_unanswered_only")) and r.answered:
        return
    channel.answer()
    if not r.answered:
        r.answer()
    if partner is not None:
        partner.set_var("park_after_bridge", "true")
    bridge.uuid_bridge(channel, r)
    if partner is not None:
        partner.hangup("PICKED_OFF")


# ---------------------------------------------------------------------------
# uuid_broadcast
# ---------------------------------------------------------------------------

def queue_execute(channel: Channel, name: str, arg: str, hold_bleg: bool = False) -> None:
    """Queue an execute message as switch_ivr_broadcast does (event-lock, lead-frames 5)."""
    headers = {"call-command": "execute", "execute-app-name": name, "execute-app-arg": arg,
               "event-lock": "true", "lead-frames": "5"}
    if hold_bleg:
        headers["hold-bleg"] = "true"
    channel.messages.put(wire.Frame(headers, b""))


@command("uuid_broadcast")
def api_uuid_broadcast(switch, arg, conn) -> str:
    """``uuid_broadcast <uuid> <path> [aleg|bleg|holdb|both]``: ``app::args`` or a file, on one leg or both."""
    argv = separate_string(arg or "", " ", limit=4)
    if not (arg or "").strip() or len(argv) < 2:
        return BROADCAST_USAGE
    aleg = bleg = hold = False
    if len(argv) > 2 and argv[2]:
        which = argv[2].lower()
        if "both" in which:
            aleg = bleg = True
        if "aleg" in which:
            aleg = True
        if "bleg" in which:
            hold, bleg = False, True
        if "holdb" in which:
            bleg, hold = False, True
    else:
        aleg = hold = True
    ch = switch.channels.get(argv[0] or "")
    if ch is None:
        return "-ERR invalid uuid\n"
    name, path = "playback", argv[1]
    first = path.find(":")
    if first >= 0 and path[first + 1:first + 2] == ":":
        name, path = path[:first], path[first + 2:]
    name, bang, cause = name.partition("!")
    if bleg:
        other = switch.channels.get(ch.get_var("signal_bond") or ch.get_var("originate_signal_bond") or "")
        if other is not None:
            queue_execute(other, name, path, hold)
    if aleg:
        queue_execute(ch, name, path, hold)
    if bang:
        queue_execute(ch, "hangup", cause or "normal_clearing")
    return "+OK Message sent\n"


# ---------------------------------------------------------------------------
# att_xfer
# ---------------------------------------------------------------------------

def _key(x: Channel, t: Channel, name: str, default: str) -> str:
    return (x.get_var(name) or t.get_var(name) or default)[:1]


@app("att_xfer")
def app_att_xfer(x: Channel, arg: str) -> None:
    """``att_xfer <dial string>``: consult the target, then hand it the party ``x`` is bridged to."""
    from freeswitch.sim.calls import dial, start_caller

    bond_uuid = x.get_var("signal_bond") or x.get_var("originate_signal_bond")
    x.set_var("soft_holding_uuid", bond_uuid)
    try:
        ds = parse_dialstring(arg)
    except DialStringError:
        ds = None
    t = None
    if ds is not None:
        cid_name = x.get_var("effective_caller_id_name") or x.profile.caller_id_name
        cid_num = x.get_var("effective_caller_id_number") or x.profile.caller_id_number
        t, _ = dial(x.switch, ds, 60, cid_name, cid_num, extra_vars=list(getattr(x, "exported", {}).items()),
                    cancel=x.hung_up, caller=x)
    if t is None or not x.is_up:
        if t is not None:
            t.hangup("ORIGINATOR_CANCEL")
        x.set_var("signal_bond", bond_uuid)
        x.set_var("soft_holding_uuid", None)
        return
    start_caller(t)
    hangup_key = _key(x, t, "attxfer_hangup_key", "*")
    cancel_key = _key(x, t, "attxfer_cancel_key", "#")
    conf_key = _key(x, t, "attxfer_conf_key", "0")
    held = x.bridged_to
    x_mark, t_mark = x.transfers, t.transfers
    bond = x.switch.channels.get(bond_uuid or "")
    handed_over: list[bool] = []

    def transferer_gone(_channel: Channel) -> None:
        # The transferer hung up with the target on the line: the target gets the held party
        # (in FreeSWITCH within a frame of the hangup, before the held party's bridge notices).
        if t.is_up and t.transfers == t_mark and bond is not None and bond.is_up:
            ok = bridge.uuid_bridge(t, bond)
            t.set_var("att_xfer_result", "success" if ok else "failure")
            handed_over.append(ok)

    bridge.link(x, t)
    t.session_greenlet = gevent.spawn(bridge.b_leg_session, t)
    x.hangup_hooks.append(transferer_gone)
    try:
        while x.is_up and t.is_up and x.transfers == x_mark and t.transfers == t_mark:
            try:
                digit = x.dtmf_queue.get_nowait()
            except gevent.queue.Empty:
                digit = None
            if digit == hangup_key:
                x.hangup("NORMAL_CLEARING")
            elif digit == cancel_key:
                t.hangup("NORMAL_CLEARING")
            elif digit == conf_key:
                log.info("att_xfer on %s: the three-way key is not simulated", x.uuid)
            if digit is not None:
                continue
            x.dtmf_evt.clear()
            if x.dtmf_queue.qsize():
                continue
            gevent.wait([x.hung_up, t.hung_up, x.dtmf_evt], count=1)
        if not t.is_up and t.transfers == t_mark:
            bridge.reported(t)  # the target hung up: reported before the inner bridge ends
    finally:
        x.hangup_hooks.remove(transferer_gone)
        t.read_unlock(x)  # a killed session must not keep the target from its CHANNEL_DESTROY
    bridge.unlink(x, t)
    if x.is_up and held is not None and x.bridged_to is None:
        # Back in the bridge att_xfer ran from; its events keep the target's clone (the originate set it last).
        x.bridged_to = held
    x.set_var("signal_bond", bond_uuid)
    if bond_uuid and not handed_over:
        if not x.is_up and t.is_up and t.transfers == t_mark:
            ok = bond is not None and bridge.uuid_bridge(t, bond)
            t.set_var("att_xfer_result", "success" if ok else "failure")
        else:
            ok = bond is not None and bridge.uuid_bridge(x, bond)
            x.set_var("att_xfer_result", "success" if ok else "failure")
    if not x.is_up and t.is_up and t.transfers == t_mark:
        t.hangup("NORMAL_CLEARING")  # nobody to hand it to: its park times out
    x.set_var("soft_holding_uuid", None)

"""Making calls: originate's legs and their far ends, inbound calls, and each channel's session greenlet.

* :func:`originate` is the ``originate`` API: it dials a dial string (groups
  tried in order, legs of a group rung at once, retries), waits for an answer
  or a failure, then starts the application or dialplan extension on the
  answered leg and replies ``+OK <uuid>`` or ``-ERR <CAUSE>``.
* :func:`dial` is the part ``bridge`` shares: legs up to the answer (dialled for a caller, they start
  from its caller profile and the two get each other's as their originator/originatee: profile.py).
* :func:`run_session` runs a channel's applications; what a state handler does instead of an
  application (:func:`state_handler`: a bridge's B leg, a uuid_bridge) fires no application events.
* The far end of each leg follows its :class:`~freeswitch.sim.scenario.Behaviour`.
* :func:`freeswitch.sim.inbound.inbound_call` makes a call arrive from outside (``sim_inbound``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Callable

import gevent

from freeswitch.sim import profile as profiles
from freeswitch.sim import sofia
from freeswitch.sim.channel import Channel, Profile
from freeswitch.sim.dialstring import (DialString, DialStringError, parse_dialstring, parse_endpoint,
                                       parse_originate_args)
from freeswitch.sim.farend import caller_script, far_end, press_dtmf  # noqa: F401 - press_dtmf: callers use calls.
from freeswitch.sim.scenario import ScenarioError

if TYPE_CHECKING:  # pragma: no cover
    from freeswitch.sim.core import Switch

log = logging.getLogger("freeswitch.sim")

DEFAULT_CID_NUMBER = "0000000000"


def _int(value, default: int) -> int:
    if value is None:  # the usual case (the variable is not set): no exception to raise and catch
        return default
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


# ---------------------------------------------------------------------------
# The far end (its script: freeswitch/sim/farend.py)
# ---------------------------------------------------------------------------

def start_caller(channel: Channel) -> None:
    """Start the far end's script when the call is answered (once)."""
    if getattr(channel, "_caller_started", False) or channel.behaviour is None:
        return
    channel._caller_started = True
    channel.greenlets.append(gevent.spawn(caller_script, channel, channel.behaviour))


# ---------------------------------------------------------------------------
# Legs
# ---------------------------------------------------------------------------

def set_codec_vars(ch: Channel, original: bool = True) -> None:
    """The codec variables FreeSWITCH sets once media is negotiated."""
    name, rate, _ = ch.codec
    if ch.get_var("read_codec") is not None:
        return
    ch.set_var("read_codec", name)
    if original:
        ch.set_var("original_read_codec", name)
    ch.set_var("read_rate", rate)
    if original:
        ch.set_var("original_read_rate", rate)
    ch.set_var("write_codec", name)
    ch.set_var("write_rate", rate)
    if ch.name.startswith("sofia/"):
        ch.set_var("dtmf_type", "rfc2833")


def new_outbound_leg(switch: "Switch", endpoint, variables: list[tuple[str, str]], cid_name: str | None,
                     cid_num: str | None, use_uuid: str | None, caller: Channel | None = None) -> Channel:
    """Create an outbound leg (its session already reserved) and fire its creation events.

    ``caller``: the channel it is dialled for (``bridge``, ``att_xfer``), whose profile it starts from.
    """
    vmap = dict(variables)
    name = vmap.get("origination_caller_id_name", cid_name) or ""
    number = vmap.get("origination_caller_id_number", cid_num) or DEFAULT_CID_NUMBER
    if caller is not None:
        # switch_ivr_originate with a session: a copy of the caller's profile, whose caller id the
        # origination_*/effective_* variables override (the original caller id stays the caller's).
        profile = profiles.dialled_from(caller, endpoint.number)
        profile.caller_id_name, profile.caller_id_number = name, number
        profile.ani = vmap.get("origination_ani") or caller.get_var("effective_ani") or profile.ani
    else:
        profile = Profile(
            direction="outbound",
            destination_number=endpoint.number,
            caller_id_name=name,
            caller_id_number=number,
            orig_caller_id_name=name,
            orig_caller_id_number=number,
            callee_id_name="Outbound Call",
            callee_id_number=endpoint.number,
            network_addr="",  # sofia learns it from the far end's first response
            ani=number,
            dialplan="",
            context=endpoint.context,
        )
    if endpoint.kind == "loopback":
        profile.dialplan, profile.context, profile.source = "XML", endpoint.context, "mod_loopback"
    ch = Channel(switch, use_uuid or switch.new_uuid(), endpoint.channel_name, profile, switch.next_session_id())
    if caller is not None:
        # switch_core_session_outgoing_channel: the caller's profile as it is now is the leg's originator.
        profiles.set_originator(ch, profiles.clone(caller, keep_times=False))
    if endpoint.kind == "loopback":
        ch.codec = ("L16", "8000", "128000")
    ch.set_var("direction", "outbound")
    ch.set_var("is_outbound", "true")
    ch.set_var("uuid", ch.uuid)
    ch.set_var("call_uuid", ch.uuid)  # switch_core_session_request_uuid sets both
    ch.set_var("session_id", str(ch.session_id))
    if endpoint.kind == "loopback":
        set_codec_vars(ch, original=False)
    if endpoint.kind in ("sofia", "user"):
        # The dial string's word after sofia/ ("gateway" for sofia/gateway/<gw>/...).
        ch.set_var("sip_profile_name", "gateway" if endpoint.gateway else endpoint.profile)
        if endpoint.gateway:
            ch.set_var("sip_gateway_name", endpoint.gateway)
        ch.set_var("video_media_flow", "disabled")
        ch.set_var("text_media_flow", "disabled")
    ch.set_var("channel_name", ch.name)
    if endpoint.uri:
        ch.set_var("sip_destination_url", endpoint.uri)
    for k, v in variables:
        if k != "origination_uuid":
            ch.set_var(k, v)
    ch.set_var("originate_early_media", "true")
    ch.set_var("originate_endpoint", endpoint.kind if endpoint.kind != "user" else "sofia")
    if endpoint.kind in ("sofia", "user"):
        ch.set_var("audio_media_flow", "sendrecv")
        ch.set_var("sofia_profile_name", endpoint.profile)
        ch.set_var("recovery_profile_name", endpoint.profile)
        port = {"external": 5080, sofia.GATEWAY_PROFILE: sofia.GATEWAY_PROFILE_PORT}.get(endpoint.profile, 5060)
        ch.set_var("sofia_profile_url", f"sip:mod_sofia@127.0.0.1:{port}")
        ch.set_var("sip_to_user", endpoint.number)
        ch.set_var("sip_from_user", ch.profile.caller_id_number)
        ch.set_var("sip_call_id", switch.new_uuid())
    if endpoint.kind == "loopback":
        ch.set_var("other_loopback_leg_uuid", switch.new_uuid())
        ch.set_var("loopback_leg", "A")
        ch.set_var("is_loopback", "1")
    switch.register(ch)
    ch.fire("CHANNEL_OUTGOING")
    ch.set_state("CS_INIT")
    ch.state_num = 2
    ch.fire("CHANNEL_CREATE")
    ch.fire("CHANNEL_ORIGINATE")
    ch.set_state("CS_ROUTING")
    ch.set_state("CS_CONSUME_MEDIA")
    return ch


def dial(switch: "Switch", ds: DialString, timeout: int = 60, cid_name: str | None = None,
         cid_num: str | None = None, extra_vars: list[tuple[str, str]] | None = None,
         cancel=None, caller: Channel | None = None) -> tuple[Channel | None, str]:
    """Ring the dial string's groups in order (with retries) until one leg answers.

    Returns (the answered leg, '') or (None, the cause FreeSWITCH would give).
    ``cancel`` is an optional gevent Event that abandons the attempt (ORIGINATOR_CANCEL).
    ``caller``: the channel the legs are dialled for; it gets the answered leg's profile as its
    originatee (profile.py).
    """
    gvars = list(extra_vars or []) + list(ds.variables)
    gmap = dict(gvars)
    t = _int(gmap.get("originate_timeout"), 0)
    if t > 0:
        timeout = t
    retries = _int(gmap.get("originate_retries"), 1)
    if not 0 < retries <= 100:
        retries = 1
    sleep_ms = _int(gmap.get("originate_retry_sleep_ms"), 1000)
    if not 500 <= sleep_ms <= 60000:
        sleep_ms = 1000
    uuid_left = [gmap.get("origination_uuid")]
    cause = "NORMAL_CLEARING"
    for attempt in range(retries):
        if attempt:
            if cancel is not None and cancel.wait(switch.clock.real(sleep_ms / 1000)):
                return None, "ORIGINATOR_CANCEL"
            if cancel is None:
                switch.clock.sleep(sleep_ms / 1000)
        for group in ds.groups:
            channel, cause = _ring_group(switch, group, gvars, timeout, cid_name, cid_num, uuid_left, cancel, caller)
            if channel is not None:
                if caller is not None:
                    profiles.set_originatee(caller, profiles.clone(channel, keep_times=True))
                return channel, ""
            if cause == "ORIGINATOR_CANCEL":
                return None, cause
    return None, cause


def _ring_group(switch, group, gvars, timeout, cid_name, cid_num, uuid_left, cancel,
                caller) -> tuple[Channel | None, str]:
    legs: list[Channel] = []
    first_cause = None
    for leg in group:
        variables = list(gvars) + list(leg.variables)
        vmap = dict(variables)
        try:
            endpoint = parse_endpoint(leg.endpoint)
        except DialStringError as exc:
            first_cause = first_cause or exc.cause
            continue
        if endpoint.kind == "error":
            first_cause = first_cause or (endpoint.cause or "NORMAL_CLEARING")
            continue
        use_uuid = uuid_left[0]
        if use_uuid:
            old = switch.channels.get(use_uuid)
            if old is not None and not old.is_up:
                old.destroyed.wait(2)  # a retry reuses origination_uuid once the failed leg is gone
        refusal = switch.reserve_session(use_uuid)
        if refusal:
            log.warning("%s", refusal)
            first_cause = first_cause or "DESTINATION_OUT_OF_ORDER"
            continue
        uuid_left[0] = None
        try:
            behaviour = switch.scenario.behaviour(endpoint.number, vmap)
        except ScenarioError as exc:
            log.warning("bad sim_* variables on a call to %s: %s", endpoint.number, exc)
            behaviour = switch.scenario.behaviour(endpoint.number)
        ch = new_outbound_leg(switch, endpoint, variables, cid_name, cid_num, use_uuid, caller)
        ch.behaviour = behaviour
        leg_timeout = _int(vmap.get("leg_timeout"), 0) or None
        ch.greenlets.append(gevent.spawn(far_end, ch, behaviour, leg_timeout))
        legs.append(ch)
    if not legs:
        return None, first_cause or "DESTINATION_OUT_OF_ORDER"
    deadline = switch.clock.now() + timeout
    winner = None
    while True:
        if any(c.answered and c.is_up for c in legs):
            winner = next(c for c in legs if c.answered and c.is_up)
            break
        if all(not c.is_up for c in legs):
            break
        remaining = deadline - switch.clock.now()
        if remaining <= 0:
            break
        waiters = [c.answered_evt for c in legs if c.is_up]
        if cancel is not None:
            waiters.append(cancel)
        gevent.wait(waiters, timeout=switch.clock.real(remaining), count=1)
        if cancel is not None and cancel.is_set():
            for c in legs:
                c.hangup("ORIGINATOR_CANCEL")
            return None, "ORIGINATOR_CANCEL"
    if winner is not None:
        for c in legs:
            if c is not winner and c.is_up:
                if len(legs) > 1:
                    c.set_var("group_dial_status", "loser")
                c.hangup("LOSE_RACE" if len(legs) > 1 else "NO_ANSWER")
        return winner, ""
    timed_out = any(c.is_up for c in legs)
    for c in legs:
        if c.is_up:
            c.hangup("NO_ANSWER")
    if timed_out:
        return None, "NO_ANSWER"
    return None, legs[0].hangup_cause or "NORMAL_CLEARING"


# ---------------------------------------------------------------------------
# Sessions: what an answered channel runs
# ---------------------------------------------------------------------------

#: What a session runs that is no application but a state's handler (a bridge's B leg in CS_EXCHANGE_MEDIA,
#: a leg uuid_bridge took): no CHANNEL_EXECUTE, no current_application, nothing in the application log.
STATE_HANDLERS: dict[str, Callable[[Channel, str], None]] = {}


def state_handler(name: str):
    """Register what a session's step ``name`` runs without it being an application (STATE_HANDLERS)."""
    def deco(fn):
        STATE_HANDLERS[name] = fn
        return fn
    return deco


def run_session(channel: Channel, apps: list[tuple[str, str | None]], state: str = "CS_EXECUTE") -> None:
    """The channel's own greenlet: enter ``state``, run its steps (applications, or state handlers), hang
    up when they run out, tear down."""
    from freeswitch.sim.apps import execute

    channel.session_greenlet = gevent.getcurrent()
    try:
        if channel.get_var("call_uuid") is None:
            channel.set_var("call_uuid", channel.uuid)
        if channel.is_up:
            channel.set_state(state)
        queue = list(apps)
        while queue and channel.is_up:
            name, arg = queue.pop(0)
            handler = STATE_HANDLERS.get(name)
            if handler is not None:
                handler(channel, arg or "")
            else:
                execute(channel, name, arg)
            pending = channel.transfer_to
            if pending is not None:
                # A transfer: the state machine routes the new extension (CS_ROUTING, CS_EXECUTE)
                # and runs it instead of what was left of the old one.
                channel.transfer_to = None
                for state in channel.transfer_states:
                    if channel.is_up:
                        channel.set_state(state)
                channel.transfer_states = ()
                queue = list(pending)
        if channel.is_up:
            channel.hangup("NORMAL_CLEARING")
    except gevent.GreenletExit:
        raise
    except Exception:  # a simulator bug must not leave the channel hanging
        log.exception("session of %s failed", channel.uuid)
        channel.hangup("NORMAL_TEMPORARY_FAILURE")
    finally:
        channel.session_greenlet = None
        channel.finish()
        channel.switch.unregister(channel)
        for g in channel.greenlets:
            if not g.dead and g is not gevent.getcurrent():
                g.kill(block=False)


def dialplan_apps(switch: "Switch", exten: str, context: str = "default") -> list[tuple[str, str | None]]:
    """The shipped dialplan (freeswitch/conf/dialplan/public/00_vaani_ivr.xml): hand the call to the IVR
    runtime's socket (``--inbound-socket``), else park.

    It is installed into FreeSWITCH's stock public context, whose ``outside_call`` extension (continue)
    runs first; the shipped vars give ``vaani_prefix`` its default.
    """
    if switch.config.inbound_socket:
        stamp = time.strftime("%a, %d %b %Y %H:%M:%S %z", time.localtime(switch.clock.now()))
        return [("set", "outside_call=true"), ("export", f"RFC2822_DATE={stamp}"),
                ("set", "vaani_direction=inbound"), ("set", "vaani_prefix=vaani"), ("set", "hangup_after_bridge=true"),
                ("socket", f"{switch.config.inbound_socket} async full")]
    return [("park", None)]


def originate(switch: "Switch", arg: str | None) -> str:
    """The ``originate`` API command's output."""
    try:
        oa = parse_originate_args(arg)
    except ValueError as exc:
        return str(exc)
    try:
        ds = parse_dialstring(oa.dialstring)
    except DialStringError as exc:
        return f"-ERR {exc.cause}\n"
    channel, cause = dial(switch, ds, oa.timeout, oa.cid_name, oa.cid_num)
    if channel is None:
        return f"-ERR {cause}\n"
    channel.flip_cid()
    start_caller(channel)
    if oa.app_name:
        apps = [(oa.app_name, oa.app_arg)]
    else:
        channel.profile.destination_number = oa.exten
        apps = dialplan_apps(switch, oa.exten, oa.context)
    # Registered before it starts, so that a hangup in between leaves the teardown to it.
    channel.session_greenlet = gevent.spawn(run_session, channel, apps)
    return f"+OK {channel.uuid}\n"

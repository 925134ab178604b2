"""Calls that arrive from outside (``sim_inbound``): a caller dialling one of our numbers on the ``vaani``
profile, routed through the shipped dialplan to the IVR runtime's socket."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import gevent

from freeswitch.sim import sofia
from freeswitch.sim.calls import dialplan_apps, run_session, start_caller
from freeswitch.sim.channel import Channel, Profile
from freeswitch.sim.scenario import Behaviour, ScenarioError

if TYPE_CHECKING:  # pragma: no cover
    from freeswitch.sim.core import Switch

log = logging.getLogger("freeswitch.sim")


def inbound_call(switch: "Switch", caller: str, called: str, variables: list[tuple[str, str]] | None = None,
                 apps: list[tuple[str, str | None]] | None = None) -> str:
    """A call arrives from outside (a caller dialing one of our numbers): ``+OK <uuid>`` or ``-ERR <cause>``.

    The channel is created as sofia would create it, routed through the shipped
    dialplan (``socket <inbound-socket> async full``), and the caller behaves as the
    scenario (or ``sim_*`` variables) says once the IVR answers.
    """
    variables = list(variables or [])
    vmap = dict(variables)
    use_uuid = vmap.get("origination_uuid") or vmap.get("uuid")
    refusal = switch.reserve_session(use_uuid, "inbound")
    if refusal:
        # sofia refuses the INVITE; no channel is created
        log.warning("%s", refusal)
        return "-ERR DESTINATION_OUT_OF_ORDER\n"
    try:
        behaviour = switch.scenario.behaviour(called, vmap)
    except ScenarioError as exc:
        return f"-ERR {exc}\n"
    # sofia takes the caller id name from the From header's display name, else its user part.
    name = vmap.get("caller_id_name", "") or caller
    profile = Profile(direction="inbound", destination_number=called, caller_id_name=name, caller_id_number=caller,
                      orig_caller_id_name=name, orig_caller_id_number=caller, network_addr="127.0.0.1",
                      ani=caller, dialplan="XML", context=vmap.get("context", "public"), source="mod_sofia",
                      username=caller)
    ch = Channel(switch, use_uuid or switch.new_uuid(), sofia.inbound_channel_name(caller), profile,
                 switch.next_session_id())
    ch.behaviour = behaviour
    ch.set_var("direction", "inbound")
    ch.set_var("uuid", ch.uuid)
    ch.set_var("call_uuid", ch.uuid)
    ch.set_var("session_id", str(ch.session_id))
    ch.set_vars([("sofia_profile_name", sofia.GATEWAY_PROFILE), ("recovery_profile_name", sofia.GATEWAY_PROFILE),
                 # inbound-late-negotiation (sip_profiles/vaani.xml): no codec until the answer
                 ("endpoint_disposition", "DELAYED NEGOTIATION")])
    ch.set_var("channel_name", ch.name)
    ch.set_var("sip_from_user", caller)
    ch.set_var("sip_to_user", called)
    ch.set_var("sip_req_user", called)
    ch.set_var("sip_call_id", switch.new_uuid())
    for k, v in variables:
        if k not in ("uuid", "origination_uuid", "context", "caller_id_name"):
            ch.set_var(k, v)
    switch.register(ch)
    # A session sofia creates for an INVITE starts in CS_NEW (an originated one in CS_INIT), and rings
    # (sofia's 180) before the state machine routes it.
    ch.has_profile = False  # its caller profile is attached once the INVITE is parsed
    ch.set_state("CS_NEW")
    ch.has_profile = True
    ch.set_state("CS_INIT")
    ch.state_num = 2
    ch.fire("CHANNEL_CREATE")
    ch.state = "CS_ROUTING"  # the 180 goes out as the state machine enters routing (its event follows)
    ch.set_callstate("RINGING")
    ch.fire("CHANNEL_STATE")
    ch.hit_dialplan = True
    if apps is None:
        apps = dialplan_apps(switch, called, profile.context)
    if behaviour.hangup_after is not None or behaviour.dtmf:
        # The caller's clock starts when our side answers (the IVR runs `answer`).
        gevent.spawn(_start_caller_on_answer, ch)
    if behaviour.outcome not in ("answer", "machine") or behaviour.ring is None:
        # An inbound caller who gives up before being answered.
        gevent.spawn(_inbound_abandon, ch, behaviour)
    ch.session_greenlet = gevent.spawn(run_session, ch, apps)
    return f"+OK {ch.uuid}\n"


def _start_caller_on_answer(channel: Channel) -> None:
    channel.answered_evt.wait()
    if channel.answered and channel.is_up:
        start_caller(channel)


def _inbound_abandon(channel: Channel, b: Behaviour) -> None:
    # For an inbound call, `ring` is how long the caller waits for an answer before hanging up.
    if b.ring is None:
        return
    if not channel.answered_evt.wait(channel.switch.clock.real(b.ring)):
        channel.hangup("ORIGINATOR_CANCEL", remote=True)

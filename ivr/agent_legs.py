"""How an agent campaign's call reaches its agent: the ``bridge`` dial string, the nailed-up agent's room.

An agent's endpoint (``ivr.acd``'s ``endpoint``) is ``user/<id>`` (a SIP user registered on our FreeSWITCH,
rung as it is) or a phone number, rung through the call's gateway in the carrier's number format
(DIALER_NUMBER_FORMAT), as ``<dial>`` legs and click2call's are. A nailed-up agent's persistent channel sits
in the conference room :func:`room_name`; the customer's call joins it.
"""

from __future__ import annotations

import re

from ivr.acd import AgentState
from ivr.number_format import dial_number

#: Seconds a rung agent has to answer (FreeSWITCH's call_timeout is whole seconds). Agents' SIP phones are asked
#: to auto-answer (``sip_auto_answer``): one that rings this long is not at its desk.
AGENT_RING_SECONDS = 5
#: ... and an agent reached on a phone number through the carrier, which a person picks up by hand.
AGENT_PHONE_RING_SECONDS = 15

#: The pause reason of a nailed-up agent waiting for its channel (dialer/nailed.py originates it and makes the
#: agent ready once it is answered): no customer may be put in its room before.
CONNECTING = "connecting"

_USER = re.compile(r"^user/[A-Za-z0-9_.+-]{1,64}(@[A-Za-z0-9_.-]{1,128})?$")
_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
_VAR_SAFE = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")
_ROOM = re.compile(r"[^A-Za-z0-9_.-]")


def room_name(agent_id: str) -> str:
    """The conference room a nailed-up agent's channel sits in."""
    return "vaani_agent_" + _ROOM.sub("_", agent_id)[:64]


def agent_dial_string(agent: AgentState, spec, config, call_uuid: str, ring_seconds: int | None = None) -> str:
    """The ``bridge`` argument that rings ``agent``: ``user/<id>`` as it is, a phone number through the gateway.

    The number is written as the carrier wants it (DIALER_NUMBER_FORMAT), as ``<dial>`` legs are; the agent's
    phone shows the customer's number. Raises ValueError for an endpoint that is neither.
    """
    endpoint = (agent.endpoint or "").strip()
    if _USER.match(endpoint):
        leg = endpoint
    elif _NUMBER.match(endpoint):
        leg = config.dial_endpoint.format(number=dial_number(endpoint, config.number_format, config.region))
        ring_seconds = ring_seconds or AGENT_PHONE_RING_SECONDS
    else:
        raise ValueError(f"agent {agent.agent_id}: cannot ring endpoint {endpoint!r} (user/<id> or a phone number)")
    # bridge takes its time limit from the caller's call_timeout unless the dial string's originate_timeout says
    # otherwise (switch_ivr_originate); leg_timeout bounds the leg itself. The customer's channel is not ours to
    # change for this.
    ring_seconds = ring_seconds or AGENT_RING_SECONDS
    variables = [f"originate_timeout={ring_seconds}", f"leg_timeout={ring_seconds}"]
    if leg is endpoint:
        # Only a SIP phone of ours can auto-answer. Through a carrier the intercom URI parameter and the NOTIFY
        # that sofia sends after the 180 are not understood (seen on FreeSWITCH 1.10.12 with a sipp carrier:
        # it dropped the call as an unexpected message and the agent's leg ended NO_ANSWER).
        variables.append("sip_auto_answer=true")
    variables.append(f"vaani_agent_call={call_uuid}")
    if _VAR_SAFE.match(agent.agent_id):
        variables.append(f"vaani_agent_id={agent.agent_id}")
    customer = (spec.called_number or "").strip()
    if _NUMBER.match(customer):
        variables.append(f"origination_caller_id_number={customer.lstrip('+')}")
    return "{" + ",".join(variables) + "}" + leg


def spoken_number(number: str | None) -> str:
    """A phone number as TTS should read it: digit by digit."""
    digits = re.sub(r"[^0-9]", "", number or "")
    return " ".join(digits) if digits else "an unknown number"

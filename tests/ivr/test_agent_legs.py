"""How the runtime rings an agent: a SIP phone of ours auto-answers, a phone number through the carrier does not."""

from __future__ import annotations

from types import SimpleNamespace

from ivr.acd import AgentState
from ivr.agent_legs import AGENT_PHONE_RING_SECONDS, AGENT_RING_SECONDS, agent_dial_string
from ivr.call_spec import CallSpec

CONFIG = SimpleNamespace(dial_endpoint="sofia/gateway/vaani_trunk/{number}", number_format="e164", region="IN")
SPEC = CallSpec(call_type="campaign", called_number="+919920000001")


def _agent(endpoint: str) -> AgentState:
    return AgentState(agent_id="AG1", state="reserved", account_id="a", campaigns=("c",), since=0.0,
                      endpoint=endpoint)


def test_a_sip_user_is_asked_to_auto_answer():
    s = agent_dial_string(_agent("user/1001"), SPEC, CONFIG, "u-1")
    assert s.endswith("}user/1001")
    assert "sip_auto_answer=true" in s and f"leg_timeout={AGENT_RING_SECONDS}" in s
    assert "origination_caller_id_number=919920000001" in s


def test_a_phone_number_goes_through_the_carrier_without_intercom():
    # FreeSWITCH turns sip_auto_answer into ;intercom=true and a NOTIFY after the 180, which a carrier does
    # not expect (the real switch's sipp carrier dropped such calls): a phone agent is rung as a phone.
    s = agent_dial_string(_agent("+917000001312"), SPEC, CONFIG, "u-1")
    assert s.endswith("}sofia/gateway/vaani_trunk/917000001312")
    assert "sip_auto_answer" not in s and f"leg_timeout={AGENT_PHONE_RING_SECONDS}" in s

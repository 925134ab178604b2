"""Nailed-up agents through the real dialer engine, simulator process, IVR runtime, Redis and SQL store.

The agent is a persistent far end (``user/2001``): in its room it talks ``talk_time`` with each customer who
joins, then presses ``#`` (AGENT_END_DTMF). Customers answer and never hang up by themselves, so only the
agent's digit ends a conversation.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from dialer import agents, submit
from dialer.store import db
from dialer.store.models import AgentEvent

from .agent_helpers import AgentStack, max_overlap
from .engine_helpers import make_campaign, numbers, wait_for

pytestmark = pytest.mark.timeout(180)

AGENT_ENDPOINT = "user/2001"


def _scenario(talk: float = 20.0) -> dict:
    return {"rules": [
        {"match": "1555*", "ring": 1, "outcome": "answer"},
        {"match": "2001", "ring": 1, "persistent": True, "end_dtmf": "#", "talk_time": talk},
    ]}


def _agent_originates(stack: AgentStack) -> list[str]:
    return [c for c in stack.monitor.commands if "vaani_agent_channel=" in c]


def _up(stack: AgentStack, agent_id: str, other_than: str | None = None):
    """The agent's state once it is ready with a channel (a new one, when ``other_than`` is given)."""
    def check():
        s = stack.acd.state(agent_id)
        return s if s is not None and s.state == "ready" and s.channel and s.channel != other_than else None
    return wait_for(check, timeout=20)


def _exists(stack: AgentStack, uuid: str) -> bool:
    client = next(iter(stack.dialer.nodes.clients.values()))
    return client.uuid_exists(uuid)


def _finished(stack: AgentStack, campaign_id: str) -> bool:
    return submit.campaign_progress(campaign_id, cfg=stack.cfg)["status"] == "completed"


def _login(stack: AgentStack, account: str, campaign: str) -> str:
    agent = agents.create_agent(account, name="Nita", endpoint=AGENT_ENDPOINT, persistent=True, cfg=stack.cfg)
    agents.login(account, agent.id, [campaign], cfg=stack.cfg)
    return agent.id


def test_customers_join_the_agents_room_one_after_the_other_and_its_digit_ends_each(tmp_path, db_url, key_prefix,
                                                                                    monkeypatch):
    contacts = numbers(4, start=500)
    account, camp = make_campaign(db_url, contacts, dial_mode="progressive", wrap_up_seconds=1,
                                  calls_per_minute=6000)
    stack = AgentStack(tmp_path, db_url, key_prefix, _scenario(), monkeypatch)
    try:
        agent_id = _login(stack, account, camp)
        state = _up(stack, agent_id)
        channel = state.channel
        [command] = _agent_originates(stack)
        assert f"origination_uuid={channel}," in command and f"vaani_agent_channel={agent_id}," in command
        assert f"vaani_prefix={key_prefix}," in command and "execute_on_answer=verbose_events" in command
        assert command.endswith(f"user/2001 &conference(vaani_agent_{agent_id}@default+flags{{endconf}})")
        assert _exists(stack, channel)

        submit.start_campaign(camp, cfg=stack.cfg)
        wait_for(lambda: _finished(stack, camp), timeout=120, every=0.2)
        rows = stack.cdrs(camp)
        assert sorted(r.customer_number for r in rows) == sorted(contacts)
        assert all(r.dial_status == "ANSWER" and r.agent_id == agent_id and not r.abandoned for r in rows), \
            [(r.dial_status, r.agent_id, r.abandoned) for r in rows]
        # One conversation at a time, each about the agent's talk time (20 s) before its '#'.
        spans = [(r.started_at.timestamp(), r.end.timestamp()) for r in rows]
        assert max_overlap(spans) == 1
        assert all(15 <= (r.talk_seconds or 0) <= 40 for r in rows), [r.talk_seconds for r in rows]
        assert all(r.wrap_up_seconds == 1 for r in rows)
        # The agent stayed in its room on the same channel throughout; nobody is left on a call.
        state = wait_for(lambda: (s := stack.acd.state(agent_id)) and s.state == "ready" and s, timeout=10)
        assert state.channel == channel and state.call is None and _exists(stack, channel)
        assert len(_agent_originates(stack)) == 1
        with db.session_scope(db_url) as s:
            on_call = s.scalars(sa.select(AgentEvent.call_uuid).where(AgentEvent.state == "on_call")).all()
        assert sorted(on_call) == sorted(r.uniqueid for r in rows)
    finally:
        stack.stop()


def test_the_agents_channel_hanging_up_pauses_it_and_ready_again_brings_a_new_one(tmp_path, db_url, key_prefix,
                                                                                  monkeypatch):
    contacts = numbers(2, start=600)
    account, camp = make_campaign(db_url, contacts, dial_mode="progressive", wrap_up_seconds=0,
                                  calls_per_minute=6000)
    stack = AgentStack(tmp_path, db_url, key_prefix, _scenario(talk=10), monkeypatch)
    try:
        agent_id = _login(stack, account, camp)
        first = _up(stack, agent_id).channel
        client = next(iter(stack.dialer.nodes.clients.values()))
        client.api(f"uuid_kill {first} NORMAL_CLEARING")  # the agent's phone hangs up
        state = wait_for(lambda: (s := stack.acd.state(agent_id)) and s.state == "paused" and s, timeout=10)
        assert state.reason == "channel_lost" and state.channel is None
        submit.start_campaign(camp, cfg=stack.cfg)
        time.sleep(1.5)
        assert stack.monitor.numbers == []  # nothing dialed for a paused agent
        assert len(_agent_originates(stack)) == 1  # and its phone is not rung again by itself
        agents.ready(account, agent_id, cfg=stack.cfg)
        second = _up(stack, agent_id, other_than=first).channel
        assert len(_agent_originates(stack)) == 2
        wait_for(lambda: _finished(stack, camp), timeout=60, every=0.2)
        rows = stack.cdrs(camp)
        assert len(rows) == 2 and all(r.agent_id == agent_id for r in rows)
        assert stack.acd.state(agent_id).channel == second
        with db.session_scope(db_url) as s:
            reasons = [e.reason for e in s.scalars(sa.select(AgentEvent).where(AgentEvent.agent_id == agent_id,
                                                                             AgentEvent.state == "paused"))]
        assert any("channel_lost" in r or "ended" in r for r in reasons), reasons
    finally:
        stack.stop()


def test_the_channel_lost_during_a_call_hangs_the_customer_up_and_pauses_the_agent_after_it(tmp_path, db_url,
                                                                                             key_prefix, monkeypatch):
    account, camp = make_campaign(db_url, numbers(1, start=700), dial_mode="progressive", wrap_up_seconds=0,
                                  calls_per_minute=6000)
    stack = AgentStack(tmp_path, db_url, key_prefix, _scenario(talk=5000), monkeypatch)
    try:
        agent_id = _login(stack, account, camp)
        channel = _up(stack, agent_id).channel
        submit.start_campaign(camp, cfg=stack.cfg)
        state = wait_for(lambda: (s := stack.acd.state(agent_id)) and s.state == "on_call" and s, timeout=20)
        customer = state.call
        next(iter(stack.dialer.nodes.clients.values())).api(f"uuid_kill {channel} NORMAL_CLEARING")
        wait_for(lambda: _finished(stack, camp), timeout=30, every=0.2)
        assert not _exists(stack, customer)
        state = wait_for(lambda: (s := stack.acd.state(agent_id)) and s.state == "paused" and s, timeout=10)
        assert state.reason == "channel_lost" and state.call is None and state.channel is None
        [row] = stack.cdrs(camp)
        assert row.agent_id == agent_id and row.dial_status == "ANSWER"
    finally:
        stack.stop()

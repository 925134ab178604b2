"""dialer.agents: the registry and sessions on SQLite and PostgreSQL with the real Redis."""

from __future__ import annotations

import pytest

from dialer import agents
from dialer.agents import AgentConflict, AgentError, UnknownAgent
from dialer.store import db
from dialer.store.models import AgentEvent, Cdr
from tests.dialer.engine_helpers import make_campaign
from tests.dialer.store_helpers import cfg, store  # noqa: F401 (fixtures)


@pytest.fixture
def setup(cfg):  # noqa: F811
    url = cfg.sqlalchemy_url
    account, campaign = make_campaign(url, ["+15550000001"], dial_mode="progressive", wrap_up_seconds=30)
    _, plain = make_campaign(url, ["+15550000002"], account_id=account)
    other, foreign = make_campaign(url, ["+15550000003"], account_id="other", dial_mode="predictive")
    return cfg, account, campaign, plain, other, foreign


def states(cfg, agent_id):
    with db.session_scope(cfg.sqlalchemy_url) as s:
        rows = s.query(AgentEvent).filter_by(agent_id=agent_id).order_by(AgentEvent.id).all()
        return [(r.state, r.reason) for r in rows]


def test_create_list_get_delete(setup):
    cfg, account, *_ = setup
    a = agents.create_agent(account, name="Asha", endpoint="user/1001", cfg=cfg)
    b = agents.create_agent(account, name="Ravi", endpoint="09979271234", persistent=True, cfg=cfg)
    assert a.id.startswith("AG") and a.endpoint == "user/1001"
    assert b.endpoint == "+919979271234" and b.persistent
    assert [x.id for x, _ in agents.list_agents_with_state(account, cfg=cfg)] == [a.id, b.id]
    row, live = agents.get_agent(account, a.id, cfg=cfg)
    assert row.name == "Asha" and live is None
    with pytest.raises(UnknownAgent):
        agents.get_agent("other", a.id, cfg=cfg)
    agents.delete_agent(account, a.id, cfg=cfg)
    with pytest.raises(UnknownAgent):
        agents.get_agent(account, a.id, cfg=cfg)
    assert [x.id for x, _ in agents.list_agents_with_state(account, cfg=cfg)] == [b.id]


@pytest.mark.parametrize("endpoint", ["", "user/", "user/a b", "sip:1001@x", "12", None, "user/x@bad domain"])
def test_bad_endpoints(setup, endpoint):
    cfg, account, *_ = setup
    with pytest.raises(AgentError, match="endpoint"):
        agents.create_agent(account, endpoint=endpoint, cfg=cfg)


def test_session_transitions_write_events(setup):
    cfg, account, campaign, *_ = setup
    a = agents.create_agent(account, endpoint="user/1001", cfg=cfg)
    assert agents.login(account, a.id, [campaign], cfg=cfg).state == "ready"
    assert agents.pause(account, a.id, "lunch", cfg=cfg).reason == "lunch"
    assert agents.ready(account, a.id, cfg=cfg).state == "ready"
    assert agents.logout(account, a.id, cfg=cfg).state == "logged_out"
    assert states(cfg, a.id) == [("ready", "login"), ("paused", "lunch"), ("ready", ""), ("logged_out", "")]
    with db.session_scope(cfg.sqlalchemy_url) as s:
        assert s.query(AgentEvent).filter_by(agent_id=a.id).first().campaign_ids == [campaign]
    with pytest.raises(AgentConflict, match="not logged in"):
        agents.ready(account, a.id, cfg=cfg)


def test_login_checks_the_campaigns(setup):
    cfg, account, campaign, plain, other, foreign = setup
    a = agents.create_agent(account, endpoint="user/1001", cfg=cfg)
    with pytest.raises(AgentError, match="not an agent campaign"):
        agents.login(account, a.id, [plain], cfg=cfg)
    with pytest.raises(AgentError, match="no campaign"):
        agents.login(account, a.id, [foreign], cfg=cfg)
    with pytest.raises(AgentError, match="campaign_ids"):
        agents.login(account, a.id, [], cfg=cfg)
    with pytest.raises(UnknownAgent):
        agents.login(other, a.id, [foreign], cfg=cfg)
    with pytest.raises(UnknownAgent):
        agents.login(account, "AGnothere", [campaign], cfg=cfg)
    assert states(cfg, a.id) == []


def test_pause_during_a_call_is_logged_as_pending(setup):
    cfg, account, campaign, *_ = setup
    a = agents.create_agent(account, endpoint="user/1001", cfg=cfg)
    agents.login(account, a.id, [campaign], cfg=cfg)
    acd = agents.acd_for(cfg)
    acd.reserve(campaign, "call-1")
    acd.connected(a.id, "call-1")
    state = agents.pause(account, a.id, "break", cfg=cfg)
    assert (state.state, state.pending) == ("on_call", "paused")
    assert states(cfg, a.id)[-1] == ("on_call", "paused after call call-1: break")
    with pytest.raises(AgentConflict, match="on a call"):
        agents.login(account, a.id, [campaign], cfg=cfg)


def test_disposition_writes_the_cdr_and_ends_wrap_up(setup):
    cfg, account, campaign, *_ = setup
    a = agents.create_agent(account, endpoint="user/1001", cfg=cfg)
    agents.login(account, a.id, [campaign], cfg=cfg)
    acd = agents.acd_for(cfg)
    acd.reserve(campaign, "call-1")
    acd.connected(a.id, "call-1")
    acd.release(a.id, "call-1", 30)
    assert acd.state(a.id).state == "wrap_up"
    # no CDR yet (the hangup is still being recorded): the disposition creates it
    state = agents.disposition(account, a.id, "call-1", "sale", cfg=cfg)
    assert state.state == "ready"
    with db.session_scope(cfg.sqlalchemy_url) as s:
        cdr = s.query(Cdr).filter_by(uniqueid="call-1").one()
        assert (cdr.disposition, cdr.agent_id, cdr.account_id) == ("sale", a.id, account)
    # a correction later, from the CDR's agent
    agents.disposition(account, a.id, "call-1", "callback", cfg=cfg)
    assert states(cfg, a.id)[-1] == ("disposition", "")
    with pytest.raises(AgentError, match="had no call"):
        agents.disposition(account, a.id, "someone-elses", "sale", cfg=cfg)
    b = agents.create_agent(account, endpoint="user/1002", cfg=cfg)
    agents.login(account, b.id, [campaign], cfg=cfg)
    with pytest.raises(AgentError, match="had no call"):
        agents.disposition(account, b.id, "call-1", "sale", cfg=cfg)
    with pytest.raises(AgentError, match="disposition"):
        agents.disposition(account, a.id, "call-1", "  ", cfg=cfg)


def test_delete_logs_the_agent_out(setup):
    cfg, account, campaign, *_ = setup
    a = agents.create_agent(account, endpoint="user/1001", cfg=cfg)
    agents.login(account, a.id, [campaign], cfg=cfg)
    agents.delete_agent(account, a.id, cfg=cfg)
    assert agents.acd_for(cfg).counts(campaign).logged_in == 0
    assert states(cfg, a.id)[-1] == ("logged_out", "deleted")

"""seed 002 modify_call on an agent campaign's live call, end to end: the API server, the dialer engine (a
progressive campaign's lane), the IVR runtime's agent app and the FreeSWITCH simulator on real sockets, with
an agent created and logged in through the API.

The customer's leg is the originated one (the call's uniqueid, the ``channel`` modify_call is given); the
agent is the B leg of the agent app's ``bridge {…}user/<id>``. What happened is read from the switch (a leg's
``bridge_to`` by ``uuid_getvar``, events on an ESL connection), from the ACD in Redis, from the CDR and
``agent_events`` rows, and from the recordings directory.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid

import pytest
import redis
from sqlalchemy import select

from dialer.engine import Dialer, EngineOptions
from dialer.store.models import AgentEvent, Cdr
from ivr.acd import Acd
from ivr.runtime import build_runtime
from ivr.server import IvrServer
from tests.api.conftest import _cleanup_redis, _start
from tests.api.test_modify_call_transfers import TARGET, Live, ivr_half
from tests.conftest import free_port
from tests.dialer.engine_helpers import Sim, wait_for

pytestmark = pytest.mark.timeout(180)

#: After-call work of the test campaigns (Redis wall-clock seconds): short, so that "ready again" comes soon.
WRAP_UP = 2

#: Customers and transfer targets answer after 1 s and stay until our side hangs up; agents (user/10xx)
#: answer after 1 s and talk far longer than any test (agent_helpers.scenario's agents), so whatever ends
#: their leg is the modify_call under test.
SCENARIO = {"defaults": {"outcome": "answer", "ring": 1},
            "rules": [{"match": "/^10[0-9][0-9]$/", "ring": 1, "talk_time": 100000}]}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The platform (API, dialer, IVR runtime, simulator with simulated agents) and an ESL watcher: a Live."""
    tmp = tmp_path_factory.mktemp("agent_modify")
    scenario = tmp / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO))
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    sim = Sim(free_port(), speed=50, scenario=str(scenario))
    stack, server = _start(f"sqlite:///{tmp / 'vaani.db'}", str(tmp), redis_url, prefix,
                           {"FREESWITCH_NODES": f"127.0.0.1:{sim.port}:ClueCon:10000:5000"})
    runtime = build_runtime(stack.cfg)
    ivr = IvrServer(runtime, "127.0.0.1:0").start()
    cfg = stack.cfg.replace(ivr_listen=ivr.address, dialer_gateway_cps=0)
    dialer = Dialer(cfg, options=EngineOptions(foreign_delay=0.3, recovery_grace=1.0)).start()
    world = Live(stack, sim, None, cfg)  # no app server: the agent app is built into the runtime
    world.acd = Acd(redis.Redis.from_url(redis_url), prefix)
    yield world
    world.esl.stop()
    dialer.stop()
    ivr.stop(timeout=1)
    runtime.fetcher.close()
    server.stop(timeout=1)
    world.acd.client.close()
    sim.stop()
    from dialer.store import db

    db.dispose(stack.cfg.sqlalchemy_url)
    _cleanup_redis(redis_url, prefix)


def agent_call(live, customer_number: str, agent_user: str):
    """A progressive campaign of one contact and one agent (``user/<agent_user>``), both set up through the API.

    Returns (account, campaign id, agent id, customer leg, agent leg) once the agent app has bridged the
    customer to the agent and the ACD has the agent on that call.
    """
    acct = live.stack.account()
    cp = live.stack.cpaas
    r = cp("POST", "/api/agents", acct, json={"name": "Asha", "endpoint": f"user/{agent_user}"})
    assert r.status_code == 200, r.text
    agent_id = r.json()["response"]["agent_id"]
    list_id = cp("POST", "/api/create_campaign_list", acct, json={"list_name": "l"}).json()["response"]["list_id"]
    cp("POST", "/api/add_contact_to_list", acct, json={"list_id": list_id, "contacts": [
        {"contact_name": "c", "contact_number": customer_number}]})
    start = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=1)  # time_zone UTC
    r = cp("POST", "/api/create_campaign", acct, json={
        "list_id": list_id, "campaign_name": "agents", "campaign_type": "0", "campaign_caller_id": "15168148111",
        "dynamic_announcement": "1", "recorded_filename": "", "announcement_text": "Hello",
        "campaign_start_date": start.strftime("%Y-%m-%d %H:%M:%S"),
        "campaign_end_date": (start + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"), "time_zone": "UTC",
        "max_retries": "0", "calls_per_minute": "600", "dial_mode": "progressive",
        "wrap_up_seconds": str(WRAP_UP)})
    assert r.status_code == 200, r.text
    campaign_id = r.json()["response"]["campaign_id"]
    r = cp("POST", f"/api/agents/{agent_id}/login", acct, json={"campaign_ids": [campaign_id]})
    assert r.status_code == 200 and r.json()["response"]["state"] == "ready", r.text
    customer = live.answered_attempt(campaign_id=campaign_id)
    agent = wait_for(lambda: live.partner(customer))
    assert live.dest(agent) == agent_user
    state = wait_for(lambda: (s := live.acd.state(agent_id)).state == "on_call" and s)
    assert state.call == customer
    return acct, campaign_id, agent_id, customer, agent


def final_cdr(live, campaign_id: str, customer: str) -> Cdr:
    """The call's CDR once the dialer recorded the hangup and the IVR runtime's facts are merged into it."""
    wait_for(lambda: cdr_row(live, customer))
    ivr_half(live, customer)
    row = cdr_row(live, customer)
    assert row.campaign_id == campaign_id and row.ivr_recorded
    return row


def cdr_row(live, customer: str) -> Cdr | None:
    """The CDR of the call whose uniqueid is ``customer``, once its hangup is recorded."""
    with live.stack.session() as s:
        row = s.scalars(select(Cdr).where(Cdr.uniqueid == customer, Cdr.hangup_recorded.is_(True))).first()
        if row is not None:
            s.expunge(row)
        return row


def assert_released(live, agent_id: str, customer: str) -> None:
    """The agent left the call into its wrap-up (the SQL history says so), then is ready for the next call."""
    with live.stack.session() as s:
        spells = [(e.state, e.reason) for e in s.scalars(
            select(AgentEvent).where(AgentEvent.agent_id == agent_id, AgentEvent.call_uuid == customer)
            .order_by(AgentEvent.at))]
    assert spells == [("on_call", ""), ("wrap_up", f"{WRAP_UP} s")], spells
    # Wrap-up ends by time alone (the campaign's seconds); nothing else has to happen for the agent to be free.
    state = wait_for(lambda: (s := live.acd.state(agent_id)).state == "ready" and s)
    assert state.call is None and state.last_call == customer


def test_record_then_hang_up_an_agent_call(live):
    acct, campaign_id, agent_id, customer, agent = agent_call(live, "919900000501", "1001")
    r = live.modify(acct, channel=customer, modify_type="3")
    assert r.status_code == 200, r.text
    body = r.json()["response"]
    assert body["message"] == "call recording started successfully" and body["recording_name"] == f"{customer}.wav"
    path = os.path.join(live.stack.cfg.path(live.stack.cfg.recordings_dir), f"{customer}.wav")

    r = live.modify(acct, channel=customer, modify_type="2")
    assert r.json() == {"response": {"message": "call hangup successfully", "success": "true"}}, r.text
    assert wait_for(lambda: live.hangup_cause(customer)) == "NORMAL_CLEARING"
    # The agent was the B leg of the agent app's bridge: the switch hangs it up with the customer.
    assert wait_for(lambda: live.hangup_cause(agent)) == "NORMAL_CLEARING"
    # The recording is written out when the recorded channel ends.
    wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 44)
    with open(path, "rb") as f:
        assert f.read(4) == b"RIFF"

    row = final_cdr(live, campaign_id, customer)
    assert row.agent_id == agent_id and row.talk_seconds and row.talk_seconds > 0
    assert row.wrap_up_seconds == WRAP_UP and not row.abandoned and row.dial_status == "ANSWER"
    assert row.app_errors == []
    assert_released(live, agent_id, customer)


def test_blind_transfer_of_an_agent_call_releases_the_agent(live):
    acct, campaign_id, agent_id, customer, agent = agent_call(live, "919900000511", "1002")
    r = live.modify(acct, channel=customer, modify_type="0", transfer_to=TARGET)
    assert r.json()["response"] == {"message": "blind transferred successfully", "success": "true"}, r.text
    target = wait_for(lambda: (p := live.partner(customer)) not in (None, agent) and p)
    assert live.dest(target) == TARGET and wait_for(lambda: live.bridged(customer, target))
    # The agent was the bridge's B leg: its leg ends.
    assert wait_for(lambda: live.hangup_cause(agent)) == "NORMAL_CLEARING"
    # The customer left the agent app's socket: the agent is in wrap-up (then ready) while the customer still
    # talks to the target.
    released = wait_for(lambda: (s := live.acd.state(agent_id)).state in ("wrap_up", "ready") and s)
    assert released.call is None and released.last_call == customer
    assert live.exists(customer) and live.partner(customer) == target
    assert cdr_row(live, customer) is None  # the customer's call is not over
    # Its wrap-up over, the agent is ready for the next call while the customer still talks to the target.
    assert wait_for(lambda: live.acd.state(agent_id).state == "ready")
    assert live.exists(customer) and live.partner(customer) == target
    live.api(f"uuid_kill {target}")
    wait_for(lambda: live.hangup_cause(customer))
    row = final_cdr(live, campaign_id, customer)
    assert row.agent_id == agent_id and row.talk_seconds and row.talk_seconds > 0
    # The agent's talk ended at the transfer, not with the customer's call.
    assert row.talk_seconds < (row.end - row.answer).total_seconds()
    assert row.wrap_up_seconds == WRAP_UP and row.app_errors == []
    assert_released(live, agent_id, customer)


def test_attended_transfer_by_the_agent_hands_the_customer_over_and_releases_the_agent(live):
    acct, campaign_id, agent_id, customer, agent = agent_call(live, "919900000521", "1003")
    r = live.modify(acct, channel=customer, modify_type="1", transfer_to=TARGET)
    assert r.json()["response"] == {"message": "attended transfer started successfully", "success": "true"}, r.text
    # The agent consults the target; the customer waits, held by the agent, still the agent's call.
    target = wait_for(lambda: (p := live.partner(agent)) not in (None, customer) and p)
    assert live.dest(target) == TARGET
    assert live.api(f"uuid_getvar {agent} soft_holding_uuid") == customer
    assert live.acd.state(agent_id).state == "on_call"
    live.api(f"uuid_kill {agent}")  # the agent puts the phone down: the customer is handed to the target
    wait_for(lambda: live.partner(customer) == target)
    assert live.api(f"uuid_getvar {target} att_xfer_result") == "success"
    assert wait_for(lambda: live.bridged(customer, target))
    released = wait_for(lambda: (s := live.acd.state(agent_id)).state in ("wrap_up", "ready") and s)
    assert released.call is None and released.last_call == customer
    assert live.exists(customer) and cdr_row(live, customer) is None
    live.api(f"uuid_kill {target}")
    wait_for(lambda: live.hangup_cause(customer))
    row = final_cdr(live, campaign_id, customer)
    assert row.agent_id == agent_id and row.talk_seconds and row.talk_seconds > 0 and row.app_errors == []
    # The agent's talk (the consultation included) ended when the agent hung up and handed the customer over.
    assert row.talk_seconds < (row.end - row.answer).total_seconds()
    assert_released(live, agent_id, customer)


@pytest.mark.xfail(strict=True, reason="a cancelled attended transfer (the agent's '#', or the target hanging up "
                   "during the consultation) has att_xfer uuid_bridge the agent back to the customer, which takes the "
                   "customer out of the agent app's socket: the app releases the agent into wrap-up although the "
                   "two still talk (docs/agents.md, Live-call control)")
def test_a_cancelled_attended_transfer_keeps_the_agent_on_the_call(live):
    acct, _campaign, agent_id, customer, agent = agent_call(live, "919900000531", "1004")
    try:
        r = live.modify(acct, channel=customer, modify_type="1", transfer_to=TARGET)
        assert r.status_code == 200, r.text
        target = wait_for(lambda: (p := live.partner(agent)) not in (None, customer) and p)
        assert live.api(f"uuid_recv_dtmf {agent} #").startswith("+OK")  # the agent cancels: back to the customer
        assert wait_for(lambda: live.hangup_cause(target)) == "NORMAL_CLEARING"
        wait_for(lambda: live.partner(agent) == customer and live.partner(customer) == agent)
        # The agent app is over once it has reported the call's facts; by then it has decided about the agent.
        wait_for(lambda: facts_reported(live, customer))
        state = live.acd.state(agent_id)
        assert (state.state, state.call) == ("on_call", customer)
    finally:
        live.api(f"uuid_kill {agent}")
        wait_for(lambda: live.hangup_cause(customer))


def facts_reported(live, call_uuid: str) -> bool:
    """The IVR runtime queued the call's facts (the agent app has settled)."""
    from rq import Queue

    from ivr.call_spec import FACTS_JOB

    queue = Queue(f"{live.cfg.key_prefix}-records", connection=live.acd.client)
    return any(j.func_name == FACTS_JOB and j.args[0].get("uuid") == call_uuid for j in queue.jobs)

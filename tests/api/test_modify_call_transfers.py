"""seed 002 modify_call blind and attended transfers, end to end: the API server, the dialer engine, the IVR
runtime and the FreeSWITCH simulator on real sockets; what happened is read from the simulator itself
(``show calls``, ``uuid_getvar``, events on an ESL connection), from the app's requests and from the CDRs."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
from sqlalchemy import select

from dialer.engine import Dialer, EngineOptions
from dialer.store.models import Attempt, Cdr
from freeswitch.inbound import InboundClient
from ivr.runtime import build_runtime
from ivr.server import IvrServer
from tests.api.conftest import _cleanup_redis, _start
from tests.conftest import free_port
from tests.dialer.engine_helpers import Sim, wait_for
from tests.ivr.appserver import AppServer

TARGET = "919900000303"


class Live:
    """The running platform and an ESL connection to its switch that keeps the events it sees."""

    def __init__(self, stack, sim, app, cfg):
        self.stack, self.sim, self.app, self.cfg = stack, sim, app, cfg
        self.events = []
        self.esl = InboundClient("127.0.0.1", sim.port, "ClueCon", events=[
            "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"],
            on_event=self.events.append).start()
        assert self.esl.wait_connected(10)

    def api(self, command: str) -> str:
        return self.esl.api(command, timeout=10).strip()

    def partner(self, uuid_: str) -> str | None:
        """Whom the switch has ``uuid_`` bridged to (its ``bridge_to``)."""
        value = self.api(f"uuid_getvar {uuid_} bridge_to")
        return None if value in ("_undef_", "") or value.startswith("-ERR") else value

    def exists(self, uuid_: str) -> bool:
        return self.api(f"uuid_exists {uuid_}") == "true"

    def dest(self, uuid_: str) -> str:
        return self.api(f"uuid_getvar {uuid_} destination_number")

    def bridged(self, a: str, b: str) -> bool:
        """A CHANNEL_BRIDGE between the two was seen (in either role)."""
        return any(e.name == "CHANNEL_BRIDGE" and {e.headers.get("Bridge-A-Unique-ID"),
                                                    e.headers.get("Bridge-B-Unique-ID")} == {a, b}
                   for e in self.events)

    def hangup_cause(self, uuid_: str, event: str = "CHANNEL_HANGUP_COMPLETE") -> str | None:
        """The leg's hangup cause once ``event`` was seen for it."""
        for e in self.events:
            if e.name == event and e.headers.get("Unique-ID") == uuid_:
                return e.headers.get("Hangup-Cause")
        return None

    def modify(self, acct, **body):
        return self.stack.cpaas("POST", "/api/modify_call", acct, json=body)

    def answered_attempt(self, **where) -> str:
        """The origination uuid of the attempt (by column values) once the dialer has seen it answered."""
        def find():
            with self.stack.session() as s:
                q = select(Attempt.origination_uuid).where(Attempt.state == "answered")
                for k, v in where.items():
                    q = q.where(getattr(Attempt, k) == v)
                return s.scalar(q)
        return wait_for(find)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("transfers")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    sim = Sim(free_port(), speed=50)
    app = AppServer().start()
    stack, server = _start(f"sqlite:///{tmp / 'vaani.db'}", str(tmp), redis_url, prefix,
                           {"FREESWITCH_NODES": f"127.0.0.1:{sim.port}:ClueCon:10000:5000"})
    runtime = build_runtime(stack.cfg)
    ivr = IvrServer(runtime, "127.0.0.1:0").start()
    cfg = stack.cfg.replace(ivr_listen=ivr.address, dialer_gateway_cps=0)
    dialer = Dialer(cfg, options=EngineOptions(foreign_delay=0.3, recovery_grace=1.0)).start()
    world = Live(stack, sim, app, cfg)
    yield world
    world.esl.stop()
    dialer.stop()
    ivr.stop(timeout=1)
    runtime.fetcher.close()
    server.stop(timeout=1)
    app.stop()
    sim.stop()
    from dialer.store import db

    db.dispose(stack.cfg.sqlalchemy_url)
    _cleanup_redis(redis_url, prefix)


def click2call(live, agent: str, customer: str):
    """A click2call through the API: (account, request_id, agent leg, customer leg) once both are bridged."""
    acct = live.stack.account()
    r = live.stack.cpaas("POST", "/api/click2call", acct, json={
        "agent_number": agent, "caller_id": "15168148111", "destination_number": customer,
        "recording_option": "off"})
    assert r.status_code == 200, r.text
    request_id = r.json()["response"]["request_id"]
    agent_leg = live.answered_attempt(request_id=request_id)
    customer_leg = wait_for(lambda: live.partner(agent_leg))
    assert live.dest(customer_leg) == customer
    return acct, request_id, agent_leg, customer_leg


def campaign_call(live, customer: str, agent: str, path: str):
    """A campaign (type 1) whose KooKoo app dials ``agent``, then hangs up: (account, campaign, customer, agent)."""
    live.app.route(path, lambda p: "<response><hangup/></response>" if p.get("event") == "Dial"
                   else f'<response><dial timeout="20000">{agent}</dial></response>')
    acct = live.stack.account()
    cp = live.stack.cpaas
    list_id = cp("POST", "/api/create_campaign_list", acct, json={"list_name": "l"}).json()["response"]["list_id"]
    cp("POST", "/api/add_contact_to_list", acct, json={"list_id": list_id, "contacts": [
        {"contact_name": "c", "contact_number": customer}]})
    start = dt.datetime.utcnow() - dt.timedelta(minutes=1)
    r = cp("POST", "/api/create_campaign", acct, json={
        "list_id": list_id, "campaign_name": "transfer", "campaign_type": "1", "campaign_caller_id": "15168148111",
        "ivr_app_url": live.app.url(path), "campaign_start_date": start.strftime("%Y-%m-%d %H:%M:%S"),
        "campaign_end_date": (start + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"), "time_zone": "UTC",
        "max_retries": "0", "calls_per_minute": "600"})
    assert r.status_code == 200, r.text
    campaign_id = r.json()["response"]["campaign_id"]
    customer_leg = live.answered_attempt(campaign_id=campaign_id)
    agent_leg = wait_for(lambda: live.partner(customer_leg))
    assert live.dest(agent_leg) == agent
    return acct, campaign_id, customer_leg, agent_leg


def ivr_half(live, call_uuid: str) -> None:
    """Run the IVR runtime's facts job of the call (the records worker's part) against this stack's store."""
    import redis
    from rq import Queue

    from dialer import records
    from ivr.call_spec import FACTS_JOB

    queue = Queue(f"{live.cfg.key_prefix}-records", connection=redis.Redis.from_url(live.cfg.redis_url))
    job = wait_for(lambda: next((j for j in queue.jobs if j.func_name == FACTS_JOB
                                 and j.args[0].get("uuid") == call_uuid), None))
    records.ivr_call_finished(job.args[0], cfg=live.cfg)
    job.delete()


def events_of(live, path: str) -> list[str]:
    return [r["params"].get("event", "") for r in live.app.requests_to(path)]


def campaign_cdr(live, campaign_id: str) -> Cdr | None:
    with live.stack.session() as s:
        row = s.scalars(select(Cdr).where(Cdr.campaign_id == campaign_id, Cdr.hangup_recorded.is_(True))).first()
        if row is not None:
            s.expunge(row)
        return row


def test_click2call_blind_transfer_moves_the_customer_and_drops_the_agent(live):
    acct, request_id, agent, customer = click2call(live, "919900000101", "919900000102")
    r = live.modify(acct, channel=agent, modify_type="0", transfer_to=TARGET)
    assert r.json() == {"response": {"message": "blind transferred successfully", "success": "true"}}, r.text
    target = wait_for(lambda: (p := live.partner(customer)) not in (None, agent) and p)
    assert live.dest(target) == TARGET
    assert wait_for(lambda: live.bridged(customer, target))
    # The agent's leg is gone: its app ends once its dial is over; the customer stays with the target.
    assert wait_for(lambda: live.hangup_cause(agent)) == "NORMAL_CLEARING"
    wait_for(lambda: not live.exists(agent))

    row = wait_for(lambda: cdr_of(live, acct, request_id))
    # The call's record (the agent's leg) is closed while the customer still talks to the target.
    assert live.exists(customer) and live.partner(customer) == target
    assert row["uniqueid"] == agent and row["call_status"] == "ANSWERED" and row["dial_status"] == "ANSWER"
    assert row["agent_number"] == "919900000101" and row["customer_number"] == "919900000102"
    live.api(f"uuid_kill {target}")
    wait_for(lambda: live.hangup_cause(customer))


def test_campaign_blind_transfer_takes_the_customer_out_of_the_ivr(live):
    acct, campaign_id, customer, agent = campaign_call(live, "919900000201", "919900000202", "/blind")
    r = live.modify(acct, channel=customer, modify_type="0", transfer_to=TARGET)
    assert r.json()["response"] == {"message": "blind transferred successfully", "success": "true"}, r.text
    target = wait_for(lambda: (p := live.partner(customer)) not in (None, agent) and p)
    assert live.dest(target) == TARGET and wait_for(lambda: live.bridged(customer, target))
    # The agent was the B leg of the app's dial: it is hung up.
    assert wait_for(lambda: live.hangup_cause(agent)) == "NORMAL_CLEARING"
    # The IVR let the call go: no Dial event to the app (whose answer would hang up), only the final one.
    wait_for(lambda: "Hangup" in events_of(live, "/blind"))
    assert events_of(live, "/blind") == ["NewCall", "Hangup"]
    assert live.exists(customer) and live.partner(customer) == target
    assert campaign_cdr(live, campaign_id) is None  # the customer's call is not over
    live.api(f"uuid_kill {target}")
    wait_for(lambda: live.hangup_cause(customer))
    row = wait_for(lambda: campaign_cdr(live, campaign_id))
    ivr_half(live, customer)  # what the app did, as the IVR runtime reported it
    with live.stack.session() as s:
        row = s.get(Cdr, row.id)
        assert row.uniqueid == customer and row.dial_status == "ANSWER" and row.hangup_cause == "NORMAL_CLEARING"
        assert [(d["number"], d["status"]) for d in row.dial_results] == [("919900000202", "answered")]
        assert row.app_errors == []


def cdr_of(live, acct, request_id: str):
    """The call's CDR as get_cdr_by_request_id answers it, once there is one."""
    rows = live.stack.cpaas("POST", "/api/get_cdr_by_request_id", acct,
                            json={"request_id": request_id}).json()["response"].get("result") or []
    return rows and rows[0]


def test_click2call_attended_transfer_consults_then_hands_over(live):
    acct, request_id, agent, customer = click2call(live, "919900000111", "919900000112")
    r = live.modify(acct, channel=agent, modify_type="1", transfer_to=TARGET)
    assert r.json()["response"] == {"message": "attended transfer started successfully", "success": "true"}, r.text
    # The agent talks to the target; the customer waits, held by the agent.
    target = wait_for(lambda: (p := live.partner(agent)) not in (None, customer) and p)
    assert live.dest(target) == TARGET
    assert live.exists(customer) and live.api(f"uuid_getvar {agent} soft_holding_uuid") == customer
    busy = live.modify(acct, channel=agent, modify_type="0", transfer_to="919900000304")
    assert busy.status_code == 409 and "in progress" in busy.json()["response"]["message"], busy.text
    assert live.api(f"uuid_recv_dtmf {agent} *").startswith("+OK")  # the agent completes the transfer
    wait_for(lambda: live.partner(customer) == target)
    assert live.api(f"uuid_getvar {target} att_xfer_result") == "success"
    assert live.bridged(target, customer)
    # The agent's session completes at once — CHANNEL_HANGUP_COMPLETE, the CDR, the IVR runtime's facts —
    # while the customer talks to the target (the agent was no longer the A leg of the customer's bridge).
    assert wait_for(lambda: live.hangup_cause(agent)) == "NORMAL_CLEARING"
    wait_for(lambda: not live.exists(agent))
    row = wait_for(lambda: cdr_of(live, acct, request_id))
    ivr_half(live, agent)
    assert live.exists(customer) and live.partner(customer) == target and live.hangup_cause(customer) is None
    assert row["uniqueid"] == agent and row["call_status"] == "ANSWERED" and row["dial_status"] == "ANSWER"
    with live.stack.session() as s:
        cdr = s.scalars(select(Cdr).where(Cdr.uniqueid == agent)).one()
        assert [(d["number"], d["status"]) for d in cdr.dial_results] == [("+919900000112", "answered")]
        assert cdr.hangup_cause == "NORMAL_CLEARING" and cdr.app_errors == []
    live.api(f"uuid_kill {target}")
    wait_for(lambda: live.hangup_cause(customer))
    ended = {e.headers["Unique-ID"]: int(e.headers["variable_end_uepoch"]) for e in live.events
             if e.name == "CHANNEL_HANGUP_COMPLETE"}
    assert ended[agent] < ended[customer]  # the agent's call ended at the hand-over


def test_click2call_agent_leaving_before_the_target_answers_ends_the_customer_call(live):
    acct, request_id, agent, customer = click2call(live, "919900000121", "919900000122")
    r = live.modify(acct, channel=agent, modify_type="1", transfer_to="919900000408")  # rings, never answers
    assert r.status_code == 200, r.text
    wait_for(lambda: live.api(f"uuid_getvar {agent} soft_holding_uuid") == customer)
    assert live.exists(customer) and live.partner(customer) is None
    live.api(f"uuid_kill {agent}")  # the agent gives up while the target rings
    # Nobody is left to hand the customer to: it is hung up, not left parked.
    assert wait_for(lambda: live.hangup_cause(customer)) == "NORMAL_CLEARING"
    assert wait_for(lambda: live.hangup_cause(agent)) == "NORMAL_CLEARING"
    assert wait_for(lambda: cdr_of(live, acct, request_id))["uniqueid"] == agent


def test_click2call_attended_transfer_not_answered_or_cancelled_takes_the_agent_back(live):
    acct, request_id, agent, customer = click2call(live, "919900000131", "919900000132")
    # A busy target: the agent is back with the customer at once.
    r = live.modify(acct, channel=agent, modify_type="1", transfer_to="919900000486")
    assert r.status_code == 200, r.text
    wait_for(lambda: live.partner(agent) == customer and live.partner(customer) == agent)
    assert live.api(f"uuid_getvar {agent} api_hangup_hook") == "_undef_"
    # Again, now cancelled with #: the target is hung up and the agent takes the customer back.
    r = live.modify(acct, channel=agent, modify_type="1", transfer_to=TARGET)
    assert r.status_code == 200, r.text
    target = wait_for(lambda: (p := live.partner(agent)) not in (None, customer) and p)
    assert live.api(f"uuid_recv_dtmf {agent} #").startswith("+OK")
    assert wait_for(lambda: live.hangup_cause(target)) == "NORMAL_CLEARING"
    wait_for(lambda: live.partner(agent) == customer and live.partner(customer) == agent)
    assert live.hangup_cause(agent) is None and live.hangup_cause(customer) is None
    # The agent hanging up now ends the call as any bridge does.
    live.api(f"uuid_kill {agent}")
    assert wait_for(lambda: live.hangup_cause(customer)) == "NORMAL_CLEARING"
    assert wait_for(lambda: cdr_of(live, acct, request_id))["uniqueid"] == agent


def test_campaign_attended_transfer_completes_when_the_agent_hangs_up(live):
    acct, campaign_id, customer, agent = campaign_call(live, "919900000211", "919900000212", "/attended")
    r = live.modify(acct, channel=customer, modify_type="1", transfer_to=TARGET)
    assert r.json()["response"] == {"message": "attended transfer started successfully", "success": "true"}, r.text
    target = wait_for(lambda: (p := live.partner(agent)) not in (None, customer) and p)
    assert live.partner(customer) == agent
    busy = live.modify(acct, channel=customer, modify_type="1", transfer_to="919900000304")
    assert busy.status_code == 409 and "in progress" in busy.json()["response"]["message"], busy.text
    live.api(f"uuid_kill {agent}")  # the agent puts the phone down
    wait_for(lambda: live.partner(customer) == target)
    assert live.api(f"uuid_getvar {target} att_xfer_result") == "success"
    wait_for(lambda: "Hangup" in events_of(live, "/attended"))
    assert events_of(live, "/attended") == ["NewCall", "Hangup"]
    assert live.exists(customer) and campaign_cdr(live, campaign_id) is None
    live.api(f"uuid_kill {target}")
    wait_for(lambda: live.hangup_cause(customer))
    row = wait_for(lambda: campaign_cdr(live, campaign_id))
    assert row.uniqueid == customer and row.dial_status == "ANSWER"


def test_errors_come_back_in_the_seed_shape(live):
    node = f"127.0.0.1:{live.sim.port}"
    acct, other = live.stack.account(), live.stack.account()
    parked = {}
    for call_type in ("campaign", "click2call"):
        leg = str(uuid.uuid4())
        reply = live.api(f"originate {{origination_uuid={leg}}}sofia/gateway/gw/919900000401 &park()")
        assert reply.startswith("+OK"), reply
        parked[call_type] = leg
    gone = str(uuid.uuid4())
    with live.stack.session() as s:
        for call_type, leg in (*parked.items(), ("campaign", gone)):
            s.add(Attempt(account_id=acct.account_id, call_type=call_type, number="+919900000401",
                          state="answered", origination_uuid=leg, fs_node=node))

    def refused(r, status: int, words: str):
        assert r.status_code == status, r.text
        body = r.json()["response"]
        assert body["success"] == "false" and body["field"] == "channel" and words in body["message"], body

    refused(live.modify(other, channel=parked["campaign"], modify_type="0", transfer_to=TARGET), 404, "no live call")
    refused(live.modify(acct, channel=gone, modify_type="0", transfer_to=TARGET), 404, "no such channel")
    refused(live.modify(acct, channel=gone, modify_type="2"), 404, "no such channel")
    refused(live.modify(acct, channel=parked["campaign"], modify_type="1", transfer_to=TARGET), 409,
            "attended transfer needs the call connected to a second party")
    refused(live.modify(acct, channel=parked["click2call"], modify_type="0", transfer_to=TARGET), 409,
            "nobody to transfer")
    assert live.partner(parked["click2call"]) is None  # nothing was moved
    # A customer with nobody bridged can still be sent to the target.
    r = live.modify(acct, channel=parked["campaign"], modify_type="0", transfer_to=TARGET)
    assert r.status_code == 200, r.text
    target = wait_for(lambda: live.partner(parked["campaign"]))
    assert live.dest(target) == TARGET
    for leg in (target, parked["click2call"]):
        live.api(f"uuid_kill {leg}")

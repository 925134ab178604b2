"""Live agents over real HTTP (SQLite and PostgreSQL): the registry, sessions, dispositions, agent campaigns."""

from __future__ import annotations

import uuid

import pytest

from dialer.store.models import Campaign, Cdr, utcnow
from ivr.acd import Acd
from tests.api.test_cpaas_campaigns import CONTACTS, _campaign_body


def _campaign(api_stack, acct, **fields):
    r = api_stack.cpaas("POST", "/api/create_campaign_list", acct, json={"list_name": uuid.uuid4().hex[:12]})
    list_id = r.json()["response"]["list_id"]
    api_stack.cpaas("POST", "/api/add_contact_to_list", acct, json={"list_id": list_id, "contacts": CONTACTS})
    body = _campaign_body(list_id, campaign_name=uuid.uuid4().hex[:12], **fields)
    r = api_stack.cpaas("POST", "/api/create_campaign", acct, json=body)
    assert r.status_code == 200, r.text
    return r.json()["response"]["campaign_id"]


def _agent(api_stack, acct, endpoint="user/1001", **kw):
    r = api_stack.cpaas("POST", "/api/agents", acct, json={"name": "Asha", "endpoint": endpoint, **kw})
    assert r.status_code == 200, r.text
    return r.json()["response"]["agent_id"]


def _acd(api_stack):
    import redis

    return Acd(redis.Redis.from_url(api_stack.cfg.redis_url), api_stack.cfg.key_prefix)


def test_agent_campaign_fields_are_stored_and_shown(api_stack):
    acct = api_stack.account()
    cid = _campaign(api_stack, acct, dial_mode="predictive", agent_url="https://crm.example/pop",
                    wrap_up_seconds="20", abandon_target=0.02, amd=True, machine_action="message",
                    safe_harbour_text="Sorry, we will call back", safe_harbour_url="https://x.example/sh.wav")
    with api_stack.session() as s:
        c = s.get(Campaign, cid)
        assert (c.dial_mode, c.wrap_up_seconds, c.abandon_target, c.amd, c.machine_action) == (
            "predictive", 20, 0.02, True, "message")
    r = api_stack.cpaas("GET", "/api/get_campaign_details", acct, params={"campaign_id": cid})
    shown = r.json()["response"]["result"][0]
    assert {k: shown[k] for k in ("dial_mode", "agent_url", "wrap_up_seconds", "abandon_target", "amd",
                                  "machine_action", "safe_harbour_text", "safe_harbour_url")} == {
        "dial_mode": "predictive", "agent_url": "https://crm.example/pop", "wrap_up_seconds": "20",
        "abandon_target": "0.02", "amd": "1", "machine_action": "message",
        "safe_harbour_text": "Sorry, we will call back", "safe_harbour_url": "https://x.example/sh.wav"}
    plain = _campaign(api_stack, acct)
    shown = api_stack.cpaas("GET", "/api/get_campaign_details", acct, params={"campaign_id": plain}).json()
    row = shown["response"]["result"][0]
    assert (row["dial_mode"], row["wrap_up_seconds"], row["abandon_target"], row["amd"], row["machine_action"]) == (
        None, "10", "0.03", "0", "hangup")


@pytest.mark.parametrize("fields,field", [
    ({"dial_mode": "robot"}, "dial_mode"),
    ({"agent_url": "ftp://x"}, "agent_url"),
    ({"wrap_up_seconds": 3601}, "wrap_up_seconds"),
    ({"wrap_up_seconds": "-1"}, "wrap_up_seconds"),
    ({"abandon_target": 0}, "abandon_target"),
    ({"abandon_target": 0.05}, "abandon_target"),
    ({"abandon_target": "lots"}, "abandon_target"),
    ({"amd": "maybe"}, "amd"),
    ({"machine_action": "voicemail"}, "machine_action"),
    ({"machine_action": "message", "announcement_text": "", "dynamic_announcement": "0",
      "recorded_filename": "", "campaign_type": "1", "ivr_app_url": "http://127.0.0.1:9/a.xml"}, "machine_action"),
    ({"safe_harbour_url": "not a url"}, "safe_harbour_url"),
    ({"safe_harbour_text": "x" * 1001}, "safe_harbour_text"),
])
def test_bad_agent_campaign_fields(api_stack, fields, field):
    acct = api_stack.account()
    r = api_stack.cpaas("POST", "/api/create_campaign", acct, json=_campaign_body("LSx", **fields))
    assert r.status_code == 400, r.text
    assert r.json()["response"]["field"] == field and r.json()["response"]["success"] == "false"


def test_registry(api_stack):
    acct, other = api_stack.account(), api_stack.account()
    a = _agent(api_stack, acct)
    b = _agent(api_stack, acct, endpoint="9979271234", persistent=True)
    r = api_stack.cpaas("GET", "/api/agents", acct)
    listed = r.json()["response"]["result"]
    assert [x["agent_id"] for x in listed] == [a, b]
    assert listed[1]["endpoint"] == "+919979271234" and listed[1]["persistent"] is True
    assert listed[0]["state"] == "logged_out"
    r = api_stack.cpaas("GET", f"/api/agents/{a}", acct)
    assert r.json()["response"]["agent"]["name"] == "Asha"
    # another account sees nothing of them
    assert api_stack.cpaas("GET", "/api/agents", other).json()["response"]["result"] == []
    for method, path in (("GET", f"/api/agents/{a}"), ("DELETE", f"/api/agents/{a}"),
                         ("POST", f"/api/agents/{a}/ready"), ("POST", f"/api/agents/{a}/logout")):
        r = api_stack.cpaas(method, path, other)
        assert r.status_code == 404 and r.json()["response"]["field"] == "agent_id", (method, path)
    r = api_stack.cpaas("DELETE", f"/api/agents/{a}", acct)
    assert r.status_code == 200
    assert api_stack.cpaas("GET", f"/api/agents/{a}", acct).status_code == 404
    r = api_stack.http.get(api_stack.url("/api/agents"), timeout=10)
    assert r.status_code == 401 and r.json()["response"]["success"] == "false"


@pytest.mark.parametrize("body,field", [
    ({}, "endpoint"),
    ({"endpoint": "user/a b"}, "endpoint"),
    ({"endpoint": "12"}, "endpoint"),
    ({"endpoint": ["user/1"]}, "endpoint"),
    ({"endpoint": "user/1", "persistent": "perhaps"}, "persistent"),
    ({"endpoint": "user/1", "name": "x" * 201}, "name"),
])
def test_bad_agents(api_stack, body, field):
    acct = api_stack.account()
    r = api_stack.cpaas("POST", "/api/agents", acct, json=body)
    assert r.status_code == 400 and r.json()["response"]["field"] == field, r.text


def test_session_and_disposition(api_stack):
    acct = api_stack.account()
    cid = _campaign(api_stack, acct, dial_mode="progressive", wrap_up_seconds=60)
    plain = _campaign(api_stack, acct)
    a = _agent(api_stack, acct)
    r = api_stack.cpaas("POST", f"/api/agents/{a}/login", acct, json={"campaign_ids": [plain]})
    assert r.status_code == 400 and r.json()["response"]["field"] == "campaign_ids"
    r = api_stack.cpaas("POST", f"/api/agents/{a}/login", acct, json={"campaign_ids": []})
    assert r.status_code == 400
    r = api_stack.cpaas("POST", f"/api/agents/{a}/ready", acct)
    assert r.status_code == 409 and "not logged in" in r.json()["response"]["message"]
    r = api_stack.cpaas("POST", f"/api/agents/{a}/login", acct, json={"campaign_ids": cid})
    assert r.status_code == 200 and r.json()["response"]["state"] == "ready", r.text
    assert r.json()["response"]["campaign_ids"] == [cid]
    r = api_stack.cpaas("POST", f"/api/agents/{a}/pause", acct, json={"reason": "lunch"})
    assert (r.json()["response"]["state"], r.json()["response"]["reason"]) == ("paused", "lunch")
    r = api_stack.cpaas("POST", f"/api/agents/{a}/ready", acct)
    assert r.json()["response"]["state"] == "ready"
    # a call: reserved, connected, ended into wrap-up (the runtime's part, done here directly)
    acd = _acd(api_stack)
    call = str(uuid.uuid4())
    assert acd.reserve(cid, call).agent_id == a
    acd.connected(a, call)
    r = api_stack.cpaas("GET", f"/api/agents/{a}", acct)
    assert (r.json()["response"]["agent"]["state"], r.json()["response"]["agent"]["call_uuid"]) == ("on_call", call)
    acd.release(a, call, 60)
    assert api_stack.cpaas("GET", f"/api/agents/{a}", acct).json()["response"]["agent"]["state"] == "wrap_up"
    r = api_stack.cpaas("POST", f"/api/agents/{a}/disposition", acct, json={"uniqueid": call, "disposition": "sale"})
    assert r.status_code == 200 and r.json()["response"]["state"] == "ready", r.text
    with api_stack.session() as s:
        assert s.query(Cdr).filter_by(uniqueid=call).one().disposition == "sale"
    r = api_stack.cpaas("POST", f"/api/agents/{a}/disposition", acct,
                        json={"call_uuid": str(uuid.uuid4()), "disposition": "sale"})
    assert r.status_code == 400 and r.json()["response"]["field"] == "call_uuid"
    r = api_stack.cpaas("POST", f"/api/agents/{a}/disposition", acct, json={"call_uuid": call})
    assert r.status_code == 400 and r.json()["response"]["field"] == "disposition"
    r = api_stack.cpaas("POST", f"/api/agents/{a}/logout", acct)
    assert r.json()["response"]["state"] == "logged_out"
    acd.client.close()


def test_pause_and_relogin_during_a_call(api_stack):
    acct = api_stack.account()
    cid = _campaign(api_stack, acct, dial_mode="preview")
    a = _agent(api_stack, acct)
    api_stack.cpaas("POST", f"/api/agents/{a}/login", acct, json={"campaign_ids": [cid]})
    acd = _acd(api_stack)
    call = str(uuid.uuid4())
    assert acd.reserve_agent(a, call)
    r = api_stack.cpaas("POST", f"/api/agents/{a}/pause", acct, json={"reason": "break"})
    assert (r.json()["response"]["state"], r.json()["response"]["pending"]) == ("reserved", "paused")
    r = api_stack.cpaas("POST", f"/api/agents/{a}/login", acct, json={"campaign_ids": [cid]})
    assert r.status_code == 409 and r.json()["response"]["success"] == "false"
    acd.release_call(call, 0)
    r = api_stack.cpaas("GET", f"/api/agents/{a}", acct)
    assert (r.json()["response"]["agent"]["state"], r.json()["response"]["agent"]["reason"]) == ("paused", "break")
    acd.client.close()


def test_agent_endpoints_are_documented(api_stack):
    doc = api_stack.http.get(api_stack.url("/openapi.json"), timeout=10).json()
    for path in ("/api/agents", "/api/agents/{agent_id}", "/api/agents/{agent_id}/login",
                 "/api/agents/{agent_id}/pause", "/api/agents/{agent_id}/disposition"):
        assert path in doc["paths"], path
    props = doc["paths"]["/api/create_campaign"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"dial_mode", "agent_url", "wrap_up_seconds", "abandon_target", "amd", "machine_action",
            "safe_harbour_text", "safe_harbour_url"} <= set(props["properties"])


def test_preview_offer_seen_and_answered_over_http(api_stack):
    from dialer.preview import Previewer, _answer_key

    acct = api_stack.account()
    cid = _campaign(api_stack, acct, dial_mode="preview")
    a = _agent(api_stack, acct)
    api_stack.cpaas("POST", f"/api/agents/{a}/login", acct, json={"campaign_ids": [cid]})
    r = api_stack.cpaas("GET", f"/api/agents/{a}/preview", acct)
    assert r.status_code == 200 and r.json()["response"]["offer"] is None
    r = api_stack.cpaas("POST", f"/api/agents/{a}/preview", acct, json={"action": "accept"})
    assert r.status_code == 409 and r.json()["response"]["field"] == "call_uuid"
    # What the dialer's preview lane does: reserve the agent for the call's uuid and offer the contact.
    acd = _acd(api_stack)
    call = str(uuid.uuid4())
    assert acd.reserve_agent(a, call)
    Previewer(acd.client, api_stack.cfg.key_prefix, acd).offer(a, cid, call, "att-1", "+919979271234",
                                                              {"name": "ankit"}, None)
    offer = api_stack.cpaas("GET", f"/api/agents/{a}/preview", acct).json()["response"]["offer"]
    assert (offer["call_uuid"], offer["contact_number"], offer["fields"]) == (call, "919979271234", {"name": "ankit"})
    r = api_stack.cpaas("POST", f"/api/agents/{a}/preview", acct, json={"action": "maybe"})
    assert r.status_code == 400 and r.json()["response"]["field"] == "action"
    r = api_stack.cpaas("POST", f"/api/agents/{a}/preview", acct, json={"action": "skip", "call_uuid": "other"})
    assert r.status_code == 409
    r = api_stack.cpaas("POST", f"/api/agents/{a}/preview", acct, json={"action": "accept", "call_uuid": call})
    assert r.status_code == 200 and r.json()["response"]["message"] == "contact accepted", r.text
    # The first answer counts (a double click does not accept and then skip).
    api_stack.cpaas("POST", f"/api/agents/{a}/preview", acct, json={"action": "skip"})
    assert acd.client.get(_answer_key(api_stack.cfg.key_prefix, a, call)) == b"accept"
    other = api_stack.account()
    assert api_stack.cpaas("GET", f"/api/agents/{a}/preview", other).status_code == 404
    acd.client.close()


def test_agent_campaign_live_statistics(api_stack):
    acct = api_stack.account()
    cid = _campaign(api_stack, acct, dial_mode="predictive", abandon_target=0.02)
    a, b = _agent(api_stack, acct), _agent(api_stack, acct, endpoint="user/1002")
    for agent in (a, b):
        api_stack.cpaas("POST", f"/api/agents/{agent}/login", acct, json={"campaign_ids": [cid]})
    api_stack.cpaas("POST", f"/api/agents/{b}/pause", acct, json={"reason": "coffee"})
    with api_stack.session() as s:
        for i in range(50):
            s.add(Cdr(uniqueid=str(uuid.uuid4()), account_id=acct.account_id, campaign_id=cid, call_type="campaign",
                      dial_status="ANSWER", customer_number=f"+91999{i:07d}", answer=utcnow(), call_date=utcnow(),
                      abandoned=i == 0))
    r = api_stack.cpaas("GET", f"/api/campaigns/{cid}/agent_statistics", acct)
    assert r.status_code == 200, r.text
    body = r.json()["response"]
    assert body["agents"] == {"logged_in": 2, "ready": 1, "reserved": 0, "on_call": 0, "wrap_up": 0, "paused": 1}
    assert body["abandonment"]["target"] == 0.02
    assert (body["abandonment"]["abandoned_24h"], body["abandonment"]["live_answered_24h"]) == (1, 50)
    assert body["abandonment"]["last_30d"] == 0.02
    plain = _campaign(api_stack, acct)
    r = api_stack.cpaas("GET", f"/api/campaigns/{plain}/agent_statistics", acct)
    assert r.status_code == 400 and r.json()["response"]["field"] == "campaign_id"
    assert api_stack.cpaas("GET", f"/api/campaigns/{cid}/agent_statistics", api_stack.account()).status_code == 404

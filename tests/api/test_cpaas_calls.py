"""Seed 002 call endpoints over HTTP: click2call, callback POST/PATCH/DELETE, OTP outbound_call, templates."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from sqlalchemy import select

from dialer.store.models import Attempt, CallRequest


def _future(tz: str = "Asia/Kolkata", days: int = 2) -> str:
    return (dt.datetime.now(zoneinfo.ZoneInfo(tz)) + dt.timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")


C2C = {"agent_number": "919979271234", "caller_id": "15168148111", "destination_number": "918000681234",
       "recording_option": "on", "transcript": "on"}


def test_click2call_queues_one_attempt_for_the_agent(api_stack):
    acct = api_stack.account()
    r = api_stack.cpaas("POST", "/api/click2call", acct, json=C2C)
    assert r.status_code == 200, r.text
    body = r.json()["response"]
    assert body["success"] == "true" and len(body["request_id"]) == 10
    with api_stack.session() as s:
        req = s.get(CallRequest, body["request_id"])
        assert req.kind == "click2call" and req.account_id == acct.account_id
        assert req.parameters["destination_number"] == "+918000681234"
        assert req.parameters["transcript"] == "on"  # stored as requested
        assert req.parameters["recording_option"] == "both"  # the seed's "on"
        attempts = s.scalars(select(Attempt).where(Attempt.request_id == req.id)).all()
        assert [a.number for a in attempts] == ["+919979271234"]


@pytest.mark.parametrize("change,field", [
    ({"agent_number": "12"}, "agent_number"),
    ({"agent_number": "abc"}, "agent_number"),
    ({"destination_number": None}, "destination_number"),
    ({"caller_id": ""}, "caller_id"),
    ({"recording_option": "loud"}, "recording_option"),
    ({"transcript": "maybe"}, "transcript"),
])
def test_click2call_names_the_wrong_field(api_stack, change, field):
    acct = api_stack.account()
    body = {**C2C, **change}
    body = {k: v for k, v in body.items() if v is not None}
    r = api_stack.cpaas("POST", "/api/click2call", acct, json=body)
    assert r.status_code == 400
    resp = r.json()["response"]
    assert resp["success"] == "false" and resp["field"] == field and field in resp["message"]


def test_numbers_may_be_sent_as_json_numbers(api_stack):
    acct = api_stack.account()
    r = api_stack.cpaas("POST", "/api/click2call", acct, json={**C2C, "agent_number": 919979271234,
                                                                "caller_id": 15168148111})
    assert r.status_code == 200, r.text


def test_callback_create_update_delete(api_stack):
    acct = api_stack.account()
    body = {**C2C, "recording_option": "off", "time_zone": "Asia/Kolkata", "scheduled_at": _future()}
    body.pop("transcript")
    r = api_stack.cpaas("POST", "/api/callback", acct, json=body)
    assert r.status_code == 200, r.text
    request_id = r.json()["response"]["request_id"]
    with api_stack.session() as s:
        req = s.get(CallRequest, request_id)
        assert req.status == "scheduled" and req.time_zone == "Asia/Kolkata"
        local = dt.datetime.strptime(body["scheduled_at"], "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=zoneinfo.ZoneInfo("Asia/Kolkata"))
        assert req.scheduled_at == local.astimezone(dt.timezone.utc).replace(tzinfo=None)
        attempt = s.scalars(select(Attempt).where(Attempt.request_id == request_id)).one()
        assert attempt.next_try_at == req.scheduled_at

    later = _future(days=3)
    r = api_stack.cpaas("PATCH", "/api/callback", acct, json={
        "request_id": request_id, "agent_number": "919979270000", "recording_option": "on", "scheduled_at": later})
    assert r.status_code == 200, r.text
    assert r.json() == {"response": {"message": "callback data modified successfully", "request_id": request_id,
                                     "success": "true"}}
    with api_stack.session() as s:
        req = s.get(CallRequest, request_id)
        assert req.parameters["agent_number"] == "+919979270000"
        attempt = s.scalars(select(Attempt).where(Attempt.request_id == request_id)).one()
        assert attempt.next_try_at == req.scheduled_at and attempt.number == "+919979270000"

    other = api_stack.account()
    r = api_stack.cpaas("DELETE", "/api/callback", other, json={"request_id": request_id})
    assert r.status_code == 404  # another account's callback looks like no callback at all
    r = api_stack.cpaas("PATCH", "/api/callback", other, json={"request_id": request_id, "recording_option": "on"})
    assert r.status_code == 404

    r = api_stack.cpaas("DELETE", "/api/callback", acct, json={"request_id": request_id})
    assert r.status_code == 200
    assert r.json()["response"]["message"] == "callback request deleted successfully"
    with api_stack.session() as s:
        assert s.get(CallRequest, request_id).status == "cancelled"
        assert s.scalars(select(Attempt.state).where(Attempt.request_id == request_id)).one() == "cancelled"
    r = api_stack.cpaas("DELETE", "/api/callback", acct, json={"request_id": request_id})
    assert r.status_code == 404
    r = api_stack.cpaas("PATCH", "/api/callback", acct, json={"request_id": request_id, "recording_option": "on"})
    assert r.status_code == 409


@pytest.mark.parametrize("change,field,reason", [
    ({"scheduled_at": "2020-01-01 10:00:00"}, "scheduled_at", "future"),
    ({"scheduled_at": "15/08/2030 12:55"}, "scheduled_at", "YYYY-mm-dd hh:mm:ss"),
    ({"time_zone": "Mars/Olympus"}, "time_zone", "IANA"),
    ({"time_zone": "../../etc/passwd"}, "time_zone", "IANA"),
    ({"time_zone": None}, "time_zone", "required"),
])
def test_callback_validation(api_stack, change, field, reason):
    acct = api_stack.account()
    body = {**C2C, "time_zone": "Asia/Kolkata", "scheduled_at": _future(), **change}
    body = {k: v for k, v in body.items() if v is not None}
    r = api_stack.cpaas("POST", "/api/callback", acct, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["response"]["field"] == field and reason in r.json()["response"]["message"]


def test_callback_patch_in_the_past_is_refused(api_stack):
    acct = api_stack.account()
    body = {**C2C, "time_zone": "US/Eastern", "scheduled_at": _future("US/Eastern")}
    request_id = api_stack.cpaas("POST", "/api/callback", acct, json=body).json()["response"]["request_id"]
    r = api_stack.cpaas("PATCH", "/api/callback", acct, json={"request_id": request_id,
                                                               "scheduled_at": "2001-01-01 00:00:00"})
    assert r.status_code == 400 and r.json()["response"]["field"] == "scheduled_at"


def test_otp_with_the_accounts_template(api_stack):
    acct = api_stack.account()
    r = api_stack.cpaas("POST", "/api/create_announce_template", acct,
                        json={"template_name": "login", "template_text": "Your login code is {otp}. Thanks"})
    assert r.status_code == 200, r.text
    template_id = r.json()["response"]["announce_template_id"]
    assert template_id.startswith("AN")
    r = api_stack.cpaas("POST", "/api/outbound_call", acct, json={
        "customer_number": "919979271234", "otp": "1987", "announce_template_id": template_id, "repeat": "2",
        "caller_id": "15168148111", "voice": "Raveena", "volume": "soft", "rate": "slow", "pitch": "medium",
        "language_code": "en-IN", "tts_engine_type": "neural"})
    assert r.status_code == 200, r.text
    request_id = r.json()["response"]["request_id"]
    with api_stack.session() as s:
        req = s.get(CallRequest, request_id)
        assert req.kind == "otp"
        assert req.parameters["text"] == "Your login code is 1 9 8 7. Thanks"
        assert req.parameters["repeat"] == 2 and req.parameters["tts_engine_type"] == "neural"
    listing = api_stack.cpaas("GET", "/api/get_announce_templates", acct).json()["response"]
    assert [t["announce_template_id"] for t in listing["result"]] == [template_id]
    # Another account cannot use it, nor see it.
    other = api_stack.account()
    r = api_stack.cpaas("POST", "/api/outbound_call", other, json={
        "customer_number": "919979271234", "otp": "1987", "announce_template_id": template_id,
        "caller_id": "15168148111"})
    assert r.status_code == 404 and r.json()["response"]["field"] == "announce_template_id"
    assert api_stack.cpaas("GET", "/api/get_announce_templates", other).json()["response"]["result"] == []


@pytest.mark.parametrize("change,field", [
    ({"volume": "very-loud"}, "volume"), ({"rate": "ludicrous"}, "rate"), ({"pitch": "x-lower"}, "pitch"),
    ({"tts_engine_type": "quantum"}, "tts_engine_type"), ({"repeat": "0"}, "repeat"), ({"repeat": "two"}, "repeat"),
    ({"otp": None}, "otp"), ({"customer_number": "+0"}, "customer_number"),
])
def test_otp_validation(api_stack, change, field):
    acct = api_stack.account()
    body = {"customer_number": "919979271234", "otp": "1987", "repeat": "1", "caller_id": "15168148111", **change}
    body = {k: v for k, v in body.items() if v is not None}
    r = api_stack.cpaas("POST", "/api/outbound_call", acct, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["response"]["field"] == field


def test_template_needs_the_otp_placeholder(api_stack):
    acct = api_stack.account()
    r = api_stack.cpaas("POST", "/api/create_announce_template", acct,
                        json={"template_name": "x", "template_text": "no placeholder"})
    assert r.status_code == 400 and r.json()["response"]["field"] == "template_text"

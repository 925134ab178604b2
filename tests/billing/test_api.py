"""Konnect Balance, 3003 Low Balance on Calls, Kairos INSUFFICIENT_BALANCE, through the real API over HTTP."""

from __future__ import annotations

import pytest

from tests.billing.helpers import balance, set_rates, topup

CARD = "service,prefix,rate,pulse\nvoice,91,0.60,60/60\nvoice,9180,0.40,1/1\nsms,91,0.20,\n"


def test_balance_is_the_seeds_sample(api_stack):
    """Seed 000's sample, field for field: {"mode":"paid","account_balance":"Rs.4,801","name":"Abhirup","status":"ok"}."""
    from dialer.store import accounts, db

    with db.session_scope(api_stack.cfg.sqlalchemy_url) as s:
        acct = accounts.create_account(s, "Abhirup")
    r = api_stack.konnect("GET", "/Balance", acct)
    assert r.status_code == 200
    assert r.json() == {"mode": "trial", "account_balance": "Rs.0", "name": "Abhirup", "status": "ok"}
    topup(api_stack.cfg.sqlalchemy_url, acct.account_id, "4801")
    r = api_stack.konnect("GET", "/Balance", acct)
    assert r.json() == {"mode": "paid", "account_balance": "Rs.4,801", "name": "Abhirup", "status": "ok"}
    assert list(r.json()) == ["mode", "account_balance", "name", "status"]
    topup(api_stack.cfg.sqlalchemy_url, acct.account_id, "0.75")
    assert api_stack.konnect("GET", "/Balance", acct).json()["account_balance"] == "Rs.4,801.75"


def test_balance_needs_the_accounts_token(api_stack):
    acct = api_stack.account()
    other = api_stack.account()
    r = api_stack.http.get(api_stack.url(f"/api/v1/Accounts/{acct.account_id}/Balance"),
                           headers={"Authorization": other.api_token}, timeout=10)
    assert r.status_code == 401
    assert r.json()["status"] == "error" and r.json()["error_code"] == "3001"


CALLS = {"id": "A10579090909090", "recipient": ["919886038842", "919886038843"], "caller_id": "919886000085",
         "media_url": "http://somewebsite.com/audio.wav"}


def test_konnect_calls_low_balance_is_3003(api_stack):
    """A prepaid account that cannot pay one first pulse: the seed's exact Low Balance answer, nothing stored."""
    acct = api_stack.account()
    url = api_stack.cfg.sqlalchemy_url
    set_rates(url, acct.account_id, CARD)
    topup(url, acct.account_id, "0.50")  # under one 60/60 minute at 0.60
    r = api_stack.konnect("POST", "/Calls", acct, json=CALLS)
    assert r.status_code == 400
    assert r.json() == {"status": "error", "error_code": "3003", "error_reason": "Low Balance"}
    from sqlalchemy import func, select

    from dialer.store.models import CallRequest

    with api_stack.session() as s:
        assert s.scalar(select(func.count()).select_from(CallRequest).where(
            CallRequest.account_id == acct.account_id)) == 0
    topup(url, acct.account_id, "0.10")  # 0.60 now pays one minute
    r = api_stack.konnect("POST", "/Calls", acct, json=CALLS)
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_konnect_calls_of_an_unmetered_account_are_not_refused(api_stack):
    acct = api_stack.account()
    assert not balance(api_stack.cfg.sqlalchemy_url, acct.account_id).metered
    r = api_stack.konnect("POST", "/Calls", acct, json={**CALLS, "id": "unmetered-1"})
    assert r.json() == {"status": "ok"}


def _kairos_body(flow_id, security_id, ident="c-1", version="1.0"):
    return {"api-version": version, "security-id": security_id, "flow-id": flow_id,
            "calls": [{"client-identifier": ident, "start-time": "2030-04-28T03:48:07.111+05:30",
                       "contact-numbers": ["918000123456", "918100123456"],
                       "keys": [{"name": "$flow.key.Name", "value": "Abhinandan"}]}]}


@pytest.mark.parametrize("version", ["1.0", "TEST"])
def test_kairos_insufficient_balance(api_stack, version):
    """Seed 001's INSUFFICIENT_BALANCE (212): in production and in TEST, which answers as production would."""
    acct = api_stack.account()
    url = api_stack.cfg.sqlalchemy_url
    set_rates(url, acct.account_id, CARD)
    topup(url, acct.account_id, "0.005")  # 9180 costs 0.40/min by the second: 0.0067 for the first second
    flow_id, security_id = api_stack.flow(acct.account_id)
    r = api_stack.http.post(api_stack.url("/kairos-apis/outbound/create"),
                            json=_kairos_body(flow_id, security_id, version=version), timeout=10)
    body = r.json()
    assert r.status_code == 400
    assert (body["status-code"], body["status-message"], body["status-name"]) == \
        (212, "Insufficient Balance", "INSUFFICIENT_BALANCE")
    assert body["results"][0]["client-identifier"] == "c-1"
    assert body["results"][0]["status-name"] == "INSUFFICIENT_BALANCE"
    # Topped up, the same payload is accepted (a refused payload is not remembered as a repeat).
    topup(url, acct.account_id, "1")
    r = api_stack.http.post(api_stack.url("/kairos-apis/outbound/create"),
                            json=_kairos_body(flow_id, security_id, version=version), timeout=10)
    assert r.status_code == 200 and r.json()["status-name"] == "SUCCESS"

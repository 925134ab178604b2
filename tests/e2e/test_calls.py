"""Inbound IVR calls, click2call and OTP calls on the real switch, with sipp on both sides."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
import sqlalchemy as sa

from tests.e2e.harness import wait_for
from tests.e2e.test_ivr import _rms
from tests.ivr.appserver import AppServer


@pytest.fixture
def app():
    a = AppServer().start()
    yield a
    a.stop()


def _cdr_rows(p, **where):
    from dialer.store import db
    from dialer.store.models import Cdr

    with db.session_scope(p.db_url) as s:
        q = sa.select(Cdr)
        for k, v in where.items():
            q = q.where(getattr(Cdr, k) == v)
        rows = s.execute(q).scalars().all()
        s.expunge_all()
        return rows


def test_inbound_call_runs_the_numbers_app_and_its_cdr_is_final_at_once(platform, app):
    p = platform
    app.route("/in", lambda params: "<response><playtext>Welcome to Sahakari Bank</playtext><hangup/></response>")
    app.route("/cb", lambda params: "ok")
    acct = p.account()
    r = p.konnect("POST", "/InboundPhoneNumbers", acct, json={
        "id": uuid.uuid4().hex, "phone_number": "918000680001", "doc_url": app.url("/in"),
        "callback_url": app.url("/cb")})
    assert r.status_code in (200, 201), r.text
    caller = p.caller("918000680001", "919979270001")
    assert caller.wait(60) == 0, p.workdir
    first = app.requests_to("/in")[0]["params"]
    assert first["event"] == "NewCall" and first["cid"] == "919979270001", first
    assert first["called_number"].lstrip("+") == "918000680001", first
    hangup = wait_for(lambda: [e for e in p.events.of("CHANNEL_HANGUP_COMPLETE", **{"Unique-ID": first["sid"]})],
                      30, what="the inbound channel's hangup")[0]
    ended = int(hangup["Event-Date-Timestamp"]) / 1e6

    def final():
        rows = [c for c in _cdr_rows(p, uniqueid=first["sid"]) if c.callback_queued]
        return rows[0] if rows else None

    row = wait_for(final, 60, every=0.1, what="the inbound CDR complete")
    lag = time.time() - ended
    assert (row.call_type, row.dial_status, row.call_status) == ("inbound", "ANSWER", "ANSWERED")
    assert row.billsec and row.billsec > 0 and row.hangup_cause == "NORMAL_CLEARING"
    wait_for(lambda: app.requests_to("/cb"), 30, what="the status callback")
    print(f"\ninbound CDR final {lag:.2f} s after CHANNEL_HANGUP_COMPLETE: "
          f"{row.call_type} {row.dial_status} billsec {row.billsec} {row.customer_number} -> {row.dialed_number}")


def test_click2call_bridges_agent_and_destination_and_records(platform):
    p = platform
    acct = p.account()
    # The agent (…312) hangs up after about 14 s, as a person ends the call.
    r = p.cpaas("POST", "/api/click2call", acct, json={
        "agent_number": "919930000312", "caller_id": "15168148111", "destination_number": "919930000002",
        "recording_option": "on"})
    assert r.status_code == 200, r.text
    request_id = r.json()["response"]["request_id"]

    rows = p.request_cdrs(acct, request_id, what="the click2call CDR")
    c = rows[0]
    assert c["dial_status"] == "ANSWER" and c["agent_number"] == "919930000312", c
    assert c["customer_number"] == "919930000002" and float(c["billsec"]) > 5, c
    # Both legs existed on the switch and were bridged: the destination leg was created by the agent's call.
    creates = {e["Caller-Destination-Number"]: e for e in p.events.of("CHANNEL_CREATE")}
    assert "919930000312" in creates and "919930000002" in creates
    assert c["recording_name"], c
    got = requests.get(f"{p.base}/recordings/{c['recording_name']}", timeout=10)
    assert got.status_code == 200
    rms = _rms(got.content)
    assert rms > 100, rms
    print(f"\nclick2call CDR: { {k: c[k] for k in ('agent_number', 'customer_number', 'dial_status', 'billsec', 'recording_name')} }, "
          f"recording RMS {rms}")


def test_otp_call_spoken_by_flite_as_often_as_asked(platform):
    p = platform
    acct = p.account()
    r = p.cpaas("POST", "/api/create_announce_template", acct,
                json={"template_name": "login", "template_text": "Your login code is {otp}. Thanks"})
    template_id = r.json()["response"]["announce_template_id"]
    r = p.cpaas("POST", "/api/outbound_call", acct, json={
        "customer_number": "919940000001", "otp": "1987", "announce_template_id": template_id, "repeat": "3",
        "caller_id": "15168148111"})
    assert r.status_code == 200, r.text
    request_id = r.json()["response"]["request_id"]

    c = p.request_cdrs(acct, request_id, what="the OTP CDR")[0]
    assert c["dial_status"] == "ANSWER", c
    speaks = [e for e in p.events.of("CHANNEL_EXECUTE", **{"Unique-ID": c["uniqueid"]})
              if e.get("Application") == "speak"]
    assert [e["Application-Data"].split("|")[0] for e in speaks] == ["flite"] * 3, speaks
    assert all("1 9 8 7" in e["Application-Data"] for e in speaks)
    assert float(c["billsec"]) > 3
    print(f"\nOTP: speak x{len(speaks)}: {speaks[0]['Application-Data']!r}, billsec {c['billsec']}")


def test_an_inbound_caller_id_the_platform_cannot_parse_reaches_the_app_as_given(platform, app):
    p = platform
    app.route("/anon", lambda params: "<response><playtext>Hello</playtext><hangup/></response>")
    acct = p.account()
    r = p.konnect("POST", "/InboundPhoneNumbers", acct, json={
        "id": uuid.uuid4().hex, "phone_number": "918000680002", "doc_url": app.url("/anon")})
    assert r.status_code in (200, 201), r.text
    assert p.caller("918000680002", "anonymous").wait(60) == 0
    first = app.requests_to("/anon")[0]["params"]
    assert first["cid"] == "anonymous" and first.get("phone_number") == "anonymous", first

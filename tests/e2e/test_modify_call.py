"""Seed 002 modify_call on live calls of the real switch: record, blind transfer, hangup, attended transfer."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from tests.e2e.harness import wait_for
from tests.ivr.appserver import AppServer


@pytest.fixture
def app():
    a = AppServer().start()
    yield a
    a.stop()


def _modify(p, acct, channel, modify_type, transfer_to=None):
    body = {"channel": channel, "modify_type": str(modify_type)}
    if transfer_to:
        body["transfer_to"] = transfer_to
    return p.cpaas("POST", "/api/modify_call", acct, json=body)


def _leg(p, number):
    """The Unique-ID of the channel FreeSWITCH created to ``number``."""
    found = wait_for(lambda: p.events.of("CHANNEL_CREATE", **{"Caller-Destination-Number": number}), 60,
                     what=f"a channel to {number}")
    return found[-1]["Unique-ID"]


def _bridged(p, a, b):
    return [e for e in p.events.of("CHANNEL_BRIDGE")
            if {e.get("Bridge-A-Unique-ID"), e.get("Bridge-B-Unique-ID")} == {a, b}]


def test_record_blind_transfer_and_hangup_of_an_ivr_call(platform, app):
    p = platform
    app.route("/dial", lambda params: ("<response><dial>919970000002</dial></response>"
                                       if params.get("event") == "NewCall" else "<response/>"))
    acct = p.account()
    r = p.konnect("POST", "/Calls", acct, json={"id": uuid.uuid4().hex, "caller_id": "918000680000",
                                                "recipient": ["919970000001"], "doc_url": app.url("/dial")})
    assert r.status_code in (200, 201), r.text
    customer = _leg(p, "919970000001")
    agent = _leg(p, "919970000002")
    wait_for(lambda: _bridged(p, customer, agent), 30, what="the customer bridged to the dialled party")
    # 3: start recording.
    r = _modify(p, acct, customer, 3)
    assert r.status_code == 200, r.text
    name = r.json()["response"]["recording_name"]
    path = p.workdir / "recordings" / name
    wait_for(lambda: path.exists() and path.stat().st_size > 16000, 20, what="the recording growing")
    # 0: blind transfer: the customer goes to the target, the dialled party drops.
    r = _modify(p, acct, customer, 0, "919970000003")
    assert r.status_code == 200, r.text
    target = _leg(p, "919970000003")
    wait_for(lambda: _bridged(p, customer, target), 30, what="the customer bridged to the transfer target")
    wait_for(lambda: p.events.of("CHANNEL_HANGUP_COMPLETE", **{"Unique-ID": agent}), 30,
             what="the replaced party hung up")
    assert not p.events.of("CHANNEL_HANGUP_COMPLETE", **{"Unique-ID": customer})
    # 2: hang the customer up.
    r = _modify(p, acct, customer, 2)
    assert r.status_code == 200, r.text
    hc = wait_for(lambda: p.events.of("CHANNEL_HANGUP_COMPLETE", **{"Unique-ID": customer}), 30,
                  what="the customer hung up")[0]
    # The call is gone now: another hangup is a 404 in the seed's shape.
    time.sleep(1)
    r = _modify(p, acct, customer, 2)
    assert r.status_code == 404 and r.json()["response"]["field"] == "channel", r.text
    size = os.path.getsize(path)
    print(f"\nmodify_call: recording {name} {size} bytes; customer bridged to the target; "
          f"hangup cause {hc.get('Hangup-Cause')}")


def _cdr(p, uniqueid):
    """The call's CDR once both halves are in (the hangup event and the IVR runtime's facts), else None."""
    from sqlalchemy import select

    from dialer.store import db
    from dialer.store.models import Cdr

    with db.session_scope(p.db_url) as s:
        row = s.scalars(select(Cdr).where(Cdr.uniqueid == uniqueid, Cdr.hangup_recorded.is_(True),
                                          Cdr.ivr_recorded.is_(True))).first()
        if row is not None:
            s.expunge(row)
        return row


def _click2call(p, acct, agent_number, customer_number):
    r = p.cpaas("POST", "/api/click2call", acct, json={
        "agent_number": agent_number, "caller_id": "15168148111", "destination_number": customer_number})
    assert r.status_code == 200, r.text
    agent = _leg(p, agent_number)
    customer = _leg(p, customer_number)
    wait_for(lambda: _bridged(p, agent, customer), 30, what="agent and customer bridged")
    return agent, customer


def test_attended_transfer_of_a_click2call(platform):
    p = platform
    acct = p.account()
    # The agent (…312) hangs up by itself about 14 s after answering: that completes the attended transfer.
    agent, customer = _click2call(p, acct, "919980000312", "919980000004")
    r = _modify(p, acct, agent, 1, "919980000005")
    assert r.status_code == 200, r.text
    target = _leg(p, "919980000005")
    wait_for(lambda: _bridged(p, agent, target), 30, what="the agent consulting the target")
    wait_for(lambda: p.events.of("CHANNEL_HANGUP_COMPLETE", **{"Unique-ID": agent}), 40,
             what=f"the agent leaving (event log errors: {getattr(p.events, 'errors', [])})")
    wait_for(lambda: _bridged(p, customer, target), 30, what="the customer handed over to the target")
    # The click2call is over for the platform while the customer talks to the target: its record is complete.
    row = wait_for(lambda: _cdr(p, agent), 30, what="the click2call's CDR with the IVR runtime's facts")
    assert not p.events.of("CHANNEL_HANGUP_COMPLETE", **{"Unique-ID": customer})
    assert row.dial_status == "ANSWER" and row.hangup_cause == "NORMAL_CLEARING", (row.dial_status, row.hangup_cause)
    assert [d["status"] for d in row.dial_results] == ["answered"], row.dial_results
    e = p.esl()
    try:
        e.api(f"uuid_kill {customer}")
    finally:
        e.close()
    print(f"\nattended transfer: agent consulted the target, hung up, customer bridged to the target; "
          f"CDR billsec {row.billsec}")


def test_attended_transfer_the_target_refuses_or_the_agent_abandons(platform):
    p = platform
    acct = p.account()
    # A busy target: the agent is back with the customer at once; its own hangup (…312, ~14 s) then ends both.
    # (Every agent number here is new: _leg finds a number's latest channel.)
    agent, customer = _click2call(p, acct, "919980001312", "919980000014")
    r = _modify(p, acct, agent, 1, "919980000486")
    assert r.status_code == 200, r.text
    wait_for(lambda: len(_bridged(p, agent, customer)) >= 2, 30, what="the agent back with the customer")
    wait_for(lambda: p.events.of("CHANNEL_HANGUP_COMPLETE", **{"Unique-ID": customer}), 40, what="the call ending")
    wait_for(lambda: p.events.of("CHANNEL_HANGUP_COMPLETE", **{"Unique-ID": agent}), 10, what="the agent's end")
    # A target that never answers, and the agent hangs up while it rings: the customer is not left waiting.
    agent, customer = _click2call(p, acct, "919980002312", "919980000024")
    r = _modify(p, acct, agent, 1, "919980000480")
    assert r.status_code == 200, r.text
    _leg(p, "919980000480")
    hc = wait_for(lambda: p.events.of("CHANNEL_HANGUP_COMPLETE", **{"Unique-ID": customer}), 40,
                  what="the waiting customer hung up")[0]
    assert p.events.of("CHANNEL_HANGUP_COMPLETE", **{"Unique-ID": agent})
    assert not [e for e in p.events.of("CHANNEL_BRIDGE") if customer in (e.get("Bridge-A-Unique-ID"),
                                                                          e.get("Bridge-B-Unique-ID"))][1:]
    wait_for(lambda: _cdr(p, agent), 30, what="the abandoned click2call's CDR")
    print(f"\nattended transfer refused: agent back with the customer; abandoned: customer hung up "
          f"({hc.get('Hangup-Cause')})")

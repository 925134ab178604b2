"""SnapCall: a missed call to a SnapCall number is refused unanswered, reported to the webhook, and verifies
a pending missed-call verification — through the real API, the FreeSWITCH simulator over TCP (a caller dials
the number; its dialplan hands the call to the IVR runtime), the runtime, the dialer's ESL listener, the
callbacks queue and real HTTP receivers."""

from __future__ import annotations

import json
import re

import sqlalchemy as sa

from dialer.store import db
from dialer.store.models import Cdr, InboundNumber
from tests.billing.helpers import VoiceRig
from tests.dialer.engine_helpers import wait_for
from tests.ivr.appserver import AppServer

KONNECT_TIME = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M UTC$")


def test_snapcall_number_and_verification_api(api_stack):
    acct = api_stack.account()
    r = api_stack.konnect("POST", "/SnapCall", acct, json={"id": "A1", "phone_number": "919886000085",
                                                           "callback_url": "http://myapp.com/missed"})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "accepted" and re.fullmatch(r"AC[0-9a-f]{32}", body["ref_id"])
    with api_stack.session() as s:
        inbound = s.get(InboundNumber, "+919886000085")
        # The runtime finds the number in the inbound table; its app refuses the call, nothing answers it.
        assert inbound.app_url == f"{api_stack.base}/apps/snapcall?reject=busy" and inbound.dialect == "kml"
        assert inbound.callback_url is None
    app = api_stack.http.get(inbound.app_url, timeout=5)
    assert app.text.strip().endswith('<Response><Reject reason="busy"/></Response>')
    v = api_stack.konnect("POST", "/SnapCall/Verifications", acct, json={"id": "V1", "phone_number": "919886038842"})
    assert v.status_code == 200 and v.json()["status"] == "accepted"
    assert v.json()["snapcall_number"] == "919886000085"
    got = api_stack.konnect("GET", f"/SnapCall/Verifications/{v.json()['ref_id']}", acct).json()
    assert (got["status"], got["phone_number"], got["timestamp"]) == ("pending", "919886038842", "")
    # Another account cannot take or see it; bad input is Konnect's 3050.
    other = api_stack.account()
    r = api_stack.konnect("POST", "/SnapCall", other, json={"id": "A2", "phone_number": "919886000085"})
    assert r.status_code == 409 and r.json()["error_code"] == "3050"
    assert api_stack.konnect("GET", f"/SnapCall/Verifications/{v.json()['ref_id']}", other).status_code == 404
    r = api_stack.konnect("POST", "/SnapCall", acct, json={"id": "A3", "phone_number": "919886000086",
                                                           "reject": "hangup"})
    assert r.status_code == 400 and r.json()["error_code"] == "3050" and r.json()["field"] == "reject"
    d = api_stack.konnect("DELETE", "/SnapCall/919886000085", acct)
    assert d.json() == {"status": "accepted", "ref_id": body["ref_id"]}
    with api_stack.session() as s:
        assert s.get(InboundNumber, "+919886000085") is None
    assert api_stack.konnect("DELETE", "/SnapCall/919886000085", acct).status_code == 404


def test_missed_call_is_refused_unanswered_and_reported(sqlite_stack, monkeypatch):
    stack = sqlite_stack
    cfg0 = stack.cfg
    receiver = AppServer().start()
    receiver.route("/missed", lambda p: "ok")
    receiver.route("/verified", lambda p: "ok")
    acct = stack.account()
    r = stack.konnect("POST", "/SnapCall", acct, json={"id": "SC-1", "phone_number": "918000680000",
                                                      "callback_url": receiver.url("/missed")})
    assert r.json()["status"] == "accepted"
    v = stack.konnect("POST", "/SnapCall/Verifications", acct,
                      json={"id": "V-1", "phone_number": "919979270001", "callback_url": receiver.url("/verified"),
                            "expiry": 120}).json()
    rig = VoiceRig(cfg0, monkeypatch)
    try:
        assert rig.esl_api("sim_inbound 919979270001 918000680000").startswith("+OK")

        def delivered():
            rig.work()
            return receiver.requests_to("/missed") and receiver.requests_to("/verified")

        wait_for(delivered, 20, every=0.2)
    finally:
        rig.stop()
        receiver.stop()
    with db.session_scope(cfg0.sqlalchemy_url) as s:
        row = s.execute(sa.select(Cdr).where(Cdr.dialed_number == "+918000680000")).scalar_one()
    # Refused before any answer: the caller's network bills nothing.
    assert row.answer is None and row.billsec == 0
    assert (row.hangup_cause, row.dial_status) == ("USER_BUSY", "BUSY")
    hook = json.loads(receiver.requests_to("/missed")[0]["body"])
    assert list(hook) == ["id", "ref_id", "status", "from", "to", "timestamp", "event_timestamp", "error_code",
                          "error_reason"]
    assert {k: hook[k] for k in ("id", "ref_id", "status", "from", "to", "error_code", "error_reason")} == {
        "id": "SC-1", "ref_id": row.uniqueid, "status": "received", "from": "919979270001", "to": "918000680000",
        "error_code": "", "error_reason": ""}
    assert KONNECT_TIME.match(hook["timestamp"]) and KONNECT_TIME.match(hook["event_timestamp"])
    verified = json.loads(receiver.requests_to("/verified")[0]["body"])
    assert (verified["id"], verified["ref_id"], verified["status"], verified["phone_number"],
            verified["snapcall_number"]) == ("V-1", v["ref_id"], "verified", "919979270001", "918000680000")
    assert KONNECT_TIME.match(verified["timestamp"])
    got = stack.konnect("GET", f"/SnapCall/Verifications/{v['ref_id']}", acct).json()
    assert got["status"] == "verified" and got["timestamp"] == verified["timestamp"]

"""A Konnect Calls request on a prepaid account through the real API, dialer, simulator and IVR runtime: the
balance pays one first minute, so the first recipient is called and charged 0.60, and the second — waiting
while the first held its reservation — fails as a barred call once nothing is held and nothing is left."""

from __future__ import annotations

import json

import sqlalchemy as sa

from dialer.store import db
from dialer.store.models import Attempt, Cdr
from tests.billing.helpers import VoiceRig, balance, set_rates, topup
from tests.dialer.engine_helpers import wait_for
from tests.ivr.appserver import AppServer


def test_a_request_the_balance_cannot_finish_fails_its_unpaid_call(sqlite_stack, monkeypatch):
    stack = sqlite_stack
    url = stack.cfg.sqlalchemy_url
    receiver = AppServer().start()
    receiver.route("/notify", lambda p: "ok")
    acct = stack.account()
    set_rates(url, acct.account_id, "service,prefix,rate,pulse\nvoice,91988,0.60,60/60\n")
    topup(url, acct.account_id, "0.60")
    rig = VoiceRig(stack.cfg, monkeypatch)
    try:
        r = stack.konnect("POST", "/Calls", acct, json={
            "id": "R-1", "recipient": ["+919886038801", "+919886038802"], "caller_id": "919886000085",
            "media_url": "http://127.0.0.1:9/audio.wav", "callback_url": receiver.url("/notify")})
        assert r.json() == {"status": "ok"}

        def statuses():
            rig.work()
            return [json.loads(x["body"]) for x in receiver.requests_to("/notify")
                    if json.loads(x["body"]).get("status") in ("delivered", "failed")]

        done = wait_for(lambda: len(statuses()) == 2 and statuses(), 30, every=0.2)
    finally:
        rig.stop()
        receiver.stop()
    by_number = {p["recipient"]: p for p in done}
    paid, barred = by_number["919886038801"], by_number["919886038802"]
    assert (paid["status"], paid["price"], paid["balance"]) == ("delivered", "0.60", "0.00")
    assert (barred["status"], barred["error_code"], barred["price"]) == ("failed", "CHANUNAVAIL", "")
    assert "OUTGOING_CALL_BARRED" in barred["error_reason"]
    with db.session_scope(url) as s:
        cause = s.scalar(sa.select(Cdr.hangup_cause).where(Cdr.dialed_number == "+919886038802"))
        error = s.scalar(sa.select(Attempt.error).where(Attempt.number == "+919886038802"))
    assert cause == "OUTGOING_CALL_BARRED" and error == "insufficient balance"
    bal = balance(url, acct.account_id)
    assert bal.balance == 0 and bal.reserved == 0

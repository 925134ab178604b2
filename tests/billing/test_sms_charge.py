"""SMS charged per part through billing's hook on the real Messages path: the API, the SMS worker's SMPP bind to
the SMSC stand-in over TCP, callbacks to a real receiver (the sms_stack of tests/sms, SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.billing.helpers import balance, set_rates, topup
from tests.sms.conftest import free_number


def test_messages_are_charged_per_part_and_refused_with_3003(sms_stack):
    st = sms_stack
    acct = st.api.account()
    url = st.api.cfg.sqlalchemy_url
    set_rates(url, acct.account_id, "service,prefix,rate,pulse\nsms,9198,0.20,\nsms,,1.00,\n")
    topup(url, acct.account_id, "0.50")
    number = free_number()
    path = f"/billing/{acct.account_id}"
    r = st.api.konnect("POST", "/Messages", acct, json={"id": "B1", "to": number, "body": "x" * 200,
                                                        "callback_url": st.receiver.url(path)})
    assert r.json() == {"status": "ok"}
    sent = st.callbacks(path, 1, where=lambda b: b["status"] == "sent")
    assert (sent[0]["price"], sent[0]["balance"]) == ("0.40", "0.10")  # two concatenated parts at 0.20
    assert balance(url, acct.account_id).balance == 1000
    r = st.api.konnect("POST", "/Messages", acct, json={"id": "B2", "to": number, "body": "one part"})
    assert r.json() == {"status": "error", "error_code": "3003", "error_reason": "Low Balance"}
    assert len(st.received_for(number)) == 2  # the two parts of the first message, nothing of the refused one
    assert st.api.konnect("GET", "/Balance", acct).json()["account_balance"] == "Rs.0.10"

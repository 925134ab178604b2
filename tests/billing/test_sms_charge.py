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


def test_a_calls_sendsms_is_charged_and_not_sent_without_balance(sms_stack):
    """The job the IVR runtime queues for <sendsms> (sms.jobs.send_from_call, run here as the SMS worker runs
    it, the charging hook installed as ``python -m sms worker`` installs it) pays per part like Messages."""
    import time

    import billing.sms
    from sms.jobs import send_from_call

    billing.sms.install()
    st = sms_stack
    acct = st.api.account()
    url = st.api.cfg.sqlalchemy_url
    set_rates(url, acct.account_id, "service,prefix,rate,pulse\nsms,9198,0.20,\nsms,,1.00,\n")
    topup(url, acct.account_id, "0.30")
    number = free_number()
    job = {"account_id": acct.account_id, "to": number[1:], "text": "Your OTP is 4711", "from": "918000000000"}
    assert send_from_call({**job, "sms_id": "call-1"}, st.api.cfg).get("queued") is True
    assert balance(url, acct.account_id).balance == 1000  # 0.30 − 0.20 for the one part
    refused = send_from_call({**job, "sms_id": "call-2"}, st.api.cfg)
    assert "error" in refused and balance(url, acct.account_id).balance == 1000
    deadline = time.monotonic() + 8
    while not st.received_for(number) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [m.text for m in st.received_for(number)] == ["Your OTP is 4711"]

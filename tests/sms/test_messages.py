"""Konnect Messages end to end: the API, the SMS worker's bind, the SMSC stand-in over TCP, real HTTP callbacks."""

from __future__ import annotations

import re
import time

import pytest
import requests

from tests.sms.conftest import free_number

#: Seed 000's callback fields for a message's status (in the seed's order), with the request's id first.
STATUS_FIELDS = ["id", "ref_id", "status", "to", "from", "price", "balance", "error_code", "error_reason",
                 "timestamp", "event_timestamp"]
#: Tests of paths the database does not change run on SQLite only (the suite's time budget).
sqlite_only = pytest.mark.parametrize("sms_stack", ["sqlite"], indirect=True)
TIME = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M [A-Z]+$")


def _by_status(bodies, status):
    return [b for b in bodies if b.get("status") == status]


def test_seed_sample_request_accepted_sent_delivered(sms_stack):
    """Seed 000's sample request, as printed (curly quotes and all), with its accepted and status callbacks."""
    st = sms_stack
    acct = st.api.account()
    path = f"/seed/{acct.account_id}"
    url = st.receiver.url(path)
    body = ('{\n  "id": "A10579090909090",\n  "to": ["919886038842\u201d,\u201d919886038843\u201d],\n'
            '  "from": "919886000085",\n  "body": "Welcome to Konnect !",\n'
            f'  \u201ccallback_url\u201d: \u201c{url}\u201d\n}}')
    r = st.api.konnect("POST", "/Messages", acct, data=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    got = st.callbacks(path, 5)
    accepted = _by_status(got, "accepted")
    assert len(accepted) == 1 and list(accepted[0]) == ["id", "status", "ref_ids"]
    assert accepted[0]["id"] == "A10579090909090"
    pairs = {p["phone_number"]: p["ref_id"] for p in accepted[0]["ref_ids"]}
    assert set(pairs) == {"919886038842", "919886038843"}
    assert all(re.fullmatch(r"AC[0-9a-f]{32}", ref) for ref in pairs.values())
    for status in ("sent", "delivered"):
        rows = _by_status(got, status)
        assert sorted(b["to"] for b in rows) == ["919886038842", "919886038843"]
        for b in rows:
            assert list(b) == STATUS_FIELDS
            assert b["id"] == "A10579090909090" and b["ref_id"] == pairs[b["to"]] and b["from"] == "919886000085"
            assert b["error_code"] == "" and b["error_reason"] == "" and b["price"] == "" and b["balance"] == ""
            assert TIME.match(b["timestamp"]) and TIME.match(b["event_timestamp"])
    for number in ("919886038842", "919886038843"):
        (pdu,) = st.received_for(number)
        assert pdu.text == "Welcome to Konnect !" and pdu.source == "919886000085"
        assert pdu.data_coding == 0 and pdu.registered_delivery == 1
    # The same id again: the same answer, nothing sent again.
    r = st.api.konnect("POST", "/Messages", acct, data=body.encode(), headers={"Content-Type": "application/json"})
    assert r.json() == {"status": "ok"}
    time.sleep(0.3)
    assert len(st.received_for("919886038842")) == 1
    status = st.api.konnect("GET", f"/Messages/{pairs['919886038842']}", acct).json()
    assert status["status"] == "ok" and status["message"]["status"] == "delivered"


@sqlite_only
def test_get_form_sender_mask_and_bad_input(sms_stack):
    st = sms_stack
    acct = st.api.account()
    number = free_number()
    r = st.api.konnect("GET", "/Messages", acct, params={"id": "G1", "to": number, "body": "By query string",
                                                         "sender_mask": "KONNECT"})
    assert r.json() == {"status": "ok"}
    deadline = time.monotonic() + 5
    while not st.received_for(number) and time.monotonic() < deadline:
        time.sleep(0.02)
    (pdu,) = st.received_for(number)
    assert pdu.source == "KONNECT" and pdu.text == "By query string"
    for params, field in (({"id": "G2", "to": number}, "body"), ({"id": "G3", "body": "x"}, "to"),
                          ({"id": "G4", "to": "12", "body": "x"}, "to[0]"),
                          ({"id": "G5", "to": number, "body": "x", "sender_mask": "MUCH_TOO_LONG_MASK"}, "sender_mask")):
        r = st.api.konnect("GET", "/Messages", acct, params=params)
        assert r.status_code == 400
        got = r.json()
        assert got["status"] == "error" and got["error_code"] == "3050" and got["field"] == field
    r = st.api.http.post(st.api.url(f"/api/v1/Accounts/{acct.account_id}/Messages"),
                         headers={"Authorization": "wrong"}, json={"id": "x", "to": number, "body": "x"})
    assert r.status_code == 401 and r.json()["error_code"] == "3001"


@sqlite_only
def test_unicode_long_message_in_three_concatenated_parts(sms_stack):
    st = sms_stack
    acct = st.api.account()
    path = f"/uni/{acct.account_id}"
    url = st.receiver.url(path)
    number = free_number()
    text = ("नमस्ते, आपका ऑर्डर भेज दिया गया है। " * 4).strip()  # 35 UCS-2 units a time: 139 → 3 parts of 67
    r = st.api.konnect("POST", "/Messages", acct, json={"id": "U1", "to": number, "body": text, "callback_url": url})
    assert r.json() == {"status": "ok"}
    delivered = st.callbacks(path, 1, where=lambda b: b["status"] == "delivered")
    assert len(delivered) == 1
    pdus = st.received_for(number)
    assert len(pdus) == 3
    assert {p.data_coding for p in pdus} == {8} and all(p.esm_class & 0x40 for p in pdus)
    refs = {p.concat[0] for p in pdus}
    assert len(refs) == 1 and sorted(p.concat[1:] for p in pdus) == [(3, 1), (3, 2), (3, 3)]
    assert "".join(p.text for p in sorted(pdus, key=lambda p: p.concat[2])) == text
    ref_id = delivered[0]["ref_id"]
    msg = st.api.konnect("GET", f"/Messages/{ref_id}", acct).json()["message"]
    assert msg["parts"] == 3 and msg["encoding"] == "UCS-2" and msg["status"] == "delivered"


def test_gsm7_extension_characters_count_double():
    from sms.parts import encode

    assert encode("a" * 160).parts == 1 and encode("a" * 161).parts == 2
    assert encode("€" * 80).parts == 1 and encode("€" * 81).parts == 2  # ESC + e: two septets each
    assert encode("a" * 306).parts == 2 and encode("a" * 307).parts == 3
    assert encode("ह" * 70).parts == 1 and encode("ह" * 71).parts == 2
    assert encode("😀" * 35).parts == 1 and encode("😀" * 36).parts == 2  # two UTF-16 units each
    chunks = encode("a" * 152 + "€" + "b" * 10).chunks  # the escape pair is not cut
    assert [len(c) for c in chunks] == [152, 12]


def test_undelivered_failed_and_throttled_then_delivered(sms_stack):
    st = sms_stack
    acct = st.api.account()
    path = f"/out/{acct.account_id}"
    url = st.receiver.url(path)
    undeliv, bad, throttled = free_number("+9199900"), free_number("+9199901"), free_number("+9199902")
    r = st.api.konnect("POST", "/Messages", acct, json={"id": "F1", "to": [undeliv, bad, throttled],
                                                        "body": "outcomes", "callback_url": url})
    assert r.json() == {"status": "ok"}
    finals = st.callbacks(path, 3, where=lambda b: b["status"] in ("undelivered", "failed", "delivered"))
    by_to = {b["to"]: b for b in finals}
    assert by_to[undeliv[1:]]["status"] == "undelivered"
    assert by_to[undeliv[1:]]["error_code"] == "001" and by_to[undeliv[1:]]["error_reason"] == "Undeliverable"
    assert by_to[bad[1:]]["status"] == "failed" and by_to[bad[1:]]["error_code"] == "0x0000000b"
    assert by_to[bad[1:]]["error_reason"]
    assert by_to[throttled[1:]]["status"] == "delivered"
    assert [d for d, _ in st.smsc.refused].count(throttled[1:]) == 2
    assert len(st.received_for(throttled)) == 1 and not st.received_for(bad)
    assert all(list(b) == STATUS_FIELDS for b in finals)


@sqlite_only
def test_late_receipt_sent_first_then_delivered(sms_stack):
    st = sms_stack
    acct = st.api.account()
    path = f"/late/{acct.account_id}"
    url = st.receiver.url(path)
    number = free_number("+9199903")
    st.api.konnect("POST", "/Messages", acct, json={"id": "L1", "to": number, "body": "late", "callback_url": url})
    sent = st.callbacks(path, 1, where=lambda b: b["status"] == "sent")
    assert sent and not st.callbacks(path, 1, timeout=0.3, where=lambda b: b["status"] == "delivered")
    delivered = st.callbacks(path, 1, where=lambda b: b["status"] == "delivered")
    assert delivered and delivered[0]["ref_id"] == sent[0]["ref_id"]


def test_low_balance_3003_and_prices_in_callbacks(sms_stack):
    from sms import charging

    st = sms_stack
    acct = st.api.account()
    path = f"/price/{acct.account_id}"
    url = st.receiver.url(path)
    number = free_number()
    seen = []

    def hook(session, message):
        seen.append((message.to_number, message.parts))
        if message.body.startswith("too dear"):
            raise charging.LowBalance()
        return charging.Charge(price=f"{0.25 * message.parts:.2f}", balance="99.75")

    charging.register(hook)
    try:
        r = st.api.konnect("POST", "/Messages", acct, json={"id": "P1", "to": number, "body": "too dear"})
        assert r.json() == {"status": "error", "error_code": "3003", "error_reason": "Low Balance"}
        r = st.api.konnect("POST", "/Messages", acct, json={"id": "P2", "to": number, "body": "x" * 200,
                                                            "callback_url": url})
        assert r.json() == {"status": "ok"}
        sent = st.callbacks(path, 1, where=lambda b: b["status"] == "sent")
        assert sent[0]["price"] == "0.50" and sent[0]["balance"] == "99.75"
    finally:
        charging.unregister(hook)
    assert seen == [(number, 1), (number, 2)]
    assert len(st.received_for(number)) == 2  # the refused request stored and sent nothing


@sqlite_only
def test_tracked_url_redirects_and_reports_the_click(sms_stack):
    st = sms_stack
    acct = st.api.account()
    path = f"/click/{acct.account_id}"
    url = st.receiver.url(path)
    number = free_number()
    target = "https://shop.example.com/offer?id=7"
    st.api.konnect("POST", "/Messages", acct, json={"id": "C1", "to": number, "callback_url": url,
                                                    "body": f"Your offer: {target} today", "track_url": True})
    sent = st.callbacks(path, 1, where=lambda b: b["status"] == "sent")
    (pdu,) = st.received_for(number)
    short = re.search(r"http://\S+/l/(\w+)", pdu.text)
    assert short and target not in pdu.text
    r = requests.get(short.group(0), allow_redirects=False, timeout=5)
    assert r.status_code == 302 and r.headers["Location"] == target
    clicks = st.callbacks(path, 1, where=lambda b: "url_access_time" in b)
    assert list(clicks[0]) == ["id", "ref_id", "to", "url_access_time"]
    assert clicks[0]["id"] == "C1" and clicks[0]["ref_id"] == sent[0]["ref_id"] and clicks[0]["to"] == number[1:]
    assert TIME.match(clicks[0]["url_access_time"])
    msg = st.api.konnect("GET", f"/Messages/{sent[0]['ref_id']}", acct).json()["message"]
    assert msg["clicks"] == 1
    assert requests.get(st.api.url("/l/nosuchcode"), allow_redirects=False, timeout=5).status_code == 404


def test_mo_sms_to_an_inbound_number_reaches_its_callback_url(sms_stack):
    st = sms_stack
    acct = st.api.account()
    path = f"/mo/{acct.account_id}"
    url = st.receiver.url(path)
    ours = free_number()
    r = st.api.konnect("POST", "/InboundPhoneNumbers", acct,
                       json={"id": "I1", "phone_number": ours[1:], "callback_url": url})
    assert r.json()["status"] == "accepted"
    st.smsc.send_mo("919886012345", ours[1:], "WIN 1")
    (mo,) = st.callbacks(path, 1, where=lambda b: b.get("status") == "received")
    assert list(mo) == ["ref_id", "status", "to", "from", "price", "balance", "body", "error_code",
                        "error_reason", "timestamp", "event_timestamp"]
    assert mo["body"] == "WIN 1" and mo["from"] == "919886012345" and mo["to"] == ours[1:]
    assert mo["error_code"] == "" and mo["error_reason"] == "" and TIME.match(mo["timestamp"])
    got = st.api.konnect("GET", f"/Messages/{mo['ref_id']}", acct).json()["message"]
    assert got["status"] == "received" and got["direction"] == "inbound"


@sqlite_only
def test_bind_reconnects_after_the_smsc_drops_it(sms_stack):
    st = sms_stack
    acct = st.api.account()
    binds = st.worker.bind.binds
    st.smsc.drop_binds()
    number = free_number()
    st.api.konnect("POST", "/Messages", acct, json={"id": "R1", "to": number, "body": "after reconnect"})
    deadline = time.monotonic() + 8
    while not st.received_for(number) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(st.received_for(number)) == 1 and st.worker.bind.binds > binds

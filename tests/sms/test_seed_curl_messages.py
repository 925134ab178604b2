"""Seed 000's own Messages examples, run as written: its curl command with the real curl, its Python payload.

Adapted exactly as tests/api/test_seed_curl_examples.py adapts the voice examples (host, credentials,
the ``XXXX`` digits); the SMSC stand-in then shows what reached the operator.
"""

from __future__ import annotations

import os
import time

import pytest
import requests

from tests.api.test_seed_curl_examples import run_curl

SEED_CURL = """curl --request POST \\
  --url https://konnect.kirusa.com/api/v1/Accounts/your_account_id/Messages \\
  --header 'Authorization: your_api_token' \\
  --header 'Content-Type: application/json' \\
  --data '{
"id":"your_unique_id_for_request",
"from":"91888200XXXX",
"to":["91888100XXXX","91888100XXXX"],
"sender_mask":"KONNECT",
"body":"Your charging for Subscription is successful, you are subscribed for a period of 30 days"
}'"""

SEED_PYTHON_PAYLOAD = ("{\r\"id\":\"your_unique_id_for_request\",\r\"from\":\"91888200XXXX\",\r\"to\":[\"91888100XXXX\","
                       "\"91888100XXXX\"],\r\"sender_mask\":\"KONNECT\",\r\"body\":\"Your charging for Subscription is "
                       "successful, you are subscribed for a period of 30 days\"\r}\r")
BODY = "Your charging for Subscription is successful, you are subscribed for a period of 30 days"


def _wait(st, number, n):
    deadline = time.monotonic() + 5
    while len(st.received_for(number)) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    return st.received_for(number)


@pytest.mark.skipif(not os.path.exists("/usr/bin/curl") and not os.path.exists("/bin/curl"), reason="no curl")
@pytest.mark.parametrize("sms_stack", ["sqlite"], indirect=True)
def test_seed_messages_curl_and_python_examples(sms_stack):
    st = sms_stack
    acct = st.api.account()
    assert run_curl(SEED_CURL, st.api, acct, {}, digits="1234") == {"status": "ok"}
    got = _wait(st, "918881001234", 2)  # the seed lists the (masked) number twice: two messages
    assert len(got) == 2 and all(p.source == "KONNECT" and p.text == BODY for p in got)
    # The seed's Python example, payload byte for byte (\r separators), under another account.
    acct = st.api.account()
    payload = SEED_PYTHON_PAYLOAD.replace("XXXX", "5678")
    r = requests.request("POST", st.api.url(f"/api/v1/Accounts/{acct.account_id}/Messages"), data=payload,
                         headers={"Content-Type": "application/json", "Authorization": acct.api_token}, timeout=10)
    assert r.json() == {"status": "ok"}
    got = _wait(st, "918881005678", 2)
    assert len(got) == 2 and all(p.source == "KONNECT" and p.text == BODY for p in got)

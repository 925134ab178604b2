"""Balance, Low Balance and SnapCall with the real curl, in the style of tests/api/test_seed_curl_examples.py.

Seed 000's own curl example for an outbound campaign is run as written against a prepaid account that cannot
pay a call: the answer is the seed's Low Balance sample. The seed gives no curl for ``Balance`` (only its URL
structure and sample answer) nor for SnapCall (its API is "under implementation" there): those commands are
written the way the seed writes its Konnect curl examples, with its placeholders, and adapted the same way.
"""

from __future__ import annotations

import os

import pytest

from tests.api.test_seed_curl_examples import KONNECT, run_curl
from tests.billing.helpers import set_rates, topup

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/curl") and not os.path.exists("/bin/curl"),
                                reason="no curl")

# Seed 000, "Configure an outbound calling campaign using Konnect's REST API", as written (the voice curl test's copy).
SEED_OBD = next(c for c in KONNECT if "/Calls" in c and '"media_url"' in c)

# Seed 000's Balance "URL Structure" (GET) as a curl in the seed's style.
BALANCE = """curl --request GET \\
  --url https://konnect.kirusa.com/api/v1/Accounts/your_account_id/Balance \\
  --header 'Authorization: your_api_token'"""

SNAPCALL = """curl --request POST \\
  --url https://konnect.kirusa.com/api/v1/Accounts/your_account_id/SnapCall \\
  --header 'Authorization: your_api_token' \\
  --header 'Content-Type: application/json' \\
  --data '{
"id":"your_unique_id_for_request",
"phone_number":"91888300XXXX",
"callback_url":"your_callback_url"
}'"""

SNAPCALL_DELETE = """curl --location --request DELETE "https://konnect.kirusa.com/api/v1/Accounts/your_account_id/SnapCall/91888300XXXX" \\
     --header "Authorization: your_api_token\""""


def test_balance_and_low_balance_with_curl(sqlite_stack):
    from dialer.store import accounts, db

    with db.session_scope(sqlite_stack.cfg.sqlalchemy_url) as s:
        acct = accounts.create_account(s, "Abhirup")
    url = sqlite_stack.cfg.sqlalchemy_url
    set_rates(url, acct.account_id, "service,prefix,rate,pulse\nvoice,91,0.60,60/60\n")
    topup(url, acct.account_id, "0.59")
    assert run_curl(SEED_OBD, sqlite_stack, acct, {}) == {"status": "error", "error_code": "3003",
                                                          "error_reason": "Low Balance"}
    topup(url, acct.account_id, "4800.41")
    assert run_curl(BALANCE, sqlite_stack, acct, {}) == {"mode": "paid", "account_balance": "Rs.4,801",
                                                         "name": "Abhirup", "status": "ok"}
    assert run_curl(SEED_OBD, sqlite_stack, acct, {}) == {"status": "ok"}


def test_snapcall_with_curl(sqlite_stack):
    acct = sqlite_stack.account()
    made = run_curl(SNAPCALL, sqlite_stack, acct, {})
    assert made["status"] == "accepted" and made["ref_id"].startswith("AC")
    assert run_curl(SNAPCALL_DELETE, sqlite_stack, acct, {}) == {"status": "accepted", "ref_id": made["ref_id"]}

"""50 calls reserving at the same instant from 3 processes (16-17 threads each), against real SQLite and PostgreSQL:
the balance is never overdrawn, and once settled every unit is accounted for in the ledger."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

from sqlalchemy import func, select

from billing import ledger, money
from dialer.store import accounts, db
from dialer.store.billing_models import BillingLedger, BillingReservation
from tests.billing.helpers import balance, set_rates, topup

CARD = "service,prefix,rate,pulse\nvoice,91,1.00,60/60\n"
#: Processes reserving at once (17, 17 and 16 threads): each costs half a second of imports.
PROCESSES = 3


def _run(store, account_id, keys, want, settle=None):
    start_at = time.time() + 1.0  # every process imported and connected before the instant
    procs = []
    for i in range(PROCESSES):
        args = [sys.executable, "-m", "tests.billing.reserver", store, account_id, str(start_at), str(want),
                *keys[i::PROCESSES]]
        if settle is not None:
            args += ["--settle", str(settle)]
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    rows = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        rows += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(rows) == len(keys)
    return rows


def test_fifty_concurrent_reservations_never_overdraw(store):
    with db.session_scope(store) as s:
        account_id = accounts.create_account(s, "acme").account_id
    set_rates(store, account_id, CARD)
    topup(store, account_id, "205")  # 20 calls of 10 minutes, then one of 5, then nothing
    keys = [str(uuid.uuid4()) for _ in range(50)]
    rows = _run(store, account_id, keys, want=600, settle=None)
    granted = [r for r in rows if r["ok"]]
    assert sorted(r["seconds"] for r in granted) == [300] + [600] * 20
    # Refused while the granted calls hold the whole balance: they wait for those calls to settle.
    assert all(r["reason"] == "wait" for r in rows if not r["ok"])
    bal = balance(store, account_id)
    assert bal.reserved == sum(r["amount"] for r in granted) == money.parse("205")
    assert bal.available == 0 and bal.balance == money.parse("205")
    with db.session_scope(store) as s:
        assert s.scalar(select(func.count()).select_from(BillingReservation)
                        .where(BillingReservation.state == "held")) == 21
    # Then the calls end (95 s at 60/60 is two minutes): each pays its price, releases the rest, and the
    # ledger adds up to the balance.
    with db.session_scope(store, immediate=True) as s:
        prices = [ledger.settle(s, r["key"], billsec=95).price for r in granted]
    assert sorted(prices) == [money.parse("2")] * 21
    bal = balance(store, account_id)
    assert bal.reserved == 0 and bal.balance == money.parse("205") - sum(prices) == money.parse("163")
    with db.session_scope(store) as s:
        debits = s.scalar(select(func.sum(BillingLedger.amount)).where(BillingLedger.account_id == account_id,
                                                                        BillingLedger.kind == "call"))
    assert -debits == sum(prices)

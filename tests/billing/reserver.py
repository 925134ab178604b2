"""A child process of the concurrency test: threads that each reserve (then settle) one call at the same instant.

``python -m tests.billing.reserver DB_URL ACCOUNT_ID START_AT WANT_SECONDS KEY...``: every thread waits for
``START_AT`` (a time.time() value), reserves its key in its own transaction, and prints one JSON line per key
with the grant; with ``--settle BILLSEC`` each granted call is then settled from that billsec.
"""

from __future__ import annotations

import json
import sys
import threading
import time


def main(argv: list[str]) -> int:
    settle_at = None
    if "--settle" in argv:
        i = argv.index("--settle")
        settle_at = float(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    db_url, account_id, start_at, want = argv[0], argv[1], float(argv[2]), int(argv[3])
    keys = argv[4:]
    from billing import ledger
    from dialer.store import db

    db.get_engine(db_url)
    out: dict[str, dict] = {}

    def one(key: str) -> None:
        time.sleep(max(0.0, start_at - time.time()))
        with db.session_scope(db_url, immediate=True) as s:
            g = ledger.reserve_calls(s, account_id, [(key, "+919886038842")], want)[key]
        out[key] = {"ok": g.ok, "seconds": g.seconds, "amount": g.amount, "reason": g.reason}
        if g.ok and settle_at is not None:
            with db.session_scope(db_url, immediate=True) as s:
                done = ledger.settle(s, key, billsec=min(settle_at, g.seconds or 0))
            out[key]["price"] = done.price if done else None

    threads = [threading.Thread(target=one, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in keys:
        print(json.dumps({"key": k, **out.get(k, {"ok": None})}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

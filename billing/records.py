"""The hook in the records path: settle a call's reservation when its CDR is complete.

``dialer.records`` calls :func:`settle_cdr` once per record (in the transaction that completes it), and
puts the answer into the status callback (seed 000's ``price`` and ``balance``).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from billing import ledger


def settle_cdr(session: Session, row) -> dict[str, str] | None:
    """Settle the reservation of the call of CDR ``row`` from its billsec; its ``price``/``balance`` fields,
    or None when the call held nothing (not metered, free, inbound, never reserved)."""
    key = row.uniqueid
    if not key:
        return None
    billsec = float(row.billsec or 0) if row.answer is not None else 0.0
    done = ledger.settle(session, key, billsec=billsec, reference=key)
    return done.fields() if done is not None else None

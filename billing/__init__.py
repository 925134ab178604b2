"""Prices and balance: rate cards, prepaid balances with atomic reservations, the ledger (docs/billing.md).

* :mod:`billing.money` — amounts as integers of ten-thousandths, parsed and shown as the seeds show them;
* :mod:`billing.rates` — the rate card (longest-prefix match, voice pulses, SMS parts) and its CSV import;
* :mod:`billing.ledger` — balances, top-ups, reserve / settle / release, the audit trail;
* :mod:`billing.holds` — campaigns paused because their account ran out of balance.

Layering: ``billing`` uses only ``dialer.store`` (its tables and sessions) and ``config``; the dialer (call
start, CDRs) and the API (Balance, submissions, CLI) call it.
"""

"""The SMS side of billing: each accepted message is charged per part by its destination's rate.

:func:`charge_message` is the hook of :mod:`sms.charging` (``install()`` registers it; the API does at start,
and any process that accepts messages — the SMS worker for ``<sendsms>`` during calls — must too). It runs in
the transaction that stores the message, with the account's balance row locked, and debits
``rate x parts`` there (a ledger line per message), so concurrent requests cannot overdraw; an account that
cannot pay raises :class:`sms.charging.LowBalance` (Konnect 3003) and nothing is stored. Unmetered accounts
are not charged (blank ``price``/``balance``). A message refused or undelivered later is not refunded: the
SMSC took it (as Konnect bills a sent message).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from billing import ledger, money, rates
from dialer.store.billing_models import BillingLedger


def charge_message(session: Session, message):
    """Price ``message`` (``account_id``, ``to_number``, ``parts``) and debit it; a ``Charge`` or None."""
    from sms.charging import Charge, LowBalance

    row = ledger.locked_account(session, message.account_id)
    if row is None:
        return None
    rate = rates.card(session, message.account_id, "sms").match(message.to_number)
    if rate is None:
        raise LowBalance(f"no SMS rate for {message.to_number}")
    price = rate.rate * max(1, int(message.parts or 1))
    if price > row.balance - row.reserved:
        raise LowBalance("Low Balance")
    row.balance -= price
    session.add(BillingLedger(account_id=message.account_id, kind="sms", amount=-price, balance_after=row.balance,
                              reference=str(message.id)[:100], note=f"{message.to_number} {message.parts} part(s)"))
    session.flush()
    return Charge(price=money.plain(price), balance=money.plain(row.balance - row.reserved))


def install() -> None:
    """Register :func:`charge_message` with the SMS path (idempotent)."""
    from sms import charging

    charging.register(charge_message)

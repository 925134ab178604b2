"""Small helpers of the billing tests: top-ups and rate cards written through the billing package itself."""

from __future__ import annotations

from billing import ledger, money, rates
from dialer.store import db


def topup(db_url: str, account_id: str, amount: str, actor: str = "test") -> ledger.Balance:
    """Credit ``amount`` (text, currency units) to ``account_id``."""
    with db.session_scope(db_url, immediate=True) as s:
        return ledger.topup(s, account_id, money.parse(amount), actor=actor, note="test top-up")


def set_rates(db_url: str, account_id: str, csv_text: str) -> None:
    """Replace the account's rate card from CSV text."""
    with db.session_scope(db_url, immediate=True) as s:
        rates.replace_card(s, account_id, rates.parse_csv(csv_text))


def balance(db_url: str, account_id: str) -> ledger.Balance:
    """The account's balance now."""
    with db.session_scope(db_url) as s:
        return ledger.balance(s, account_id)

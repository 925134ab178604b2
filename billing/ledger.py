"""Prepaid balances: top-ups, reservations at call start, settlement from billsec, the audit trail.

Every change of a balance happens inside the caller's transaction with the account's ``billing_accounts``
row locked (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the caller's ``session_scope(immediate=True)``
holds the database's write lock), so two processes reserving at once see each other's reservations and
``balance - reserved`` never goes below zero:

* :func:`reserve_calls` at call start holds, per call, the price of ``BILLING_RESERVE_SECONDS`` of talk
  (or as many whole pulses as the balance still pays, at least the first one); the dialer puts the seconds
  on the channel (``sched_hangup`` on answer), so no call can talk longer than it holds;
* :func:`settle` at hangup debits the call's price from its billsec (never more than it holds), releases
  the rest and writes a ledger line; a call that was never answered costs nothing;
* :func:`release` gives a reservation back untouched (the call was not placed after all).

An account without a ``billing_accounts`` row is not metered: every function lets its calls through and
prices nothing. Its first :func:`topup` makes it prepaid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import money, rates
from dialer.store.billing_models import BillingAccount, BillingLedger, BillingReservation
from dialer.store.models import utcnow

log = logging.getLogger(__name__)


class BillingError(ValueError):
    """A top-up or adjustment that cannot be made (bad amount, unknown account)."""


@dataclass(frozen=True)
class Balance:
    """An account's balance as Konnect's Balance endpoint shows it."""

    metered: bool
    mode: str
    balance: int
    reserved: int

    @property
    def available(self) -> int:
        """What can still be spent: the balance less what calls in progress hold."""
        return self.balance - self.reserved


@dataclass(frozen=True)
class Grant:
    """The outcome of a reservation. ``ok`` False: refused, ``reason`` one of

    * ``balance``: the account cannot pay the call and holds nothing that could free up (it is out);
    * ``wait``: it cannot pay now, but calls in progress hold reservations whose unused part comes back;
    * ``no_rate``: the rate card has no rate for the number.

    ``seconds`` is the talk time held (None: unlimited, the account is not metered or the rate is free).
    """

    ok: bool
    seconds: int | None = None
    amount: int = 0
    reason: str = ""


UNMETERED = Grant(ok=True)


@dataclass(frozen=True)
class Settlement:
    """What a settled call or message cost and what its account has left (available balance)."""

    price: int
    balance: int

    def fields(self) -> dict[str, str]:
        """Seed 000's ``price`` and ``balance`` callback fields."""
        return {"price": money.plain(self.price), "balance": money.plain(self.balance)}


def locked_account(session: Session, account_id: str) -> BillingAccount | None:
    """The account's balance row, locked for this transaction (None: not metered)."""
    return session.scalars(select(BillingAccount).where(BillingAccount.account_id == account_id)
                           .with_for_update().execution_options(populate_existing=True)).first()


def balance(session: Session, account_id: str) -> Balance:
    """The account's balance (``metered`` False and zeros when it has never been topped up)."""
    row = session.get(BillingAccount, account_id)
    if row is None:
        return Balance(metered=False, mode="trial", balance=0, reserved=0)
    return Balance(metered=True, mode=row.mode, balance=row.balance, reserved=row.reserved)


def topup(session: Session, account_id: str, amount: int, *, actor: str = "", note: str = "",
          kind: str = "topup") -> Balance:
    """Credit ``amount`` units (negative with ``kind="adjust"`` debits) and log it; makes the account prepaid."""
    from dialer.store.models import Account

    if session.get(Account, account_id) is None:
        raise BillingError(f"no account {account_id!r}")
    if kind == "topup" and amount <= 0:
        raise BillingError("a top-up must be a positive amount")
    row = locked_account(session, account_id)
    if row is None:
        row = BillingAccount(account_id=account_id, mode="trial", balance=0, reserved=0)
        session.add(row)
        session.flush()
        row = locked_account(session, account_id)
    if kind == "adjust" and row.balance - row.reserved + amount < 0:
        raise BillingError("the adjustment would take the balance below what calls in progress hold")
    row.balance += amount
    if kind == "topup":
        row.mode = "paid"
    session.add(BillingLedger(account_id=account_id, kind=kind, amount=amount, balance_after=row.balance,
                              reference="", actor=actor[:100], note=note))
    session.flush()
    return Balance(metered=True, mode=row.mode, balance=row.balance, reserved=row.reserved)


def short_of_balance(session: Session, account_id: str, numbers: Iterable[str], service: str = "voice") -> bool:
    """True when the account is metered and cannot pay even the first pulse (or part) of any of ``numbers``.

    The API's submission check (Konnect 3003, Kairos INSUFFICIENT_BALANCE): refusing what can never start,
    while a balance that pays some calls lets the submission in (the dialer then reserves call by call).
    """
    bal = balance(session, account_id)
    if not bal.metered:
        return False
    card = rates.card(session, account_id, service)
    cheapest = None
    for n in numbers:
        r = card.match(n)
        if r is not None and (cheapest is None or r.first_pulse() < cheapest):
            cheapest = r.first_pulse()
    if cheapest is None:
        return bal.available <= 0
    return bal.available < max(cheapest, 1) if cheapest > 0 else False


def reserve_calls(session: Session, account_id: str, calls: list[tuple[str, str]], want_seconds: int
                  ) -> dict[str, Grant]:
    """Reserve talk time for ``calls`` — ``(key, number)``, the key being the call's channel uuid — in order.

    Returns a :class:`Grant` per key. A key reserved before answers its first grant (a retried batch holds
    nothing twice). Refused calls hold nothing.
    """
    if not calls:
        return {}
    row = locked_account(session, account_id)
    if row is None:
        return {key: UNMETERED for key, _ in calls}
    card = rates.card(session, account_id, "voice")
    existing = {r.id: r for r in session.scalars(select(BillingReservation).where(
        BillingReservation.id.in_([k for k, _ in calls])))}
    out: dict[str, Grant] = {}
    for key, number in calls:
        held = existing.get(key)
        if held is not None:
            out[key] = Grant(ok=held.state == "held", seconds=held.seconds, amount=held.amount,
                             reason="" if held.state == "held" else "settled")
            continue
        rate = card.match(number)
        if rate is None:
            out[key] = Grant(ok=False, reason="no_rate")
            continue
        if rate.rate <= 0:
            out[key] = Grant(ok=True)
            continue
        seconds = rate.affordable_seconds(row.balance - row.reserved, want_seconds)
        if seconds <= 0:
            out[key] = Grant(ok=False, reason="wait" if row.reserved > 0 else "balance")
            continue
        amount = rate.price_seconds(seconds)
        row.reserved += amount
        session.add(BillingReservation(id=key, account_id=account_id, service="voice", number=number,
                                       amount=amount, seconds=seconds, rate=rate.rate,
                                       pulse_initial=rate.pulse_initial, pulse_increment=rate.pulse_increment,
                                       state="held"))
        out[key] = Grant(ok=True, seconds=seconds, amount=amount)
    session.flush()
    return out


def reserve_sms(session: Session, account_id: str, key: str, number: str, parts: int) -> Grant:
    """Reserve the price of an SMS of ``parts`` parts to ``number`` (the hook for the SMS send path).

    Settle it with ``settle(session, key, parts=parts)`` once the SMSC accepted it (or ``parts=0`` / 
    :func:`release` when it was refused).
    """
    row = locked_account(session, account_id)
    if row is None:
        return UNMETERED
    held = session.get(BillingReservation, key)
    if held is not None:
        return Grant(ok=held.state == "held", amount=held.amount)
    rate = rates.card(session, account_id, "sms").match(number)
    if rate is None:
        return Grant(ok=False, reason="no_rate")
    amount = rate.rate * max(1, int(parts))
    if amount > row.balance - row.reserved:
        return Grant(ok=False, reason="balance")
    row.reserved += amount
    session.add(BillingReservation(id=key, account_id=account_id, service="sms", number=number, amount=amount,
                                   parts=int(parts), rate=rate.rate, pulse_initial=1, pulse_increment=1,
                                   state="held"))
    session.flush()
    return Grant(ok=True, amount=amount)


def settle(session: Session, key: str, *, billsec: float | None = None, parts: int | None = None,
           reference: str = "") -> Settlement | None:
    """Debit what the call (``billsec``) or message (``parts``) of reservation ``key`` cost; release the rest.

    Idempotent: a settled reservation answers its first settlement. None when ``key`` holds nothing (the
    account is not metered, or the rate was free).
    """
    held = session.get(BillingReservation, key)
    if held is None:
        return None
    row = locked_account(session, held.account_id)
    held = session.scalars(select(BillingReservation).where(BillingReservation.id == key).with_for_update()
                           .execution_options(populate_existing=True)).first()
    if row is None or held is None:
        return None
    if held.state == "settled":
        return Settlement(price=held.price or 0, balance=held.balance_after or 0)
    rate = rates.Rate(held.service, "", held.rate, held.pulse_initial, held.pulse_increment)
    if held.service == "sms":
        price = rate.rate * max(0, int(parts if parts is not None else held.parts or 0))
    else:
        price = rate.call_price(billsec or 0)
    if held.state == "held":
        # A call cannot talk past what it holds (it is cut at `seconds`); a late second of jitter is ours.
        price = min(price, held.amount)
        row.reserved -= held.amount
    else:  # released by the stale sweep before its record came: charge it now, as far as the balance goes
        price = min(price, max(0, row.balance - row.reserved))
    row.balance -= price
    held.state, held.price, held.settled_at = "settled", price, utcnow()
    held.balance_after = row.balance - row.reserved
    if price:
        session.add(BillingLedger(account_id=held.account_id, kind="call" if held.service == "voice" else "sms",
                                  amount=-price, balance_after=row.balance, reference=(reference or key)[:100],
                                  note=f"{held.number} {billsec or 0:g}s" if held.service == "voice"
                                  else f"{held.number} {parts} part(s)"))
    session.flush()
    return Settlement(price=price, balance=held.balance_after)


def release(session: Session, keys: Iterable[str]) -> int:
    """Give back reservations of calls that were not placed after all; returns how many were held."""
    keys = [k for k in keys if k]
    if not keys:
        return 0
    helds = session.scalars(select(BillingReservation).where(BillingReservation.id.in_(keys),
                                                             BillingReservation.state == "held")).all()
    n = 0
    for account_id in sorted({h.account_id for h in helds}):
        row = locked_account(session, account_id)
        for h in session.scalars(select(BillingReservation).where(
                BillingReservation.id.in_(keys), BillingReservation.account_id == account_id,
                BillingReservation.state == "held").with_for_update().execution_options(populate_existing=True)):
            row.reserved -= h.amount
            h.state, h.price, h.settled_at = "released", 0, utcnow()
            n += 1
    session.flush()
    return n


def release_stale(session: Session, *, grace_seconds: float) -> int:
    """Release reservations held longer than their talk time plus ``grace_seconds`` (the call's record was
    lost, or it was never placed by a worker that died); their record, if it still comes, is charged then."""
    cutoff = utcnow() - timedelta(seconds=grace_seconds)
    rows = session.scalars(select(BillingReservation).where(BillingReservation.state == "held",
                                                            BillingReservation.created_at < cutoff)
                           .limit(500)).all()
    now = utcnow()
    stale = [r.id for r in rows if r.created_at + timedelta(seconds=(r.seconds or 0) + grace_seconds) < now]
    return release(session, stale)


def entries(session: Session, account_id: str, limit: int = 50) -> list[BillingLedger]:
    """The account's newest ledger lines, newest first."""
    return list(session.scalars(select(BillingLedger).where(BillingLedger.account_id == account_id)
                                .order_by(BillingLedger.id.desc()).limit(limit)))

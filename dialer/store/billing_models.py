"""The billing tables (docs/billing.md): prepaid balances, rate cards, call reservations, the ledger.

Amounts are integers in ten-thousandths of the account's currency (``billing.money.SCALE``): a rate of
0.50/min at a 1/1 pulse costs 0.0083 per second, which no float rounding should decide.
The ``billing`` package reads and writes these rows; nothing else does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base, BigId, utcnow

Amount = BigInteger().with_variant(Integer(), "sqlite")


class BillingAccount(Base):
    """An account's prepaid balance. Without a row the account is not metered (its calls are not priced).

    ``reserved`` is what calls in progress hold; what can still be spent is ``balance - reserved``.
    """

    __tablename__ = "billing_accounts"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    #: Konnect's Balance ``mode``: ``trial`` until the first top-up, then ``paid``.
    mode: Mapped[str] = mapped_column(String(16), default="trial")
    balance: Mapped[int] = mapped_column(Amount, default=0)
    reserved: Mapped[int] = mapped_column(Amount, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BillingRate(Base):
    """One line of an account's rate card: a price per minute (voice) or per part (sms) for a prefix.

    ``prefix`` is digits of the E.164 number without ``+``; the longest matching prefix wins and ``""``
    matches every number. Voice is billed by the pulse ``pulse_initial``/``pulse_increment`` seconds.
    """

    __tablename__ = "billing_rates"
    __table_args__ = (UniqueConstraint("account_id", "service", "prefix"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    service: Mapped[str] = mapped_column(String(8))  # voice | sms
    prefix: Mapped[str] = mapped_column(String(16), default="")
    #: Per minute (voice) or per part (sms), in ten-thousandths.
    rate: Mapped[int] = mapped_column(Amount)
    pulse_initial: Mapped[int] = mapped_column(Integer, default=60)
    pulse_increment: Mapped[int] = mapped_column(Integer, default=60)


class BillingReservation(Base):
    """What one call (or SMS) holds of the balance from its start until it is settled or released.

    ``id`` is the call's channel uuid (or the message's reference). ``seconds`` is the talk time the
    reservation pays for: the call is cut when it runs out.
    """

    __tablename__ = "billing_reservations"
    __table_args__ = (Index("ix_billing_reservations_state_created", "state", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    service: Mapped[str] = mapped_column(String(8), default="voice")
    number: Mapped[str] = mapped_column(String(32), default="")
    amount: Mapped[int] = mapped_column(Amount, default=0)
    seconds: Mapped[Optional[int]] = mapped_column(Integer)
    parts: Mapped[Optional[int]] = mapped_column(Integer)
    rate: Mapped[int] = mapped_column(Amount, default=0)
    pulse_initial: Mapped[int] = mapped_column(Integer, default=60)
    pulse_increment: Mapped[int] = mapped_column(Integer, default=60)
    #: held | settled | released
    state: Mapped[str] = mapped_column(String(16), default="held")
    price: Mapped[Optional[int]] = mapped_column(Amount)
    balance_after: Mapped[Optional[int]] = mapped_column(Amount)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    settled_at: Mapped[Optional[datetime]] = mapped_column()


class BillingLedger(Base):
    """The audit trail: every change of a balance (top-up, call or SMS debit, adjustment), who and why."""

    __tablename__ = "billing_ledger"
    __table_args__ = (Index("ix_billing_ledger_account_at", "account_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # topup | call | sms | adjust
    #: Signed: positive credits the balance, negative debits it.
    amount: Mapped[int] = mapped_column(Amount)
    balance_after: Mapped[int] = mapped_column(Amount)
    reference: Mapped[str] = mapped_column(String(100), default="")
    actor: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")


class BillingHold(Base):
    """A campaign the dialer paused because its account's balance ran out; resumed by a top-up."""

    __tablename__ = "billing_holds"

    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    since: Mapped[datetime] = mapped_column(default=utcnow)

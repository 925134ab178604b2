"""The SnapCall tables (docs/billing.md, "SnapCall"): missed-call numbers and missed-call verifications.

A SnapCall number is also an ``inbound_numbers`` row (so the IVR runtime finds it in the inbound-number
table and rejects the call unanswered); this table adds what only SnapCall has: the webhook and how the
call is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base, utcnow


class SnapCallNumber(Base):
    """A number whose inbound calls are refused without answering; each one is reported to ``callback_url``."""

    __tablename__ = "snapcall_numbers"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    #: The customer's transaction id of the request that configured it (Konnect ``id``).
    konnect_id: Mapped[str] = mapped_column(String(200), default="")
    ref_id: Mapped[str] = mapped_column(String(40))
    callback_url: Mapped[Optional[str]] = mapped_column(Text)
    #: busy (USER_BUSY, SIP 486) | rejected (CALL_REJECTED, SIP 603)
    reject: Mapped[str] = mapped_column(String(16), default="busy")
    #: What the caller gets before the reject (migration 0008): reject (nothing: refused at once) | ring
    #: (``ring_seconds`` of 180 Ringing) | prompt (``prompt_url`` or ``prompt_text`` as early media, 183).
    mode: Mapped[str] = mapped_column(String(16), default="reject", server_default="reject")
    ring_seconds: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    prompt_url: Mapped[Optional[str]] = mapped_column(Text)
    prompt_text: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SnapCallVerification(Base):
    """A pending proof of a phone number: verified when that number gives a missed call to ``snapcall_number``."""

    __tablename__ = "snapcall_verifications"
    __table_args__ = (Index("ix_snapcall_verifications_match", "snapcall_number", "phone_number", "status"),)

    ref_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    konnect_id: Mapped[str] = mapped_column(String(200), default="")
    phone_number: Mapped[str] = mapped_column(String(32))
    snapcall_number: Mapped[str] = mapped_column(String(32))
    callback_url: Mapped[Optional[str]] = mapped_column(Text)
    #: pending | verified | expired
    status: Mapped[str] = mapped_column(String(16), default="pending")
    expires_at: Mapped[datetime] = mapped_column()
    verified_at: Mapped[Optional[datetime]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

"""SMS tables (docs/sms.md): Konnect ``Messages`` requests, messages, their SMPP parts, tracked links and clicks.

A message is one text to one number (outbound) or one MO text received (inbound); its ``id`` is the
Konnect ``ref_id``. Its parts are the ``submit_sm`` PDUs it takes; each part's state is what makes a
send exactly-once across worker crashes (``sms.sender``). Migration 0005.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base, BigId, utcnow

#: Message states. Outbound: queued → sending → sent → delivered | undelivered, or failed / rejected.
#: Inbound (MO): received.
MESSAGE_STATES = ("queued", "sending", "sent", "delivered", "undelivered", "failed", "rejected", "received")
#: Part states: queued → submitting → submitted → delivered | undelivered; failed; unknown (written to the
#: SMSC by a worker that died before its answer came: never written again).
PART_STATES = ("queued", "submitting", "submitted", "unknown", "failed", "delivered", "undelivered")


class SmsBatch(Base):
    """One Konnect ``Messages`` request (its ``id`` is the idempotency key)."""

    __tablename__ = "sms_batches"
    __table_args__ = (UniqueConstraint("account_id", "konnect_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    konnect_id: Mapped[str] = mapped_column(String(200))
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SmsMessage(Base):
    """One SMS to one number, or one MO SMS received."""

    __tablename__ = "sms_messages"
    __table_args__ = (Index("ix_sms_messages_status_next_try_at", "status", "next_try_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # the Konnect ref_id
    batch_id: Mapped[Optional[str]] = mapped_column(String(40), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    konnect_id: Mapped[Optional[str]] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(16), default="outbound")
    origin: Mapped[str] = mapped_column(String(16), default="api")  # api | call | inbound
    call_uuid: Mapped[Optional[str]] = mapped_column(String(64))
    to_number: Mapped[str] = mapped_column(String(32))
    from_number: Mapped[Optional[str]] = mapped_column(String(32))
    sender: Mapped[Optional[str]] = mapped_column(String(32))  # the SMPP source_addr
    body: Mapped[str] = mapped_column(Text, default="")
    encoding: Mapped[str] = mapped_column(String(8), default="GSM-7")
    parts: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    callback_url: Mapped[Optional[str]] = mapped_column(Text)
    time_zone: Mapped[Optional[str]] = mapped_column(String(64))
    expires_at: Mapped[Optional[datetime]] = mapped_column()
    tries: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[Optional[str]] = mapped_column(String(80))
    claimed_at: Mapped[Optional[datetime]] = mapped_column()
    next_try_at: Mapped[Optional[datetime]] = mapped_column()
    error_code: Mapped[Optional[str]] = mapped_column(String(16))
    error_reason: Mapped[Optional[str]] = mapped_column(Text)
    price: Mapped[Optional[str]] = mapped_column(String(32))
    balance: Mapped[Optional[str]] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[Optional[datetime]] = mapped_column()
    done_at: Mapped[Optional[datetime]] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SmsPart(Base):
    """One ``submit_sm`` of a message: its state and the SMSC's message_id."""

    __tablename__ = "sms_parts"
    __table_args__ = (UniqueConstraint("message_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("sms_messages.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    smsc_message_id: Mapped[Optional[str]] = mapped_column(String(80), index=True)
    command_status: Mapped[Optional[int]] = mapped_column(Integer)
    error_code: Mapped[Optional[str]] = mapped_column(String(16))
    submitted_at: Mapped[Optional[datetime]] = mapped_column()
    done_at: Mapped[Optional[datetime]] = mapped_column()


class SmsLink(Base):
    """A tracked URL of one message: ``/l/<code>`` redirects to ``url`` and counts the click."""

    __tablename__ = "sms_links"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("sms_messages.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_clicked_at: Mapped[Optional[datetime]] = mapped_column()


class SmsClick(Base):
    """One click of a tracked link."""

    __tablename__ = "sms_clicks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(ForeignKey("sms_links.code", ondelete="CASCADE"), index=True)
    message_id: Mapped[str] = mapped_column(String(40))
    clicked_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[Optional[str]] = mapped_column(String(64))
    user_agent: Mapped[Optional[str]] = mapped_column(Text)

"""The agent tables (docs/agents.md): the registry of agents and the log of their state changes.

Agents' live state is in Redis (``ivr.acd``); SQL keeps who they are and every change, for reports.
Re-exported by ``dialer.store.models``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import Base, BigId, utcnow


class Agent(Base):
    """A live agent of an account: where to ring it (``user/<id>`` or an E.164 number) and whether it is
    nailed up (``persistent``: one long call that campaign calls are bridged into). Deleting keeps the row
    (``deleted_at``) so CDRs and events still name it."""

    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    endpoint: Mapped[str] = mapped_column(String(64))
    persistent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[Optional[datetime]] = mapped_column()


class AgentEvent(Base):
    """One state change of an agent (login, ready, pause, logout, disposition, and the call states)."""

    __tablename__ = "agent_events"
    __table_args__ = (
        Index("ix_agent_events_agent_at", "agent_id", "at"),
        Index("ix_agent_events_account_at", "account_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The state entered (``ivr.acd.STATES``), or ``disposition``.
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    campaign_ids: Mapped[list[Any]] = mapped_column(default=list)
    call_uuid: Mapped[Optional[str]] = mapped_column(String(64))
    disposition: Mapped[Optional[str]] = mapped_column(Text)

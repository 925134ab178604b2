"""The declarative base and the column conventions every table module shares (ids, times, constraint names).

Its own module so that the table modules (:mod:`dialer.store.models` and the feature tables beside it:
agents, SMS, billing, SnapCall) import it one way, and ``models`` can import them to register their tables
without an import circle.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData
from sqlalchemy.orm import DeclarativeBase

__all__ = ["NAMING", "Base", "BigId", "new_id", "new_uuid", "utcnow"]

# Integer primary keys that autoincrement on both databases (SQLite only
# autoincrements a column declared exactly INTEGER).
BigId = BigInteger().with_variant(Integer(), "sqlite")

# Named constraints, so that migrations can refer to them on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time as the store keeps it: naive UTC."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_id(prefix: str = "", hex_chars: int = 10) -> str:
    """A random id in the seeds' style: ``new_id("CM")`` → ``"CMcc0cb33a01"``."""
    return prefix + secrets.token_hex((hex_chars + 1) // 2)[:hex_chars]


def new_uuid() -> str:
    """A random UUID as a string (attempt ids, origination uuids)."""
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    """Declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime()}

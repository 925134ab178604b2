"""Inbound numbers: the SQL truth and its Redis copy, the table the IVR runtime reads (contract 2).

Redis hash ``<prefix>:inbound_numbers``: field = E.164 called number, value =
JSON ``{"account_id", "app_url", "fallback_url", "dialect", "method"}``.
``dialect`` is what the number's owner said its app speaks (``kookoo``/``kml``),
or ``auto`` when they did not: the runtime then detects it from the app's first
document (docs/ivr.md, "Which parameters an app receives").
:func:`set_inbound_number` and :func:`remove_inbound_number` change SQL and then
Redis; :func:`rebuild` rewrites the whole hash from SQL at start-up (into a
temporary key renamed over the live one, so a reader never sees it empty or
half built).
"""

from __future__ import annotations

import json
import uuid as uuidlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer import numbers
from dialer.store import db
from dialer.store.accounts import get_account
from dialer.store.models import InboundNumber, new_id

DIALECTS = ("kookoo", "kml", "twiml", "plivo", "auto")
METHODS = ("GET", "POST")


class InboundNumberError(ValueError):
    """An inbound number that cannot be configured (bad number, taken by another account, bad dialect)."""


def table_key(prefix: str) -> str:
    """The Redis hash of the inbound-number table."""
    return f"{prefix}:inbound_numbers"


def entry(row: InboundNumber) -> dict:
    """The JSON value the runtime reads for one number."""
    return {
        "account_id": row.account_id,
        "app_url": row.app_url,
        "fallback_url": row.fallback_url,
        "dialect": row.dialect,
        "method": row.method,
    }


def save(
    session: Session,
    *,
    account_id: str,
    number: str,
    app_url: str | None,
    fallback_url: str | None = None,
    dialect: str | None = None,
    method: str = "GET",
    callback_url: str | None = None,
) -> InboundNumber:
    """Create or update an account's inbound number in SQL (normalised to E.164); returns the row."""
    account = get_account(session, account_id)
    try:
        e164 = numbers.normalize(number, numbers.region_for_account(account))
    except numbers.InvalidNumber as exc:
        raise InboundNumberError(str(exc)) from None
    dialect = (dialect or "auto").lower()
    method = (method or "GET").upper()
    if dialect not in DIALECTS:
        raise InboundNumberError(f"dialect must be one of {', '.join(DIALECTS)}, got {dialect!r}")
    if method not in METHODS:
        raise InboundNumberError(f"method must be GET or POST, got {method!r}")
    row = session.get(InboundNumber, e164)
    if row is not None and row.account_id != account_id:
        raise InboundNumberError(f"{e164} is configured by another account")
    if row is None:
        row = InboundNumber(number=e164, account_id=account_id, ref_id=new_id("AC", 32))
        session.add(row)
    row.app_url, row.fallback_url, row.dialect, row.method = app_url, fallback_url, dialect, method
    row.callback_url = callback_url
    session.flush()
    return row


def publish(client, prefix: str, row: InboundNumber) -> None:
    """Write one number's entry to the Redis table."""
    client.hset(table_key(prefix), row.number, json.dumps(entry(row), separators=(",", ":")))


def set_inbound_number(cfg=None, **fields) -> InboundNumber:
    """:func:`save` in its own transaction, then :func:`publish` (SQL first: Redis is the copy)."""
    cfg = cfg or _settings()
    with db.session_scope(cfg.sqlalchemy_url) as session:
        row = save(session, **fields)
    publish(_redis(cfg), cfg.key_prefix, row)
    return row


def remove_inbound_number(account_id: str, number: str, cfg=None) -> bool:
    """Delete an account's inbound number from SQL and Redis; False when the account has no such number."""
    cfg = cfg or _settings()
    with db.session_scope(cfg.sqlalchemy_url) as session:
        account = get_account(session, account_id)
        e164, _ = numbers.try_normalize(number, numbers.region_for_account(account))
        row = session.get(InboundNumber, e164) if e164 else None
        if row is None or row.account_id != account_id:
            return False
        session.delete(row)
    _redis(cfg).hdel(table_key(cfg.key_prefix), e164)
    return True


def rebuild(session: Session, client, prefix: str) -> int:
    """Replace the Redis table with the SQL truth; returns the number of entries."""
    rows = session.scalars(select(InboundNumber)).all()
    key = table_key(prefix)
    if not rows:
        client.delete(key)
        return 0
    tmp = f"{key}:rebuild:{uuidlib.uuid4().hex}"
    mapping = {r.number: json.dumps(entry(r), separators=(",", ":")) for r in rows}
    pipe = client.pipeline(transaction=True)
    pipe.hset(tmp, mapping=mapping)
    pipe.rename(tmp, key)
    pipe.execute()
    return len(rows)


def rebuild_from_config(cfg=None) -> int:
    """:func:`rebuild` with the configured database and Redis (the dialer runs it at start-up)."""
    cfg = cfg or _settings()
    with db.session_scope(cfg.sqlalchemy_url) as session:
        return rebuild(session, _redis(cfg), cfg.key_prefix)


def lookup(client, prefix: str, number: str) -> dict | None:
    """The runtime's view of one called number (E.164), or None."""
    raw = client.hget(table_key(prefix), number)
    return json.loads(raw) if raw else None


def list_numbers(session: Session, account_id: str) -> list[InboundNumber]:
    """An account's inbound numbers."""
    return list(
        session.scalars(select(InboundNumber).where(InboundNumber.account_id == account_id).order_by(InboundNumber.number))
    )


def _settings():
    from config import settings

    return settings()


def _redis(cfg):
    from dialer.callbacks import shared_redis as shared

    return shared(cfg.redis_url)

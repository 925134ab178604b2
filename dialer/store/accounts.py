"""Accounts and their credentials: created with secrets shown once, verified in constant time.

Secrets are 32 random bytes (URL-safe text), so a plain SHA-256 digest is
enough to store them: there is nothing to brute-force that a slow password
hash would protect, and verifying stays cheap on every API request.
Comparison uses ``hmac.compare_digest`` over the digests, so the time taken
does not depend on how much of a guess was right.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.store.models import Account, Flow, new_id

# A digest that matches no secret, compared against when the account is unknown so the
# answer takes the same time whether or not the account exists.
_NO_MATCH = hashlib.sha256(b"vaani:no-such-account").hexdigest()


class AccountError(ValueError):
    """A bad account operation (duplicate id, unknown account, bad allow-list entry)."""


@dataclass(frozen=True)
class NewAccount:
    """What :func:`create_account` returns: the plaintext secrets, shown only this once."""

    account_id: str
    auth: str
    api_token: str


def hash_secret(secret: str) -> str:
    """The stored form of a secret: SHA-256 hex digest."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    """A fresh random secret (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def _check_allowlist(entries: Iterable[str]) -> list[str]:
    out = []
    for entry in entries:
        try:
            out.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
        except ValueError:
            raise AccountError(f"not an IP address or network: {entry!r}") from None
    return out


def create_account(
    session: Session,
    name: str,
    *,
    account_id: str | None = None,
    auth: str | None = None,
    api_token: str | None = None,
    default_region: str | None = None,
    ip_allowlist: Iterable[str] = (),
    **limits,
) -> NewAccount:
    """Create an account and return its id and plaintext secrets (stored only as digests).

    ``account_id`` defaults to ``AC`` + 10 hex characters; ``auth``/``api_token``
    default to fresh random secrets (tests and ``make run``'s demo accounts may
    pass their own). ``limits`` are other :class:`Account` columns
    (``max_calls_per_minute``, ``app_read_timeout``, ...).
    """
    account_id = account_id or new_id("AC")
    if session.get(Account, account_id) is not None:
        raise AccountError(f"account {account_id!r} already exists")
    unknown = set(limits) - set(Account.__table__.columns.keys())
    if unknown:
        raise AccountError(f"unknown account settings: {', '.join(sorted(unknown))}")
    auth = auth or new_secret()
    api_token = api_token or new_secret()
    session.add(
        Account(
            id=account_id,
            name=name,
            auth_hash=hash_secret(auth),
            api_token_hash=hash_secret(api_token),
            default_region=(default_region or None) and default_region.upper(),
            ip_allowlist=_check_allowlist(ip_allowlist),
            **limits,
        )
    )
    session.flush()
    return NewAccount(account_id, auth, api_token)


def rotate_secrets(session: Session, account_id: str) -> NewAccount:
    """Replace both secrets of an account; returns the new plaintext ones."""
    account = get_account(session, account_id)
    auth, api_token = new_secret(), new_secret()
    account.auth_hash, account.api_token_hash = hash_secret(auth), hash_secret(api_token)
    session.flush()
    return NewAccount(account_id, auth, api_token)


def get_account(session: Session, account_id: str) -> Account:
    """The account with this id; AccountError when there is none."""
    account = session.get(Account, account_id) if account_id else None
    if account is None:
        raise AccountError(f"unknown account {account_id!r}")
    return account


def _verify(session: Session, account_id: str | None, secret: str | None, column: str) -> Account | None:
    account = session.get(Account, account_id) if account_id else None
    stored = getattr(account, column) if account is not None and account.active else _NO_MATCH
    ok = hmac.compare_digest(stored, hash_secret(secret or ""))
    return account if ok and secret and account is not None and account.active else None


def verify_auth(session: Session, account_id: str | None, auth: str | None) -> Account | None:
    """Seed 002 ``account``/``auth`` headers: the account when they match, else None."""
    return _verify(session, account_id, auth, "auth_hash")


def verify_api_token(session: Session, account_id: str | None, token: str | None) -> Account | None:
    """Konnect ``Authorization`` token for the account in the path: the account when it matches, else None."""
    return _verify(session, account_id, token, "api_token_hash")


def ip_allowed(account: Account, address: str) -> bool:
    """Whether ``address`` is on the account's Kairos IP allow-list."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in account.ip_allowlist or [])


def set_ip_allowlist(session: Session, account_id: str, entries: Iterable[str]) -> list[str]:
    """Replace the account's Kairos IP allow-list; returns the normalised entries."""
    account = get_account(session, account_id)
    account.ip_allowlist = _check_allowlist(entries)
    session.flush()
    return list(account.ip_allowlist)


def create_flow(
    session: Session,
    account_id: str,
    app_url: str,
    *,
    flow_id: str | None = None,
    security_id: str | None = None,
    name: str = "",
    **extra,
) -> tuple[Flow, str]:
    """Create a Kairos flow; returns it with the plaintext 64-character security id (stored hashed)."""
    get_account(session, account_id)
    flow_id = flow_id or secrets.token_hex(4)
    if session.get(Flow, flow_id) is not None:
        raise AccountError(f"flow {flow_id!r} already exists")
    security_id = security_id or secrets.token_hex(32)
    flow = Flow(
        id=flow_id,
        account_id=account_id,
        name=name,
        app_url=app_url,
        security_id_hash=hash_secret(security_id),
        **extra,
    )
    session.add(flow)
    session.flush()
    return flow, security_id


def verify_flow(session: Session, flow_id: str | None, security_id: str | None) -> tuple[Flow | None, bool]:
    """Kairos ``flow-id``/``security-id``: ``(flow, security_ok)``; flow is None for an unknown flow id."""
    flow = session.get(Flow, flow_id) if flow_id else None
    stored = flow.security_id_hash if flow is not None else _NO_MATCH
    ok = hmac.compare_digest(stored, hash_secret(security_id or ""))
    return flow, bool(ok and security_id and flow is not None)


def list_accounts(session: Session) -> list[Account]:
    """Every account, oldest first."""
    return list(session.scalars(select(Account).order_by(Account.created_at, Account.id)))

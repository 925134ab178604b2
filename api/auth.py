"""Who is calling: each seed's credentials, checked in constant time against hashed secrets.

* seed 002: headers ``account`` (the account id) and ``auth`` (its secret);
* Konnect: ``/api/v1/Accounts/{account_id}/...`` and the api_token in ``Authorization``
  (a ``Bearer``/``Token`` prefix is tolerated);
* Kairos: ``security-id`` of the flow named by ``flow-id`` in the body, and the
  client's address in the account's IP allow-list.

Secrets are never stored: only their SHA-256 digests (see ``dialer.store.models.Account``).
A missing or unknown account costs the same digest comparison as a wrong
secret, so response times do not reveal which account ids exist.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Iterable

from flask import current_app, g, request

from api.errors import ApiError
from dialer.store import accounts
from dialer.store.models import Account


def cpaas_account() -> Account:
    """The account of a seed-002 request (``account`` + ``auth`` headers), or ApiError 401."""
    from api.store import session

    if g.get("account") is not None:
        return g.account
    account_id = (request.headers.get("account") or "").strip()
    secret = (request.headers.get("auth") or "").strip()
    if not account_id or not secret:
        raise ApiError("missing account or auth header", kind="auth")
    with session() as s:
        account = accounts.verify_auth(s, account_id[:64], secret)
    if account is None:
        raise ApiError("invalid account or auth", kind="auth")
    g.account = account
    return account


def konnect_token() -> str:
    """The api_token from ``Authorization`` (bare, ``Bearer x`` or ``Token x``)."""
    value = (request.headers.get("Authorization") or "").strip()
    for prefix in ("Bearer ", "Token ", "bearer ", "token "):
        if value.startswith(prefix):
            return value[len(prefix):].strip()
    return value


def konnect_account(account_id: str, **_path_args: str) -> Account:
    """The account named in a Konnect path, checked against the Authorization token, or ApiError 401."""
    from api.store import session

    if g.get("account") is not None and g.account.id == account_id:
        return g.account
    token = konnect_token()
    if not token:
        raise ApiError("missing Authorization header", kind="auth")
    with session() as s:
        account = accounts.verify_api_token(s, account_id[:64], token)
    if account is None:
        raise ApiError("invalid account_id or api_token", kind="auth")
    g.account = account
    return account


def client_ip() -> str:
    """The caller's address. X-Forwarded-For is trusted only when TRUSTED_PROXIES lists the peer."""
    peer = request.remote_addr or ""
    trusted = current_app.config.get("TRUSTED_PROXIES", ())
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and ip_allowed(peer, trusted):
        return forwarded.split(",")[-1].strip()
    return peer


@functools.lru_cache(maxsize=4096)
def _network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    # Every Kairos submission checks its account's allow-list: parse each entry once.
    try:
        return ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return None


def ip_allowed(address: str, allowlist: Iterable[str] | None) -> bool:
    """True when ``address`` is one of, or inside one of, the allow-list's addresses/CIDR networks."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in allowlist or ():
        net = _network(str(entry))
        if net is not None and ip in net:
            return True
    return False

"""Who is looking at the dashboard: sign-in with the seed-002 credentials, the session, the forms' CSRF token.

The session cookie (Flask's, signed with the dashboard's secret key) holds the account id, a fingerprint
of the account's current ``auth`` digest and a CSRF token. Each request re-reads the account: an account
made inactive, or whose secret was rotated (``vaani account rotate``), is signed out at once.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from typing import Callable

from flask import abort, g, redirect, request, session, url_for

from dialer.store import accounts
from dialer.store.models import Account


def _fingerprint(account: Account) -> str:
    # Not the digest itself: the cookie is signed, not encrypted, so it must not carry what verifies the secret.
    return hashlib.sha256(b"vaani-dashboard:" + account.auth_hash.encode()).hexdigest()[:32]


def sign_in(account_id: str, secret: str) -> Account | None:
    """Check the credentials (constant time, as the API does); on success start a fresh session."""
    from api.store import session as store_session

    account_id, secret = (account_id or "").strip()[:64], (secret or "").strip()
    if not account_id or not secret:
        return None
    with store_session() as s:
        account = accounts.verify_auth(s, account_id, secret)
    if account is None:
        return None
    session.clear()  # nothing of a previous session survives a sign-in
    session.permanent = True
    session.update(account_id=account.id, key=_fingerprint(account), csrf=secrets.token_urlsafe(24))
    return account


def start_anonymous() -> None:
    """Give a browser that is not signed in a CSRF token for the sign-in form (kept until it signs in)."""
    if not session.get("csrf"):
        session["csrf"] = secrets.token_urlsafe(24)


def sign_out() -> None:
    """End the session."""
    session.clear()


def current_account() -> Account | None:
    """The signed-in account of this request, or None (no session, or the account changed since)."""
    from api.store import session as store_session

    if "dashboard_account" in g:
        return g.dashboard_account
    account = None
    account_id = session.get("account_id")
    if account_id:
        with store_session() as s:
            row = s.get(Account, account_id)
            if row is not None and row.active and hmac.compare_digest(_fingerprint(row), session.get("key", "")):
                account = row
        if account is None:
            session.clear()
    g.dashboard_account = account
    return account


def csrf_token() -> str:
    """The session's token that every POST form carries (SameSite=Lax already keeps other sites' posts out)."""
    return session.get("csrf", "")


def check_csrf() -> None:
    """400 unless the POST carries the session's token (form field ``csrf`` or header ``X-CSRF-Token``)."""
    sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token") or ""
    if not csrf_token() or not hmac.compare_digest(sent, csrf_token()):
        abort(400, "the form is out of date (CSRF token): reload the page and try again")


def signed_in(view: Callable) -> Callable:
    """A view for signed-in accounts only: others are sent to the sign-in page; POSTs need the CSRF token."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        account = current_account()
        if account is None:
            if request.method == "GET" and "/events/" not in request.path:
                return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
            abort(401, "sign in first")
        if request.method == "POST":
            check_csrf()
        return view(account, *args, **kwargs)

    return wrapper


def safe_next(target: str | None, default: str | None = None) -> str:
    """Where to go after sign-in or an action: a path of the dashboard only (never another site: no open redirect)."""
    from api.dashboard import URL_PREFIX

    if target and target.startswith(URL_PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return default or url_for("dashboard.campaigns")

"""The inbound-number table (contract 2): which app answers a call to one of our numbers.

Hash ``<REDIS_KEY_PREFIX>:inbound_numbers``: field = E.164 number, value =
JSON ``{"account_id", "app_url", "fallback_url", "dialect", "method"}``. The
dialer's store writes it; the runtime only reads it, once per inbound call.
``dialect`` is ``kookoo``, ``kml`` or ``auto``; missing, empty or unknown is
``auto`` (the app's first document decides, see docs/ivr.md).
"""

from __future__ import annotations

import json

from ivr.call_spec import DIALECT_AUTO, DIALECTS, CallSpec


class InboundLookupError(LookupError):
    """No usable app for the dialled number; ``str()`` says why."""


def table_key(key_prefix: str) -> str:
    """The Redis hash holding the inbound-number table."""
    return f"{key_prefix}:inbound_numbers"


def _candidates(number: str) -> list[str]:
    n = (number or "").strip()
    digits = n.lstrip("+")
    out = [n, "+" + digits, digits]
    return list(dict.fromkeys(x for x in out if x and x != "+"))


def lookup(redis_conn, key_prefix: str, called_number: str, caller: str = "") -> CallSpec:
    """The call spec of an inbound call to ``called_number``; raises :class:`InboundLookupError`."""
    key = table_key(key_prefix)
    raw = None
    for candidate in _candidates(called_number):
        raw = redis_conn.hget(key, candidate)
        if raw:
            break
    if not raw:
        raise InboundLookupError(f"no IVR app is configured for {called_number or '(no number)'}")
    try:
        entry = json.loads(raw)
        if not isinstance(entry, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        raise InboundLookupError(f"inbound entry for {called_number} is not valid JSON: {exc}") from None
    if not entry.get("app_url"):
        raise InboundLookupError(f"inbound entry for {called_number} has no app_url")
    dialect = str(entry.get("dialect") or "").lower()
    return CallSpec(call_type="inbound", account_id=_str(entry.get("account_id")), caller_id=caller or None,
                    called_number=called_number, app_url=entry["app_url"],
                    fallback_url=entry.get("fallback_url") or None,
                    dialect=dialect if dialect in DIALECTS else DIALECT_AUTO,
                    method=(entry.get("method") or "GET").upper(),
                    app_connect_timeout=entry.get("connect_timeout"), app_read_timeout=entry.get("read_timeout"))


def _str(value) -> str | None:
    return None if value is None else str(value)

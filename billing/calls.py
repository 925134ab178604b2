"""The hooks in the dialer: reserve talk time for a claimed batch before its originates are built, give it
back for calls that are not placed, and sweep reservations whose calls' records never came."""

from __future__ import annotations

from sqlalchemy import select

from billing import ledger
from dialer.store import db
from dialer.store.billing_models import BillingAccount

#: The originate variable that cuts a call when its reserved talk time runs out (FreeSWITCH runs it on
#: answer; mod_dptools' sched_hangup hangs up with ALLOTTED_TIMEOUT).
LIMIT_VAR = "execute_on_answer"


def limit_vars(seconds: int | None) -> dict[str, str]:
    """Channel variables that end the call after ``seconds`` of talk (none when unlimited)."""
    if not seconds:
        return {}
    return {LIMIT_VAR: f"sched_hangup +{int(seconds)} ALLOTTED_TIMEOUT"}


def reserve_attempts(db_url: str, calls: list[tuple[str, str, str]], want_seconds: int) -> dict[str, ledger.Grant]:
    """Grants for ``(account_id, call_uuid, number)`` of one claimed batch; unmetered accounts cost one read.

    Each metered account's calls are reserved in one transaction with its balance row locked.
    """
    accounts = sorted({acc for acc, _, _ in calls})
    with db.session_scope(db_url) as s:
        metered = set(s.scalars(select(BillingAccount.account_id).where(BillingAccount.account_id.in_(accounts))))
    out = {u: ledger.UNMETERED for acc, u, _ in calls if acc not in metered}
    for acc in sorted(metered):
        mine = [(u, n) for a, u, n in calls if a == acc]
        with db.session_scope(db_url, immediate=True) as s:
            out.update(ledger.reserve_calls(s, acc, mine, want_seconds))
    return out


def release_uuids(db_url: str, uuids: list[str]) -> int:
    """Give back the reservations of calls that were not placed (their attempts went back to the queue)."""
    if not uuids:
        return 0
    with db.session_scope(db_url, immediate=True) as s:
        return ledger.release(s, uuids)


def sweep(db_url: str, grace_seconds: float) -> int:
    """:func:`billing.ledger.release_stale` in its own transaction."""
    with db.session_scope(db_url, immediate=True) as s:
        return ledger.release_stale(s, grace_seconds=grace_seconds)

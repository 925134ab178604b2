"""Campaigns paused because their account's balance ran out, and their release on the next top-up.

The dialer pauses such a campaign (status ``paused``, not ``failed``: its contacts stay queued) and writes a
hold; a top-up that leaves the account able to pay for a call releases the holds, and the caller resumes
those campaigns (``dialer.submit.resume_campaign``). A campaign paused by its operator has no hold and is
not resumed by a top-up.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dialer.store.billing_models import BillingHold


def hold(session: Session, campaign_id: str, account_id: str) -> None:
    """Record that ``campaign_id`` was paused for lack of balance (once)."""
    if session.get(BillingHold, campaign_id) is None:
        session.add(BillingHold(campaign_id=campaign_id, account_id=account_id))
        session.flush()


def held(session: Session, account_id: str) -> list[str]:
    """The account's campaigns paused for lack of balance."""
    return list(session.scalars(select(BillingHold.campaign_id).where(BillingHold.account_id == account_id)
                                .order_by(BillingHold.since)))


def release_holds(session: Session, account_id: str) -> list[str]:
    """Forget the account's holds and return their campaigns (the caller resumes them)."""
    ids = held(session, account_id)
    if ids:
        session.execute(delete(BillingHold).where(BillingHold.campaign_id.in_(ids)))
    return ids

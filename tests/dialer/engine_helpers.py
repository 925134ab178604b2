"""Helpers for the dialer engine tests: an account, a contact list and a campaign in a fresh store."""

from __future__ import annotations

from datetime import timedelta

from dialer.store import db
from dialer.store.accounts import create_account
from dialer.store.models import Campaign, Contact, ContactList, DndList, DndNumber, new_id, utcnow


def make_campaign(url: str, numbers: list[str], *, account_id: str | None = None, dnd: list[str] = (),
                  account_dnd: list[str] = (), **campaign_kw) -> tuple[str, str]:
    """Create (account if needed,) a list with ``numbers``, DND lists and a campaign; returns (account_id, campaign_id)."""
    db.init_db(url)
    with db.session_scope(url) as s:
        if account_id is None or s.get(__import__("dialer.store.models", fromlist=["Account"]).Account,
                                       account_id) is None:
            account_id = create_account(s, "acme", account_id=account_id).account_id
        lst = ContactList(id=new_id("LS"), account_id=account_id, name=new_id("list"))
        s.add(lst)
        s.flush()
        s.bulk_save_objects([Contact(list_id=lst.id, number=n, name=f"c{i}", fields={"field1": str(i)})
                             for i, n in enumerate(numbers)])
        dnd_id = None
        if dnd:
            dl = DndList(id=new_id("DN"), account_id=account_id, name=new_id("dnd"), scope="campaign")
            s.add(dl)
            s.flush()
            dnd_id = dl.id
            s.add_all([DndNumber(dnd_list_id=dl.id, number=n) for n in dnd])
        if account_dnd:
            al = DndList(id=new_id("DN"), account_id=account_id, name=new_id("adnd"), scope="account")
            s.add(al)
            s.flush()
            s.add_all([DndNumber(dnd_list_id=al.id, number=n) for n in account_dnd])
        kw = dict(campaign_type=0, announcement_text="Hello {field1}", dynamic_announcement=True,
                  calls_per_minute=600, caller_id="15168148111", start_at=utcnow() - timedelta(minutes=1),
                  end_at=utcnow() + timedelta(days=1), status="scheduled")
        kw.update(campaign_kw)
        camp = Campaign(id=new_id("CM"), account_id=account_id, name=new_id("camp"), list_id=lst.id,
                        dnd_list_id=dnd_id, **kw)
        s.add(camp)
        s.flush()
        return account_id, camp.id


def numbers(n: int, start: int = 0) -> list[str]:
    """``n`` distinct E.164 numbers."""
    return [f"+1555{start + i:07d}" for i in range(n)]

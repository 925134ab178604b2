"""The lane of a preview campaign: reserve a ready agent, claim one contact, offer it, dial it if accepted.

The offers themselves (Redis, the screen pop, the agent's answer) are :mod:`dialer.preview`; this is the
engine's side of it, run by :class:`dialer.engine.Dialer` (``d``) instead of its usual lane for a
campaign whose ``dial_mode`` is ``preview``. The contact goes through the same settling (DND, calling
hours), admission (caps and rates) and gate as any other call.
"""

from __future__ import annotations

import logging
import uuid as _uuid
from datetime import timedelta

import gevent

from dialer import attempts as _attempts
from dialer import campaigns as _campaigns
from dialer.store import db
from dialer.store.models import Attempt, Campaign, Contact, utcnow

log = logging.getLogger(__name__)


def run(d, campaign_id: str) -> None:
    """A preview campaign: for each ready agent, reserve it, claim one contact and offer it (dialer.preview)."""
    while d.running and d.campaign(campaign_id) is not None:
        try:
            camp = d.campaign(campaign_id)
            if camp is None or d.control.state(campaign_id) not in (None, "running") \
                    or not d.agent_dialing.owns(campaign_id):
                gevent.sleep(0.25)
                continue
            if not offer_next(d, camp):
                gevent.sleep(0.2)
        except Exception:
            log.exception("preview lane %s failed; continuing", campaign_id)
            gevent.sleep(0.5)


def offer_next(d, camp: Campaign) -> bool:
    """Offer one contact to the campaign's longest-idle ready agent; False when there is no agent or contact."""
    token = str(_uuid.uuid4())
    acd = d.agent_dialing.acd
    agent = acd.reserve(camp.id, token)
    if agent is None:
        return False
    node = d.nodes.pick()
    claimed = []
    if node is not None:
        with db.session_scope(d.db_url) as s:
            claimed = _attempts.claim_batch(s, d.worker_id, [token], node.name, campaign_id=camp.id)
    if not claimed:
        acd.unreserve(agent.agent_id, token)
        return False
    buffer = list(claimed)
    d.reserved_agents[token] = agent.agent_id
    ready = d.prepare(buffer, camp)  # DND, calling hours, the originate (with the agent reserved)
    if not ready:
        d.reserved_agents.pop(token, None)
        acd.release_call(token, 0)  # settled without a call (DND, closed hours): the agent is free
        return True
    a = ready[0].attempt
    with db.session_scope(d.db_url) as s:
        contact = s.get(Contact, a.contact_id) if a.contact_id is not None else None
        contact_fields = _campaigns.contact_fields(contact)
    offer = d.previewer.offer(agent.agent_id, camp.id, token, a.id, a.number, contact_fields, camp.agent_url)
    gevent.spawn(await_offer, d, camp, offer, ready, buffer)
    return True


def await_offer(d, camp: Campaign, offer, ready: list, buffer: list[Attempt]) -> None:
    """The agent's answer to an offer: dial (accept), back to the queue later (skip) or now (timeout)."""
    try:
        outcome = d.previewer.wait(offer, running=lambda: d.running)
        d.previewer.close(offer, outcome)
        if outcome == "accept":
            if not d.admit_and_send(ready, camp, buffer):
                d.give_back_many(buffer)
            return
        later = utcnow() + timedelta(seconds=int(camp.retry_time or 60)) if outcome == "skip" else None
        for a in buffer:
            d.give_back(a, next_try_at=later)
    except Exception:
        log.exception("preview offer %s failed; its contact goes back to the queue", offer.call_uuid)
        d.give_back_many(buffer)

"""Preview dialing: an agent sees the next contact first and accepts it (then it is dialed) or skips it.

For each ready agent of a preview campaign the lane reserves the agent
(:meth:`ivr.acd.Acd.reserve`, with the call's future channel uuid), claims one
contact for it and **offers** it: the offer is kept in Redis
(``<p>:preview:<agent_id>``, readable through the API) and POSTed to the
campaign's ``agent_url`` (``"event": "preview"``). The agent (or the CRM)
answers through the API (:func:`answer_offer`):

* ``accept`` — the contact is dialed at once with that agent reserved for it:
  an answered call goes straight to the agent, so preview never abandons;
* ``skip`` — the contact goes back to the queue after the campaign's
  ``retry_time`` and the agent is ready for the next one;
* no answer within :data:`OFFER_SECONDS` — the contact goes back to the queue
  at once and the agent is paused (reason ``preview_timeout``): an agent who
  walked away is not offered contact after contact.

A worker that dies while an offer is open leaves a claimed, never-sent attempt
and an agent reserved for its uuid: the dead-worker recovery queues the attempt
again and frees the agent (:meth:`dialer.engine.Dialer.unreserve_agents`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Callable

import gevent
import redis as _redis
import requests

from ivr.acd import Acd, AcdError

log = logging.getLogger(__name__)

#: How long an agent has to accept or skip an offered contact.
OFFER_SECONDS = 30.0
#: Answers the API accepts.
ACTIONS = ("accept", "skip")


class PreviewError(ValueError):
    """No open offer for that agent, or an answer that is not ``accept``/``skip``."""


@dataclass
class Offer:
    """A contact offered to an agent."""

    agent_id: str
    campaign_id: str
    call_uuid: str
    attempt_id: str
    number: str
    fields: dict
    offered_at: float
    expires_at: float

    def to_json(self) -> str:
        """The offer as stored in Redis."""
        return json.dumps(self.__dict__)


def _offer_key(prefix: str, agent_id: str) -> str:
    return f"{prefix}:preview:{agent_id}"


def _answer_key(prefix: str, agent_id: str, call_uuid: str) -> str:
    return f"{prefix}:preview:{agent_id}:answer:{call_uuid}"


def current_offer(client: _redis.Redis, prefix: str, agent_id: str) -> Offer | None:
    """The contact offered to the agent right now, or None."""
    raw = client.get(_offer_key(prefix, agent_id))
    if not raw:
        return None
    try:
        return Offer(**json.loads(raw))
    except (TypeError, ValueError):
        return None


def answer_offer(client: _redis.Redis, prefix: str, agent_id: str, action: str,
                 call_uuid: str | None = None) -> Offer:
    """The agent accepts or skips its open offer (``call_uuid``, when given, must name it). Returns the offer."""
    if action not in ACTIONS:
        raise PreviewError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    offer = current_offer(client, prefix, agent_id)
    if offer is None or (call_uuid and call_uuid != offer.call_uuid):
        raise PreviewError(f"agent {agent_id} has no open preview offer" +
                           (f" for call {call_uuid}" if call_uuid else ""))
    # SET NX: the first answer counts (a double click does not accept and skip).
    client.set(_answer_key(prefix, agent_id, offer.call_uuid), action, nx=True, ex=int(OFFER_SECONDS * 4))
    return offer


class Previewer:
    """Offers of one dialer process (used by the engine's lane of a preview campaign)."""

    def __init__(self, client: _redis.Redis, prefix: str, acd: Acd):
        self.redis = client
        self.prefix = prefix
        self.acd = acd
        self.open: dict[str, Offer] = {}  # call uuid -> offer
        self._http = requests.Session()

    def offer(self, agent_id: str, campaign_id: str, call_uuid: str, attempt_id: str, number: str,
              fields: dict, agent_url: str | None) -> Offer:
        """Store and announce an offer (the agent is already reserved for ``call_uuid``)."""
        now = time.time()
        o = Offer(agent_id=agent_id, campaign_id=campaign_id, call_uuid=call_uuid, attempt_id=attempt_id,
                  number=number, fields=dict(fields or {}), offered_at=now, expires_at=now + OFFER_SECONDS)
        self.redis.set(_offer_key(self.prefix, agent_id), o.to_json(), ex=int(OFFER_SECONDS * 2))
        self.open[call_uuid] = o
        if agent_url:
            gevent.spawn(self._screen_pop, agent_url, o)
        return o

    def _screen_pop(self, url: str, o: Offer) -> None:
        body = {"event": "preview", "agent_id": o.agent_id, "campaign_id": o.campaign_id, "call_uuid": o.call_uuid,
                "attempt_id": o.attempt_id, "contact_number": o.number, "fields": o.fields,
                "expires_in": OFFER_SECONDS}
        try:
            self._http.post(url, json=body, timeout=(2.0, 5.0))
        except requests.RequestException as exc:
            log.info("preview screen pop to %s failed: %s", url, exc)

    def wait(self, o: Offer, *, running: Callable[[], bool] = lambda: True, poll: float = 0.1) -> str:
        """Wait for the agent's answer: ``accept``, ``skip`` or ``timeout`` (also when the lane stops)."""
        key = _answer_key(self.prefix, o.agent_id, o.call_uuid)
        while running() and time.time() < o.expires_at:
            raw = self.redis.get(key)
            if raw:
                return raw.decode()
            gevent.sleep(poll)
        return "timeout"

    def close(self, o: Offer, outcome: str) -> None:
        """The offer is over: forget it; a skip frees the agent, a timeout pauses it."""
        self.open.pop(o.call_uuid, None)
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(_offer_key(self.prefix, o.agent_id), _answer_key(self.prefix, o.agent_id, o.call_uuid))
        pipe.execute()
        if outcome == "accept":
            return
        try:
            self.acd.unreserve(o.agent_id, o.call_uuid)
            if outcome == "timeout":
                self.acd.pause(o.agent_id, "preview_timeout")
        except AcdError as exc:
            log.info("preview offer %s: agent %s: %s", o.call_uuid, o.agent_id, exc)

"""Agents: the registry (SQL ``agents``) and agent sessions (log in/out, ready, pause, disposition).

The live state is ``ivr.acd``'s, in Redis; every session change here checks the SQL side (the agent exists,
belongs to the account, the campaigns are the account's agent campaigns), makes the transition in Redis, and
writes one ``agent_events`` row with the state the agent is in afterwards. Call states (reserved, on_call,
wrap_up) are written by the call's runtime and ``dialer.records``, not here.

Errors are :class:`AgentError` (a ``ValueError``) with a readable message; :class:`UnknownAgent` (also
another account's agent: one account never learns another's ids) and :class:`AgentConflict` (a transition the
agent's state does not allow) let the API answer 404 and 409.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer import numbers
from dialer.store import db
from dialer.store.accounts import get_account
from dialer.store.models import Agent, AgentEvent, Campaign, Cdr, new_id, utcnow
from ivr.acd import Acd, AcdError, AgentState

#: Dial modes of agent campaigns (``Campaign.dial_mode``; None is an unattended campaign).
DIAL_MODES = ("preview", "progressive", "predictive")

# A registered SIP user as FreeSWITCH's dial string names it: user/<id>[@<domain>].
_SIP_USER = re.compile(r"^user/[A-Za-z0-9_.+-]{1,64}(@[A-Za-z0-9.-]{1,190})?$")
MAX_NAME = 200
MAX_DISPOSITION = 1000


class AgentError(ValueError):
    """An agent request that cannot be done; ``field`` names the input at fault when one is."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class UnknownAgent(AgentError):
    """No such agent in this account (or it was deleted)."""


class AgentConflict(AgentError):
    """The agent's state does not allow this (e.g. logging in again while on a call)."""


def _settings(cfg):
    if cfg is not None:
        return cfg
    from config import settings

    return settings()


def acd_for(cfg=None) -> Acd:
    """The ACD on the configured Redis and key prefix."""
    from dialer.callbacks import shared_redis as shared  # the process's one client per Redis URL

    cfg = _settings(cfg)
    return Acd(shared(cfg.redis_url), cfg.key_prefix)


def normalize_endpoint(endpoint: object, region: str) -> str:
    """``user/<id>`` (a SIP user) as given, or a phone number in E.164; AgentError otherwise."""
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise AgentError("endpoint: give a SIP user (user/<id>) or a phone number", "endpoint")
    endpoint = endpoint.strip()
    if endpoint.lower().startswith("user/"):
        if not _SIP_USER.match(endpoint):
            raise AgentError(f"endpoint: {endpoint!r} is not a SIP user (user/<id>[@<domain>])", "endpoint")
        return "user/" + endpoint[5:]
    try:
        return numbers.normalize(endpoint, region)
    except numbers.InvalidNumber as exc:
        raise AgentError(f"endpoint: {exc.reason} ({endpoint!r})", "endpoint") from None


# -- the registry ----------------------------------------------------------------------------------------------


def create(session: Session, account_id: str, *, name: str = "", endpoint: str, persistent: bool = False) -> Agent:
    """A new agent of the account (id ``AG`` + 10 hex)."""
    account = get_account(session, account_id)
    name = (name or "").strip()
    if len(name) > MAX_NAME:
        raise AgentError(f"name: at most {MAX_NAME} characters", "name")
    agent = Agent(id=new_id("AG"), account_id=account_id, name=name, persistent=bool(persistent),
                  endpoint=normalize_endpoint(endpoint, numbers.region_for_account(account)))
    session.add(agent)
    session.flush()
    return agent


def get(session: Session, account_id: str, agent_id: str) -> Agent:
    """The account's agent; UnknownAgent when it has none by that id (deleted ones included)."""
    agent = session.get(Agent, agent_id) if isinstance(agent_id, str) and agent_id else None
    if agent is None or agent.account_id != account_id or agent.deleted_at is not None:
        raise UnknownAgent(f"agent_id: no agent {agent_id!r} in this account", "agent_id")
    return agent


def list_agents(session: Session, account_id: str) -> list[Agent]:
    """The account's agents (not deleted), oldest first."""
    query = (select(Agent).where(Agent.account_id == account_id, Agent.deleted_at.is_(None))
             .order_by(Agent.created_at, Agent.id))
    return list(session.scalars(query))


def create_agent(account_id: str, *, name: str = "", endpoint: str, persistent: bool = False, cfg=None) -> Agent:
    """:func:`create` in its own transaction."""
    with db.session_scope(_settings(cfg).sqlalchemy_url) as session:
        agent = create(session, account_id, name=name, endpoint=endpoint, persistent=persistent)
        session.expunge(agent)
    return agent


def get_agent(account_id: str, agent_id: str, cfg=None) -> tuple[Agent, AgentState | None]:
    """The agent's row and its live state (None if it never logged in)."""
    cfg = _settings(cfg)
    with db.session_scope(cfg.sqlalchemy_url) as session:
        agent = get(session, account_id, agent_id)
        session.expunge(agent)
    return agent, acd_for(cfg).state(agent_id)


def list_agents_with_state(account_id: str, cfg=None) -> list[tuple[Agent, AgentState | None]]:
    """Every agent of the account with its live state."""
    cfg = _settings(cfg)
    with db.session_scope(cfg.sqlalchemy_url) as session:
        agents = list_agents(session, account_id)
        session.expunge_all()
    acd = acd_for(cfg)
    return [(a, acd.state(a.id)) for a in agents]


def delete_agent(account_id: str, agent_id: str, cfg=None) -> None:
    """Delete an agent: logged out (after its call, if it is on one), the row kept with ``deleted_at``."""
    cfg = _settings(cfg)
    with db.session_scope(cfg.sqlalchemy_url) as session:
        agent = get(session, account_id, agent_id)
        agent.deleted_at = utcnow()
        state = _logout_quietly(acd_for(cfg), agent_id)
        _event(session, agent, state, "logged_out" if state is None else state.state, reason="deleted")


def _logout_quietly(acd: Acd, agent_id: str) -> AgentState | None:
    try:
        return acd.logout(agent_id)
    except AcdError:  # never logged in: nothing to end
        return None


# -- sessions --------------------------------------------------------------------------------------------------


def _event(session: Session, agent: Agent, state: AgentState | None, name: str, *, reason: str = "",
           call_uuid: str | None = None, disposition: str | None = None) -> None:
    session.add(AgentEvent(agent_id=agent.id, account_id=agent.account_id, state=name, reason=reason or "",
                           campaign_ids=list(state.campaigns) if state else [], call_uuid=call_uuid,
                           disposition=disposition))


def _after_call(state: AgentState, action: str, reason: str = "") -> str:
    """The event's reason when a pause/logout waits for the agent's call to end."""
    if state.on_a_call and state.pending:
        return f"{action} after call {state.call}" + (f": {reason}" if reason else "")
    return reason


def _transition(account_id: str, agent_id: str, cfg, action, name: str | None = None, reason: str = ""):
    cfg = _settings(cfg)
    with db.session_scope(cfg.sqlalchemy_url) as session:
        agent = get(session, account_id, agent_id)
        try:
            state = action(acd_for(cfg), agent)
        except AcdError as exc:
            raise AgentConflict(str(exc)) from None
        _event(session, agent, state, state.state, reason=_after_call(state, name or state.state, reason))
    return state


def login(account_id: str, agent_id: str, campaign_ids: list[str], *, ready: bool = True, cfg=None) -> AgentState:
    """Log the agent into the account's agent campaigns ``campaign_ids`` (ready at once unless ``ready=False``)."""
    if not isinstance(campaign_ids, (list, tuple)) or not campaign_ids:
        raise AgentError("campaign_ids: give the agent campaigns to log into", "campaign_ids")
    campaign_ids = list(dict.fromkeys(campaign_ids))  # keep order, drop repeats
    cfg = _settings(cfg)
    with db.session_scope(cfg.sqlalchemy_url) as session:
        agent = get(session, account_id, agent_id)
        for cid in campaign_ids:
            campaign = session.get(Campaign, cid) if isinstance(cid, str) and cid else None
            if campaign is None or campaign.account_id != account_id:
                raise AgentError(f"campaign_ids: no campaign {cid!r} in this account", "campaign_ids")
            if campaign.dial_mode is None:
                raise AgentError(f"campaign_ids: campaign {cid} has no dial_mode (not an agent campaign)",
                                 "campaign_ids")
        try:
            state = acd_for(cfg).login(agent.id, account_id, campaign_ids, agent.endpoint,
                                       persistent=agent.persistent, ready=ready)
        except AcdError as exc:
            raise AgentConflict(str(exc)) from None
        _event(session, agent, state, state.state, reason="login")
    return state


def ready(account_id: str, agent_id: str, *, cfg=None) -> AgentState:
    """The agent takes calls again (from paused or wrap-up); on a call, cancels a pause/logout asked for."""
    return _transition(account_id, agent_id, cfg, lambda acd, a: acd.ready(a.id))


def pause(account_id: str, agent_id: str, reason: str = "", *, cfg=None) -> AgentState:
    """The agent takes no new call (on a call: once it ends), for ``reason``."""
    reason = (reason or "").strip()
    if len(reason) > MAX_NAME:
        raise AgentError(f"reason: at most {MAX_NAME} characters", "reason")
    return _transition(account_id, agent_id, cfg, lambda acd, a: acd.pause(a.id, reason), "paused", reason)


def logout(account_id: str, agent_id: str, *, cfg=None) -> AgentState:
    """The agent leaves its campaigns (on a call: once it ends)."""
    return _transition(account_id, agent_id, cfg, lambda acd, a: acd.logout(a.id), "logged_out")


def disposition(account_id: str, agent_id: str, call_uuid: str, value: str, *, cfg=None) -> AgentState | None:
    """The agent's outcome of a call: written to that call's CDR ``disposition``, and wrap-up ends now.

    The call must be the agent's: the one it is on or just had (live state), or one its CDR names. The CDR may
    not exist yet (the hangup is still being recorded): the disposition then creates it with the same upsert
    the records use, and the other halves fill it in.
    """
    from dialer import records  # the CDR upsert; imported late: records imports much of the dialer

    if not isinstance(value, str) or not value.strip():
        raise AgentError("disposition: give the call's outcome", "disposition")
    if len(value) > MAX_DISPOSITION:
        raise AgentError(f"disposition: at most {MAX_DISPOSITION} characters", "disposition")
    if not isinstance(call_uuid, str) or not call_uuid.strip():
        raise AgentError("call_uuid: name the call", "call_uuid")
    value, call_uuid = value.strip(), call_uuid.strip()
    cfg = _settings(cfg)
    acd = acd_for(cfg)
    with db.session_scope(cfg.sqlalchemy_url, immediate=True) as session:
        agent = get(session, account_id, agent_id)
        live = acd.state(agent_id)
        cdr = session.scalars(select(Cdr).where(Cdr.uniqueid == call_uuid)).first()
        if cdr is not None and cdr.account_id != account_id:
            known = False
        elif cdr is not None and cdr.agent_id:
            known = cdr.agent_id == agent_id
        else:  # no CDR yet, or one the call's facts have not reached: the live state says
            known = live is not None and call_uuid in (live.call, live.last_call)
        if not known:
            raise AgentError(f"call_uuid: agent {agent_id} had no call {call_uuid!r}", "call_uuid")
        if cdr is None:
            cdr = records.locked_row(session, uniqueid=call_uuid, attempt_id=None, record_key=None,
                                      account_id=account_id)
        cdr.disposition = value
        if not cdr.agent_id:
            cdr.agent_id = agent_id
        acd.end_wrap_up(agent_id)
        state = acd.state(agent_id)
        _event(session, agent, state, "disposition", call_uuid=call_uuid, disposition=value)
    return state


def events(account_id: str, agent_id: str, *, limit: int = 100, cfg=None) -> list[AgentEvent]:
    """The agent's latest state changes, newest first."""
    with db.session_scope(_settings(cfg).sqlalchemy_url) as session:
        get(session, account_id, agent_id)
        rows = list(session.scalars(select(AgentEvent).where(AgentEvent.agent_id == agent_id)
                                    .order_by(AgentEvent.id.desc()).limit(limit)))
        session.expunge_all()
    return rows


# -- preview mode ----------------------------------------------------------------------------------------------


def preview_offer(account_id: str, agent_id: str, *, cfg=None):
    """The contact offered to the agent now (a :class:`dialer.preview.Offer`), or None."""
    from dialer import preview

    cfg = _settings(cfg)
    with db.session_scope(cfg.sqlalchemy_url) as session:
        get(session, account_id, agent_id)
    return preview.current_offer(acd_for(cfg).client, cfg.key_prefix, agent_id)


def answer_preview(account_id: str, agent_id: str, action: str, call_uuid: str | None = None, *, cfg=None):
    """The agent accepts (the contact is dialed, straight to it) or skips its offered contact; the offer."""
    from dialer import preview

    cfg = _settings(cfg)
    with db.session_scope(cfg.sqlalchemy_url) as session:
        agent = get(session, account_id, agent_id)
        try:
            offer = preview.answer_offer(acd_for(cfg).client, cfg.key_prefix, agent_id, action, call_uuid)
        except preview.PreviewError as exc:
            field = "action" if action not in preview.ACTIONS else "call_uuid"
            raise (AgentError(str(exc), field) if field == "action" else AgentConflict(str(exc), field)) from None
        _event(session, agent, acd_for(cfg).state(agent_id), f"preview_{action}", call_uuid=offer.call_uuid)
    return offer


# -- live statistics -------------------------------------------------------------------------------------------


def campaign_statistics(account_id: str, campaign_id: str, *, cfg=None) -> dict:
    """An agent campaign's live view: agents per state, the controller's latest decision, abandonment so far."""
    import json

    from dialer import agent_dialing, predictive

    cfg = _settings(cfg)
    with db.session_scope(cfg.sqlalchemy_url) as session:
        camp = session.get(Campaign, campaign_id)
        if camp is None or camp.account_id != account_id:
            raise UnknownAgent(f"campaign_id: no campaign {campaign_id!r} in this account", "campaign_id")
        if not camp.dial_mode:
            raise AgentError(f"campaign_id: {campaign_id} is not an agent campaign (it has no dial_mode)",
                             "campaign_id")
        mode, target = camp.dial_mode, camp.abandon_target
    acd = acd_for(cfg)
    counts = acd.counts(campaign_id)
    raw = acd.client.get(f"{cfg.key_prefix}:agentlane:last:{campaign_id}")
    last = json.loads(raw) if raw else {}
    aband = agent_dialing.read_abandonment(cfg.sqlalchemy_url, campaign_id)
    stats = agent_dialing.AgentDialing(acd.client, cfg.key_prefix, cfg.sqlalchemy_url, "api").stats(campaign_id)
    return {
        "campaign_id": campaign_id, "dial_mode": mode,
        "agents": {"logged_in": counts.logged_in, "ready": counts.ready, "reserved": counts.reserved,
                   "on_call": counts.on_call, "wrap_up": counts.wrap_up, "paused": counts.paused},
        "dial_level": last.get("dial_level"), "controller": last.get("reason"),
        "calls_dialing": last.get("dialing"), "calls_waiting": last.get("waiting"),
        "answer_rate": round(stats.answer_rate, 4), "attempts_learned": stats.attempts,
        "mean_talk_seconds": round(stats.talk_seconds, 1), "mean_ring_seconds": round(stats.ring_seconds, 1),
        "abandonment": {
            "target": target,
            "last_24h": round(predictive.abandonment_rate(aband.abandoned_24h, aband.live_24h), 4),
            "abandoned_24h": aband.abandoned_24h, "live_answered_24h": aband.live_24h,
            "last_30d": round(predictive.abandonment_rate(aband.abandoned_30d, aband.live_30d), 4),
            "abandoned_30d": aband.abandoned_30d, "live_answered_30d": aband.live_30d},
    }

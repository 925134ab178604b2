"""Live agents over HTTP (``/api/agents...``, docs/agents.md): the registry and agent sessions.

Seed-002 conventions, as :mod:`api.cpaas`: ``account``/``auth`` headers, the ``{"response": {...,
"success": "true"}}`` envelope, errors as ``{"response": {"message", "field", "success": "false"}}`` with 400
(invalid), 401, 404 (no such agent in this account — also another account's), 409 (the agent's state forbids
the change). The work is :mod:`dialer.agents`'.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, jsonify

from api import store
from api.auth import cpaas_account
from api.endpoints import endpoint
from api.errors import ApiError, cpaas_body
from api.schemas import Field, s
from dialer import agents as _agents
from dialer.store.models import Agent
from ivr.acd import AgentState

bp = Blueprint("agents", __name__)
PREFIX = "/api"
ID = dict(max_length=64)

CREATE_AGENT = s(
    "create_agent",
    Field("name", max_length=_agents.MAX_NAME, allow_empty=True, description="shown in reports"),
    Field("endpoint", required=True, max_length=200,
          description="where the agent is rung: a SIP user user/<id>[@<domain>], or a phone number"),
    Field("persistent", "boolean", default=False,
          description="nailed up: one long call the campaign's calls are bridged into"),
    example={"name": "Asha", "endpoint": "user/1001", "persistent": False},
)

LOGIN = s(
    "agent_login",
    Field("campaign_ids", "list", required=True, min_items=1, max_items=50, comma_string=True,
          items=Field("campaign_id", **ID), description="the account's agent campaigns (with a dial_mode)"),
    Field("ready", "boolean", default=True, description="false: logged in but paused (reason 'login')"),
    example={"campaign_ids": ["CMcc0cb33a01"]},
)

PAUSE = s("agent_pause", Field("reason", max_length=_agents.MAX_NAME, allow_empty=True), example={"reason": "lunch"})

DISPOSITION = s(
    "agent_disposition",
    Field("call_uuid", required=True, max_length=64,
          description="the call (its CDR uniqueid; `uniqueid` is accepted too)"),
    Field("disposition", required=True, max_length=_agents.MAX_DISPOSITION, description="the call's outcome"),
    example={"call_uuid": "4f1c7d0e-1a2b-4c3d-9e8f-0a1b2c3d4e5f", "disposition": "sale"},
)


def _auth(**_path_args: str):
    """The seed-002 credentials, checked before the body is read (the agent id in the path is not needed)."""
    return cpaas_account()


def _disposition_aliases(params: Any) -> Any:
    # The CDRs call the call's uuid `uniqueid`: accept that name too.
    if isinstance(params, dict) and params.get("call_uuid") is None and "uniqueid" in params:
        return {**params, "call_uuid": params["uniqueid"]}
    return params


def _time(epoch: float | None) -> str | None:
    if not epoch:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


def state_json(state: AgentState | None) -> dict[str, Any]:
    """An agent's live state as the API shows it (``logged_out`` if it never logged in)."""
    if state is None:
        return {"state": "logged_out", "campaign_ids": [], "state_since": None, "reason": "", "call_uuid": None,
                "pending": None}
    return {
        "state": state.state,
        "campaign_ids": list(state.campaigns),
        "state_since": _time(state.since),
        "reason": state.reason,
        "call_uuid": state.call,
        "pending": state.pending,  # a pause/logout waiting for the call to end
        "available_at": _time(state.available_at) if state.state == "wrap_up" else None,
    }


def agent_json(agent: Agent, state: AgentState | None = None, *, live: bool = True) -> dict[str, Any]:
    """One agent: its registry fields and (``live``) its live state."""
    from api.cpaas import http_date

    out = {"agent_id": agent.id, "name": agent.name, "endpoint": agent.endpoint, "persistent": agent.persistent,
           "created_at": http_date(agent.created_at)}
    if live:
        out.update(state_json(state))
    return out


def ok(**payload: Any):
    """A seed-002 success answer."""
    return jsonify(cpaas_body(payload))


def _call(fn, *args, **kwargs):
    """Run a dialer.agents operation; its errors become the seed's 4xx answers."""
    try:
        return fn(*args, cfg=store.cfg(), **kwargs)
    except _agents.UnknownAgent as exc:
        raise ApiError(str(exc), kind="not_found", field=exc.field) from None
    except _agents.AgentConflict as exc:
        raise ApiError(str(exc), kind="conflict", field=exc.field) from None
    except _agents.AgentError as exc:
        raise ApiError(str(exc), field=exc.field) from None


@endpoint(bp, "POST", "/agents", dialect="cpaas", auth=_auth, schema=CREATE_AGENT, blueprint_prefix=PREFIX,
          tag="agents", summary="Register a live agent (a SIP user or a phone number)")
def create_agent(data: dict[str, Any]):
    """A new agent of the account."""
    account = cpaas_account()
    agent = _call(_agents.create_agent, account.id, name=data.get("name") or "", endpoint=data["endpoint"],
                  persistent=data["persistent"])
    return ok(message="agent created", agent_id=agent.id, agent=agent_json(agent, live=False))


@endpoint(bp, "GET", "/agents", dialect="cpaas", auth=_auth, blueprint_prefix=PREFIX, tag="agents",
          summary="The account's agents with their live state")
def list_agents(data: dict[str, Any]):
    """Every agent of the account, oldest first."""
    account = cpaas_account()
    rows = _call(_agents.list_agents_with_state, account.id)
    return ok(result=[agent_json(a, st) for a, st in rows])


@endpoint(bp, "GET", "/agents/{agent_id}", dialect="cpaas", auth=_auth, blueprint_prefix=PREFIX,
          tag="agents", summary="One agent with its live state")
def get_agent(data: dict[str, Any], agent_id: str):
    """The agent and what it is doing now."""
    account = cpaas_account()
    agent, state = _call(_agents.get_agent, account.id, agent_id)
    return ok(agent=agent_json(agent, state))


@endpoint(bp, "DELETE", "/agents/{agent_id}", dialect="cpaas", auth=_auth, blueprint_prefix=PREFIX,
          tag="agents", summary="Delete an agent (logged out first; after its call if it is on one)")
def delete_agent(data: dict[str, Any], agent_id: str):
    """Delete the agent; its CDRs and events keep naming it."""
    account = cpaas_account()
    _call(_agents.delete_agent, account.id, agent_id)
    return ok(message="agent deleted", agent_id=agent_id)


def _session_answer(agent_id: str, state: AgentState, message: str):
    return ok(message=message, agent_id=agent_id, **state_json(state))


@endpoint(bp, "POST", "/agents/{agent_id}/login", dialect="cpaas", auth=_auth, schema=LOGIN,
          blueprint_prefix=PREFIX, tag="agents", summary="Log an agent into agent campaigns (ready at once)")
def login(data: dict[str, Any], agent_id: str):
    """Log in; again while logged in: changes the campaigns, keeps the idle time."""
    account = cpaas_account()
    state = _call(_agents.login, account.id, agent_id, data["campaign_ids"], ready=data["ready"])
    return _session_answer(agent_id, state, "agent logged in")


@endpoint(bp, "POST", "/agents/{agent_id}/ready", dialect="cpaas", auth=_auth, blueprint_prefix=PREFIX,
          tag="agents", summary="The agent takes calls (ends a pause or wrap-up)")
def ready(data: dict[str, Any], agent_id: str):
    """Ready for the next call."""
    account = cpaas_account()
    return _session_answer(agent_id, _call(_agents.ready, account.id, agent_id), "agent ready")


@endpoint(bp, "POST", "/agents/{agent_id}/pause", dialect="cpaas", auth=_auth, schema=PAUSE,
          blueprint_prefix=PREFIX, tag="agents", summary="The agent takes no new call (after its call, if on one)")
def pause(data: dict[str, Any], agent_id: str):
    """Pause, with a reason."""
    account = cpaas_account()
    state = _call(_agents.pause, account.id, agent_id, data.get("reason") or "")
    return _session_answer(agent_id, state, "agent paused")


@endpoint(bp, "POST", "/agents/{agent_id}/logout", dialect="cpaas", auth=_auth, blueprint_prefix=PREFIX,
          tag="agents", summary="The agent leaves its campaigns (after its call, if on one)")
def logout(data: dict[str, Any], agent_id: str):
    """Log out."""
    account = cpaas_account()
    return _session_answer(agent_id, _call(_agents.logout, account.id, agent_id), "agent logged out")


@endpoint(bp, "POST", "/agents/{agent_id}/disposition", dialect="cpaas", auth=_auth, schema=DISPOSITION,
          prepare=_disposition_aliases, blueprint_prefix=PREFIX, tag="agents",
          summary="The agent's outcome of a call: into the call's CDR; ends wrap-up")
def disposition(data: dict[str, Any], agent_id: str):
    """Record a disposition."""
    account = cpaas_account()
    state = _call(_agents.disposition, account.id, agent_id, data["call_uuid"], data["disposition"])
    # call_uuid here is the call the disposition is for (the agent may be on its next one already)
    return ok(message="disposition recorded", agent_id=agent_id,
              **{**state_json(state), "call_uuid": data["call_uuid"], "disposition": data["disposition"]})


PREVIEW_ANSWER = s(
    "agent_preview_answer",
    Field("action", required=True, choices=("accept", "skip"),
          description="accept: the contact is dialed and connected to this agent; skip: it is called later"),
    Field("call_uuid", max_length=64, allow_empty=True, description="the offer's call_uuid, to answer only that one"),
    example={"action": "accept"},
)


def _offer_json(offer) -> dict[str, Any]:
    return {"call_uuid": offer.call_uuid, "campaign_id": offer.campaign_id, "attempt_id": offer.attempt_id,
            "contact_number": offer.number.lstrip("+"), "fields": offer.fields,
            "offered_at": _time(offer.offered_at), "expires_at": _time(offer.expires_at)}


@endpoint(bp, "GET", "/agents/{agent_id}/preview", dialect="cpaas", auth=_auth, blueprint_prefix=PREFIX,
          tag="agents", summary="Preview mode: the contact offered to the agent now (offer null when none)")
def get_preview(data: dict[str, Any], agent_id: str):
    """The open offer, for the agent's screen."""
    account = cpaas_account()
    offer = _call(_agents.preview_offer, account.id, agent_id)
    return ok(agent_id=agent_id, offer=_offer_json(offer) if offer is not None else None)


@endpoint(bp, "POST", "/agents/{agent_id}/preview", dialect="cpaas", auth=_auth, schema=PREVIEW_ANSWER,
          blueprint_prefix=PREFIX, tag="agents", summary="Preview mode: accept or skip the offered contact")
def answer_preview(data: dict[str, Any], agent_id: str):
    """The agent's answer to its offer (409 when it has none open)."""
    account = cpaas_account()
    offer = _call(_agents.answer_preview, account.id, agent_id, data["action"], data.get("call_uuid") or None)
    return ok(message={"accept": "contact accepted", "skip": "contact skipped"}[data["action"]], agent_id=agent_id,
              offer=_offer_json(offer))


@endpoint(bp, "GET", "/campaigns/{campaign_id}/agent_statistics", dialect="cpaas", auth=_auth,
          blueprint_prefix=PREFIX, tag="agents",
          summary="An agent campaign's live statistics: agents per state, dial level, answer rate, abandonment")
def agent_statistics(data: dict[str, Any], campaign_id: str):
    """Live view of an agent campaign."""
    account = cpaas_account()
    return ok(**_call(_agents.campaign_statistics, account.id, campaign_id))

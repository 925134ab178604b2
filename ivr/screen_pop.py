"""The screen pop: the campaign's ``agent_url`` told, as JSON, which contact an agent is being given.

Sent in a greenlet of its own through the runtime's pooled HTTP client (:class:`ivr.fetch.AppFetcher`'s
urllib3 pool): the call never waits for the CRM, and a CRM that is down or slow never breaks the call —
the failure becomes one line of the call's ``app_errors``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import gevent
import urllib3

from ivr.fetch import USER_AGENT

log = logging.getLogger(__name__)

#: Seconds the CRM has to accept a connection and to answer.
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 5.0


def payload(spec, call_uuid: str, agent_id: str, endpoint: str) -> dict:
    """The JSON body: the agent, the call, the campaign, the contact's number and fields."""
    agent = spec.agent
    return {
        "event": "agent_call",
        "agent_id": agent_id,
        "agent_endpoint": endpoint,
        "call_uuid": call_uuid,
        "campaign_id": agent.campaign_id,
        "mode": agent.mode,
        "account_id": spec.account_id,
        "request_id": spec.request_id,
        "attempt_id": spec.attempt_id,
        "contact_id": spec.contact_id,
        "contact_number": spec.called_number,
        "caller_id": spec.caller_id,
        "fields": dict(spec.fields or {}),
    }


def post(pool, url: str, body: dict, on_error: Callable[[str], None]) -> gevent.Greenlet:
    """POST ``body`` to ``url`` in the background; ``on_error(reason)`` when it fails. Returns the greenlet."""
    return gevent.spawn(_post, pool, url, body, on_error)


def _post(pool, url: str, body: dict, on_error: Callable[[str], None]) -> None:
    if not url or not url.lower().startswith(("http://", "https://")):
        on_error(f"screen pop {url!r}: not an http(s) URL")
        return
    try:
        resp = pool.request("POST", url, body=json.dumps(body).encode(),
                            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
                            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
                            retries=False, redirect=False)
    except Exception as exc:  # noqa: BLE001 - any failure of the CRM is reported, never raised into the call
        on_error(f"screen pop {url}: {type(exc).__name__}: {str(exc)[:160]}")
        return
    if resp.status >= 400:
        on_error(f"screen pop {url}: HTTP {resp.status}")

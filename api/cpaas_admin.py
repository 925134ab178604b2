"""Our additions for managing what the seeds configure in a portal: Kairos flows and the IP allow-list.

Authenticated with seed 002's ``account``/``auth`` headers and answered in its
envelope. The same operations exist on the command line (``vaani flow ...``,
``vaani account allow-ip ...``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from api import store
from api.auth import cpaas_account
from api.cpaas import PREFIX, bp, ok
from api.endpoints import endpoint
from api.errors import ApiError
from api.kairos import forget_flows
from api.schemas import Field, s
from dialer.store import accounts
from dialer.store.models import Flow

CREATE_FLOW = s(
    "create_flow",
    Field("flow_name", max_length=200, default=""),
    Field("app_url", "url", required=True, description="the IVR app (KooKoo XML or KML) each call runs"),
    Field("fallback_url", "url"),
    Field("dialect", "enum", default="kookoo", choices=("kookoo", "kml", "twiml", "plivo")),
    Field("method", "enum", default="GET", choices=("GET", "POST")),
    Field("callback_url", "url", description="where each call's status is posted"),
)
FLOW_ID = s("delete_flow", Field("flow_id", required=True, max_length=16))
IP_WHITELIST = s("set_ip_whitelist", Field("ips", "list", required=True, max_items=100,
                                            items=Field("ip", max_length=64)))


@endpoint(bp, "POST", "/create_flow", dialect="cpaas", auth=cpaas_account, schema=CREATE_FLOW, blueprint_prefix=PREFIX,
          summary="Create a Kairos outbound flow; answers flow_id and security_id (shown once)")
def create_flow(data: dict[str, Any]):
    """A flow binds a flow-id and security-id to an IVR app."""
    account = cpaas_account()
    with store.session() as sess:
        flow, security_id = accounts.create_flow(
            sess, account.id, data["app_url"], name=data["flow_name"], fallback_url=data.get("fallback_url"),
            dialect=data["dialect"], method=data["method"], callback_url=data.get("callback_url"))
    return ok(flow_id=flow.id, security_id=security_id)


@endpoint(bp, "GET", "/get_flows", dialect="cpaas", auth=cpaas_account, blueprint_prefix=PREFIX, summary="The account's flows")
def get_flows(data: dict[str, Any]):
    """Flows of the account (security ids are never shown again)."""
    account = cpaas_account()
    with store.session() as sess:
        rows = sess.scalars(select(Flow).where(Flow.account_id == account.id).order_by(Flow.created_at)).all()
        result = [{"flow_id": f.id, "flow_name": f.name, "app_url": f.app_url, "fallback_url": f.fallback_url or "",
                   "dialect": f.dialect, "callback_url": f.callback_url or ""} for f in rows]
    return ok(message="flows found" if result else "no flows found", result=result)


@endpoint(bp, "POST", "/delete_flow", dialect="cpaas", auth=cpaas_account, schema=FLOW_ID, blueprint_prefix=PREFIX,
          summary="Delete a flow")
def delete_flow(data: dict[str, Any]):
    """Delete one of the account's flows."""
    account = cpaas_account()
    with store.session() as sess:
        flow = sess.get(Flow, data["flow_id"])
        if flow is None or flow.account_id != account.id:
            raise ApiError(f"flow_id {data['flow_id']!r} not found", kind="not_found", field="flow_id")
        sess.delete(flow)
    forget_flows()
    return ok(message="flow deleted successfully")


@endpoint(bp, "POST", "/set_ip_whitelist", dialect="cpaas", auth=cpaas_account, schema=IP_WHITELIST, blueprint_prefix=PREFIX,
          summary="Replace the account's Kairos IP whitelist (addresses or CIDR networks)")
def set_ip_whitelist(data: dict[str, Any]):
    """The addresses Kairos requests of this account may come from."""
    account = cpaas_account()
    try:
        with store.session() as sess:
            entries = accounts.set_ip_allowlist(sess, account.id, data["ips"])
    except accounts.AccountError as exc:
        raise ApiError(f"ips: {exc}", field="ips") from None
    forget_flows()
    return ok(message="ip whitelist updated", ips=entries)

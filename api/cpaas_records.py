"""Seed 002's records endpoints: CDR queries, CDR and live-call statistics, and live-call control.

CDRs are shown exactly as the seed's samples: numbers without ``+``, times as
``Fri, 07 Jul 2023 06:08:16 GMT``, statistics counters wrapped in one-element
lists. ``modify_call`` acts on the live call's channel through a short-lived
ESL connection to the node the call runs on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from api import cpaas_schemas as S
from api import store
from api.auth import cpaas_account
from api.cpaas import PREFIX, bp, ok, own_campaign
from api.endpoints import endpoint
from api.errors import ApiError
from dialer import cdr_reports
from dialer.store.models import Attempt, Cdr

# The routes below are added to api.cpaas.bp (seed 002 is one blueprint).

LIVE_STATES = ("dialing", "ringing", "answered")


def cdr_json(row: Cdr) -> dict[str, Any]:
    """One CDR in seed 002's shape (``dialer.cdr_reports.to_seed``) plus the recording's URL."""
    from api.recordings import recording_url

    out = cdr_reports.to_seed(row)
    out["recording_url"] = recording_url(row.recording_name) if row.recording_name else ""
    return out


def _found(rows: list[dict[str, Any]]):
    return ok(message="cdr found" if rows else "cdr not found", result=rows)


@endpoint(bp, "POST", "/get_cdr_by_date", dialect="cpaas", auth=cpaas_account, schema=S.CDR_BY_DATE, blueprint_prefix=PREFIX,
          summary="CDRs between two dates (inclusive), paged by record_count and offset")
def get_cdr_by_date(data: dict[str, Any]):
    """CDRs of the account whose call_date falls in [start_call_date, end_call_date]."""
    account = cpaas_account()
    with store.session() as s:
        rows = s.scalars(select(Cdr).where(
            Cdr.account_id == account.id,
            Cdr.call_date >= dt.datetime.combine(data["start_call_date"], dt.time()),
            Cdr.call_date < dt.datetime.combine(data["end_call_date"] + dt.timedelta(days=1), dt.time()))
            .order_by(Cdr.id).offset(data["offset"]).limit(data["record_count"])).all()
        return _found([cdr_json(c) for c in rows])


@endpoint(bp, "POST", "/get_cdr_by_request_id", dialect="cpaas", auth=cpaas_account, schema=S.CDR_BY_REQUEST, blueprint_prefix=PREFIX,
          summary="CDRs of one request (click2call, callback, OTP, ...)")
def get_cdr_by_request_id(data: dict[str, Any]):
    """CDRs of a request_id of this account (another account's answers like an unknown one)."""
    account = cpaas_account()
    with store.session() as s:
        rows = s.scalars(select(Cdr).where(Cdr.account_id == account.id, Cdr.request_id == data["request_id"])
                         .order_by(Cdr.id)).all()
        return _found([cdr_json(c) for c in rows])


@endpoint(bp, "POST", "/get_cdr_by_campaign_id", dialect="cpaas", auth=cpaas_account, schema=S.CDR_BY_CAMPAIGN,
          blueprint_prefix=PREFIX, summary="CDRs of one campaign (DND contacts included, is_dnd=1)")
def get_cdr_by_campaign_id(data: dict[str, Any]):
    """CDRs of a campaign of this account."""
    account = cpaas_account()
    with store.session() as s:
        own_campaign(s, account.id, data["campaign_id"])
        rows = s.scalars(select(Cdr).where(Cdr.account_id == account.id, Cdr.campaign_id == data["campaign_id"])
                         .order_by(Cdr.id).offset(data["offset"]).limit(data["record_count"])).all()
        return _found([cdr_json(c) for c in rows])


def cdr_statistics(account_id: str, campaign_id: str | None = None) -> dict[str, list[int]]:
    """Counts per dial status, as seed 002 shows them (each wrapped in a list); ``dialer.cdr_reports`` counts."""
    with store.session() as s:
        if campaign_id:
            return cdr_reports.get_campaign_cdr_statistics(s, account_id, campaign_id)
        return cdr_reports.get_cdr_statistics(s, account_id)


@endpoint(bp, "GET", "/get_cdr_statistics", dialect="cpaas", auth=cpaas_account, blueprint_prefix=PREFIX,
          summary="Counts of answered, busy, cancelled, unavailable, congested, unanswered and all calls")
def get_cdr_statistics(data: dict[str, Any]):
    """The account's CDR counters."""
    account = cpaas_account()
    return ok(result=cdr_statistics(account.id))


@endpoint(bp, "POST", "/get_campaign_cdr_statistics", dialect="cpaas", auth=cpaas_account, schema=S.CAMPAIGN_ID,
          blueprint_prefix=PREFIX, summary="CDR counters of one campaign, DND included")
def get_campaign_cdr_statistics(data: dict[str, Any]):
    """One campaign's CDR counters."""
    account = cpaas_account()
    with store.session() as s:
        own_campaign(s, account.id, data["campaign_id"])
    return ok(result=cdr_statistics(account.id, data["campaign_id"]))


def live_statistics(account_id: str) -> dict[str, int]:
    """Calls of the account on the air now, by kind (attempts dialing, ringing or answered)."""
    live = {"live_calls_c2c": 0, "live_calls_campaign": 0, "live_calls_inbound": 0, "live_calls_otp": 0}
    try:
        from dialer import live as dialer_live  # Redis counters, when the dialer provides them
    except ImportError:
        dialer_live = None
    if dialer_live is not None and hasattr(dialer_live, "live_counts"):
        counts = dialer_live.live_counts(account_id, cfg=store.cfg())
        for k in live:
            live[k] = int(counts.get(k, 0))
        return live
    with store.session() as s:
        rows = s.execute(select(Attempt.call_type, func.count()).where(
            Attempt.account_id == account_id, Attempt.state.in_(LIVE_STATES)).group_by(Attempt.call_type)).all()
    for call_type, n in rows:
        name = {"click2call": "live_calls_c2c", "callback": "live_calls_c2c", "otp": "live_calls_otp",
                "campaign": "live_calls_campaign", "inbound": "live_calls_inbound"}.get(call_type)
        if name:
            live[name] += n
    return live


@endpoint(bp, "GET", "/get_live_call_statistics", dialect="cpaas", auth=cpaas_account, blueprint_prefix=PREFIX,
          summary="Live click2call, campaign, inbound and OTP calls")
def get_live_call_statistics(data: dict[str, Any]):
    """The account's live-call counters."""
    account = cpaas_account()
    return ok(result=live_statistics(account.id))


@endpoint(bp, "POST", "/modify_call", dialect="cpaas", auth=cpaas_account, schema=S.MODIFY_CALL, blueprint_prefix=PREFIX,
          summary="Blind/attended transfer, hangup or start recording on a live call")
def modify_call(data: dict[str, Any]):
    """Act on a live call of this account through ESL on its node."""
    from api import livecall

    account = cpaas_account()
    channel = data["channel"].strip()
    with store.session() as s:
        attempt = s.scalars(select(Attempt).where(Attempt.origination_uuid == channel,
                                                  Attempt.account_id == account.id)).first()
        if attempt is None or attempt.state not in LIVE_STATES:
            raise ApiError(f"channel {channel!r}: no live call of this account", kind="not_found",
                           field="channel")
        node, call_type = attempt.fs_node, attempt.call_type
    message, extra = livecall.modify(node, channel, data["modify_type"], data.get("transfer_to"), call_type)
    return ok(message=message, **extra)

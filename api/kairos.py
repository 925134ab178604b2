"""Kairos outbound flows (seed 001): ``POST /kairos-apis/outbound/create``.

Checks, in the order a client can fix them, each answering the seed's status name:

1. the body is a JSON object ........................... INVALID_FORMAT
2. ``api-version``, ``security-id``, ``flow-id`` present  INVALID_MANDATORY_PARAMETERS
3. ``api-version`` is ``1.0`` or ``TEST`` ................ INVALID_API_VERSION
4. ``flow-id`` names a flow ............................. INVALID_FLOW_ID
5. ``security-id`` is that flow's ....................... INVALID_SECURITY_ID
6. the caller's IP is on the account's allow-list ....... IP_NOT_WHITELISTED
7. ``calls`` is a non-empty list of at most 500 ......... EMPTY_CALL_LIST / MAX_DATA_LIST_SIZE_EXCEEDED
8. the same bytes were not accepted within KAIROS_CHECKSUM_WINDOW seconds  CHECKSUM_REPEATED
9. each call: ``client-identifier``, ``start-time`` (not a past date: VALIDITY_EXPIRED),
   ``contact-numbers`` (INVALID_CONTACT_NUMBER), ``keys`` ... per-call results;
   some good and some bad: PARTIAL_SUCCESS.

``api-version: TEST`` runs every check and answers as production would, but
dials nothing and records nothing (a dry run of the flow).

``client-identifier`` is the idempotency key (per flow): a call submitted
again answers its first ``request-id`` and is not dialed twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import time
from dataclasses import dataclass

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from api import store
from api.auth import client_ip, ip_allowed
from api.endpoints import endpoint
from api.errors import ApiError, kairos_body
from api.group_commit import GroupCommit, Job
from api.schemas import Field, ValidationError, s
from dialer.store import accounts
from dialer.store.models import CallRequest, new_id, utcnow

bp = Blueprint("kairos", __name__)

PREFIX = "/kairos-apis"
MAX_CALLS = 500
#: Seconds a successful flow-id/security-id check is remembered per process.
FLOW_CACHE_SECONDS = 5.0
API_VERSIONS = ("1.0", "TEST")
_TYPOGRAPHIC = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2033": '"'})

KEY = s("flow_key", Field("name", required=True, max_length=200, code="INVALID_MANDATORY_PARAMETERS"),
        Field("value", max_length=4000, allow_empty=True))

CALL = s(
    "kairos_call",
    Field("client-identifier", required=True, max_length=150, code="INVALID_MANDATORY_PARAMETERS",
          description="callback variable identifying this call; the idempotency key"),
    Field("start-time", "isodatetime", required=True, future=True, code="INVALID_FORMAT",
          description="ISO-8601; not a past date (a past time today starts at once)"),
    Field("contact-numbers", "list", required=True, min_items=1, max_items=10, code="INVALID_CONTACT_NUMBER",
          items=Field("contact-number", "phone", code="INVALID_CONTACT_NUMBER"),
          description="the customer's number, then alternates tried until one connects"),
    Field("keys", "list", max_items=200, code="INVALID_FORMAT", items=Field("key", "object", schema=KEY,
                                                                            code="INVALID_FORMAT")),
)

#: For the documentation only: the view checks these in the order above.
CREATE = s(
    "kairos_outbound_create",
    Field("api-version", "enum", required=True, choices=API_VERSIONS),
    Field("security-id", required=True, max_length=64, description="64-character security id of the flow"),
    Field("flow-id", required=True, max_length=16, description="8-character flow id"),
    Field("calls", "list", required=True, min_items=1, max_items=MAX_CALLS, items=Field("call", "object",
                                                                                         schema=CALL)),
    example={"api-version": "1.0", "security-id": "<64 character alphanumeric>", "flow-id": "<8 chars>",
             "calls": [{"client-identifier": "cust-1", "start-time": "2030-04-28T03:48:07.111+05:30",
                        "contact-numbers": ["918000123456", "918100123456"],
                        "keys": [{"name": "$flow.key.Name", "value": "Abhinandan"}]}]},
)


def fail(name: str, message: str, field: str | None = None, **extra: Any) -> ApiError:
    """A Kairos error with the seed's status name."""
    return ApiError(message, kairos=name, field=field, extra=extra)


def _body() -> tuple[bytes, dict[str, Any]]:
    raw = request.get_data(cache=True)
    try:
        text = raw.decode("utf-8")
        try:
            body = json.loads(text)
        except json.JSONDecodeError:
            body = json.loads(text.translate(_TYPOGRAPHIC))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail("INVALID_FORMAT", f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise fail("INVALID_FORMAT", "the body must be a JSON object")
    return raw, body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise fail("INVALID_MANDATORY_PARAMETERS", f"{name}: is required", field=name)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise fail("INVALID_FORMAT", f"{name}: must be a string", field=name)
    return str(value).strip()


def _checksum_key(raw: bytes) -> str:
    return store.key("kairos", "checksum", hashlib.sha256(raw).hexdigest())


def _validate_call(call: Any, index: int, region: str, now: dt.datetime) -> tuple[dict[str, Any] | None,
                                                                                   dict[str, Any] | None]:
    """(cleaned call, None) or (None, per-call error result)."""
    ident = call.get("client-identifier") if isinstance(call, dict) else None
    try:
        cleaned = CALL.validate(call, path=f"calls[{index}].", region=region, now=now)
        return cleaned, None
    except ValidationError as exc:
        name = "INVALID_MANDATORY_PARAMETERS" if exc.reason == "is required" else (exc.code or "INVALID_FORMAT")
        if exc.field.endswith("]") and exc.reason == "must be a JSON object":
            name = "INVALID_FORMAT"
        code, _ = _status(name)
        return None, {"client-identifier": ident if isinstance(ident, (str, int)) else None,
                      "status-code": code, "status-name": name, "message": f"{exc.field}: {exc.reason}"}


def _status(name: str) -> tuple[int, str]:
    from api.errors import KAIROS_STATUS

    return KAIROS_STATUS[name]


@endpoint(bp, "POST", "/outbound/create", dialect="kairos", schema=CREATE, validate=False,
          blueprint_prefix=PREFIX, summary="Schedule up to 500 calls into an outbound flow")
def outbound_create(_data: dict[str, Any]):
    """The Kairos batch submission."""
    raw, body = _body()
    version = _text(body, "api-version")
    security_id = _text(body, "security-id")
    flow_id = _text(body, "flow-id")
    if version not in API_VERSIONS:
        raise fail("INVALID_API_VERSION", f"api-version: must be 1.0 or TEST, got {version[:20]!r}",
                   field="api-version")
    flow, account = _verified_flow(flow_id[:16], security_id)
    address = client_ip()
    if not ip_allowed(address, account.ip_allowlist):
        raise fail("IP_NOT_WHITELISTED", f"{address} is not on the account's IP whitelist")
    calls = body.get("calls")
    if calls is None or calls == []:
        raise fail("EMPTY_CALL_LIST", "calls: the call list is empty", field="calls")
    if not isinstance(calls, list):
        raise fail("INVALID_FORMAT", "calls: must be an array", field="calls")
    if len(calls) > MAX_CALLS:
        raise fail("MAX_DATA_LIST_SIZE_EXCEEDED", f"calls: at most {MAX_CALLS} calls per request, got {len(calls)}",
                   field="calls")
    test = version == "TEST"
    ckey = _checksum_key(raw)
    if not test and not store.redis().set(ckey, "1", nx=True, ex=max(1, store.cfg().kairos_checksum_window)):
        raise fail("CHECKSUM_REPEATED", "the same payload was already submitted; change at least one parameter")
    try:
        try:
            results = _submit_calls(calls, flow, account, test)
        except IntegrityError:
            # A concurrent request stored one of these client-identifiers first:
            # run again, and those calls now answer their first request-id.
            results = _submit_calls(calls, flow, account, test)
    except BaseException:
        store.redis().delete(ckey)
        raise
    accepted = sum(1 for r in results if r["status-name"] == "SUCCESS")
    if accepted == 0 and not test:
        store.redis().delete(ckey)  # nothing was accepted: the same payload may be retried
    if accepted == len(results):
        name = "SUCCESS"
    elif accepted:
        name = "PARTIAL_SUCCESS"
    else:
        name = results[0]["status-name"]
    extra: dict[str, Any] = {"results": results}
    if test:
        extra["test"] = True
    if accepted:
        resp = jsonify(kairos_body(name, **extra))
        return resp
    raise fail(name, f"no call was accepted ({len(results)} refused)", **extra)


@dataclass(frozen=True)
class FlowInfo:
    """What a submission needs of its flow and account (a snapshot, safe to cache briefly)."""

    id: str
    account_id: str
    app_url: str
    fallback_url: str | None
    dialect: str
    method: str
    callback_url: str | None
    ip_allowlist: tuple[str, ...]
    default_region: str | None


def _verified_flow(flow_id: str, security_id: str) -> tuple[FlowInfo, FlowInfo]:
    """The flow for ``flow-id`` if ``security-id`` is its own; Kairos errors otherwise.

    Successful checks are remembered for FLOW_CACHE_SECONDS per process (keyed by the flow id and the
    digest of the security id), so a busy client costs no SQL for them; a deleted flow or a changed
    allow-list takes effect within that time.
    """
    cache: dict = current_app.extensions.setdefault("kairos_flow_cache", {})
    key = (flow_id, accounts.hash_secret(security_id))
    hit = cache.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1], hit[1]
    with store.session() as sess:
        flow, security_ok = accounts.verify_flow(sess, flow_id, security_id)
        account = sess.get(accounts.Account, flow.account_id) if flow is not None else None
        if flow is None:
            raise fail("INVALID_FLOW_ID", "flow-id: no such flow", field="flow-id")
        if not security_ok or account is None or not account.active:
            raise fail("INVALID_SECURITY_ID", "security-id: does not match the flow", field="security-id")
        info = FlowInfo(flow.id, account.id, flow.app_url, flow.fallback_url, flow.dialect, flow.method,
                        flow.callback_url, tuple(account.ip_allowlist or ()), account.default_region)
    if len(cache) > 10000:
        cache.clear()
    cache[key] = (now + FLOW_CACHE_SECONDS, info)
    return info, info


def forget_flows() -> None:
    """Drop this process's remembered flow checks (after a flow or an allow-list changed here)."""
    current_app.extensions.get("kairos_flow_cache", {}).clear()


def _submit_calls(calls: list[Any], flow: FlowInfo, account: FlowInfo, test: bool) -> list[dict[str, Any]]:
    """Validate every call, then store the new ones (group-committed with concurrent requests) and queue them."""
    now = dt.datetime.now(dt.timezone.utc)
    region = account.default_region or store.cfg().default_region
    results: list[dict[str, Any] | None] = [None] * len(calls)
    items: list[tuple[str, dict[str, Any]]] = []
    positions: list[tuple[int, str]] = []
    seen: set[str] = set()
    for i, call in enumerate(calls):
        cleaned, error = _validate_call(call, i, region, now)
        if error is not None:
            results[i] = error
            continue
        ident = cleaned["client-identifier"]
        key = f"{flow.id}:{ident}"
        if key in seen:
            results[i] = {"client-identifier": ident, "status-code": 210,
                          "status-name": "INVALID_MANDATORY_PARAMETERS",
                          "message": f"calls[{i}].client-identifier: repeated within the request"}
            continue
        seen.add(key)
        items.append((key, _row(cleaned, flow, now)))
        positions.append((i, ident))
    if items and _short_of_balance(flow.account_id, [row["parameters"]["numbers"][0] for _, row in items]):
        code, _ = _status("INSUFFICIENT_BALANCE")
        for i, ident in positions:
            results[i] = {"client-identifier": ident, "status-code": code, "status-name": "INSUFFICIENT_BALANCE",
                          "message": "the account's balance cannot pay for a call"}
        items = []
    if items:
        if test:
            stored = _lookup_only(flow.account_id, items)
        else:
            stored = _group_commit().submit(items)
        ok_code, _ = _status("SUCCESS")
        for (i, ident), (request_id, duplicate) in zip(positions, stored):
            results[i] = {"client-identifier": ident, "status-code": ok_code, "status-name": "SUCCESS",
                          "request-id": request_id}
            if duplicate:
                results[i]["duplicate"] = True
    return [r for r in results if r is not None]


def _short_of_balance(account_id: str, numbers: list[str]) -> bool:
    """Seed 001's INSUFFICIENT_BALANCE: a prepaid account that cannot pay the first pulse of any call."""
    from billing import ledger

    with store.session() as sess:
        return ledger.short_of_balance(sess, account_id, numbers)


def _row(c: dict[str, Any], flow: FlowInfo, now: dt.datetime) -> dict[str, Any]:
    """The call_requests row of one validated call."""
    request_id = new_id()
    start = c["start-time"]
    scheduled = None if start <= now else start.astimezone(dt.timezone.utc).replace(tzinfo=None)
    fields = {k["name"]: k.get("value", "") for k in c.get("keys") or []}
    return {
        "id": request_id, "account_id": flow.account_id, "kind": "kairos",
        "idempotency_key": f"{flow.id}:{c['client-identifier']}", "callback_url": flow.callback_url,
        "scheduled_at": scheduled, "status": "scheduled" if scheduled else "queued",
        "result": {"request-id": request_id},
        "parameters": {"numbers": c["contact-numbers"], "alternates": True,
                       "client-identifier": c["client-identifier"], "flow_id": flow.id, "fields": fields,
                       "app_url": flow.app_url, "fallback_url": flow.fallback_url, "dialect": flow.dialect,
                       "method": flow.method, "start-time": start.isoformat()},
    }


def _existing(sess, account_id: str, keys: list[str]) -> dict[str, str]:
    # Keys start with the flow id, which belongs to one account: a key names one account's call.
    # Naming the account too lets SQL use the (account_id, kind, idempotency_key) unique index
    # instead of scanning every call request.
    existing: dict[str, str] = {}
    for i in range(0, len(keys), 900):
        existing.update(sess.execute(select(CallRequest.idempotency_key, CallRequest.id).where(
            CallRequest.account_id == account_id, CallRequest.kind == "kairos",
            CallRequest.idempotency_key.in_(keys[i:i + 900]))).all())
    return existing


def _lookup_only(account_id: str, items: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, bool]]:
    """TEST mode: what each call would answer, writing nothing."""
    with store.session() as sess:
        existing = _existing(sess, account_id, [k for k, _ in items])
    return [(existing[k], True) if k in existing else (row["id"], False) for k, row in items]


def _write_batch(jobs: list[Job]) -> None:
    """One transaction for every queued request's calls, then one hand-over to the dialer."""
    from dialer import submit as dialer_submit

    by_account: dict[str, list[str]] = {}
    for job in jobs:
        for k, row in job.items:
            by_account.setdefault(row["account_id"], []).append(k)
    rows: list[dict[str, Any]] = []
    with store.session(immediate=True) as sess:
        existing: dict[str, str] = {}
        for account_id, keys in by_account.items():
            existing.update(_existing(sess, account_id, keys))
        for job in jobs:
            job.results = []
            for key, row in job.items:
                if key in existing:
                    job.results.append((existing[key], True))
                    continue
                existing[key] = row["id"]  # a twin in another request of this batch answers the same
                rows.append(row)
                job.results.append((row["id"], False))
        if rows:
            stamp = utcnow()  # one clock read for the batch, not a column default called per row
            for row in rows:
                row["created_at"] = row["updated_at"] = stamp
            sess.execute(insert(CallRequest.__table__), rows)  # Core: no ORM bookkeeping per row
            # The requests and their queued attempts commit together: none is ever stored undialable.
            dialer_submit.submit_call_requests([r["id"] for r in rows], cfg=store.cfg(), session=sess,
                                               new_rows=rows)


def _group_commit() -> GroupCommit:
    gc = current_app.extensions.get("kairos_group_commit")
    if gc is None:
        gc = current_app.extensions.setdefault("kairos_group_commit", GroupCommit(_write_batch))
    return gc

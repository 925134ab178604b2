"""What the API calls: hand call requests and campaigns to the dialer, pause, resume and stop campaigns.

These functions only write SQL rows and flip the Redis campaign switch; the
dialer workers (``python -m dialer worker``) do the dialing. Each returns
quickly, raises :class:`SubmitError` (a ``ValueError``) with a readable
message for an unknown id or a transition that is not allowed, and is safe
to call twice.

Call requests (``call_requests`` rows written by the API) carry their
numbers in ``parameters["numbers"]``: a list of recipients, each dialed as its
own chain of attempts; with ``parameters["alternates"] = True`` (Kairos
``contact-numbers``) the list is ONE recipient's numbers, tried in order
until one connects. Retries of a request follow ``parameters["max_retries"]``,
``["retry_time"]`` and ``["retry_on_statuses"]`` when given (none by default).
"""

from __future__ import annotations

from typing import Any, Iterable

import redis as _redis
import sqlalchemy as sa

from config import Settings, settings
from dialer import attempts as _attempts
from dialer import campaigns as _campaigns
from dialer.store import db
from dialer.store.models import Attempt, CallRequest, Campaign, Contact, utcnow
from ivr.call_spec import Announcement, CallSpec, ClickToCall, Otp

REQUEST_CALL_TYPES = {"click2call": "click2call", "callback": "callback", "otp": "otp", "konnect": "konnect",
                      "kairos": "kairos"}


class SubmitError(ValueError):
    """A request or campaign the dialer cannot take (unknown id, wrong state, no numbers)."""


def _cfg(cfg: Settings | None) -> Settings:
    return cfg or settings()


def _control(cfg: Settings) -> _campaigns.Control:
    return _campaigns.Control(_redis.Redis.from_url(cfg.redis_url), cfg.key_prefix)


# ---------------------------------------------------------------------------
# Call requests
# ---------------------------------------------------------------------------

def request_numbers(req: CallRequest) -> list[list[str]]:
    """The request's recipients, each as its list of numbers in the order they are tried."""
    p = req.parameters or {}
    raw = p.get("numbers")
    if raw is None:
        for key in ("agent_number", "customer_number", "recipient", "contact-numbers"):
            if p.get(key):
                raw = p[key]
                break
    if isinstance(raw, str):
        raw = [x.strip() for x in raw.split(",") if x.strip()]
    raw = [n for n in (raw or []) if n]
    if p.get("alternates"):
        return [list(map(str, raw))] if raw else []
    return [[str(n)] for n in raw]


def request_spec(req: CallRequest, attempt: Attempt) -> CallSpec:
    """The CallSpec of one attempt of a call request (what the IVR runtime will run)."""
    p = req.parameters or {}
    kind = req.kind
    spec = CallSpec(call_type=REQUEST_CALL_TYPES.get(kind, kind), request_id=req.id, attempt_id=attempt.id,
                    account_id=req.account_id, caller_id=p.get("caller_id"), called_number=attempt.number,
                    fields={str(k): str(v) for k, v in (p.get("fields") or {}).items()})
    if kind in ("click2call", "callback"):
        spec.click2call = ClickToCall(destination=p.get("destination_number") or "", caller_id=p.get("caller_id"),
                                      recording_option=p.get("recording_option") or "off",
                                      timeout=int(p.get("timeout") or 45),
                                      transcript=p.get("transcript") or "off")
    elif kind == "otp":
        spec.otp = Otp(text=p.get("text") or "", repeat=int(p.get("repeat") or 1), voice=p.get("voice"),
                       volume=p.get("volume"), rate=p.get("rate"), pitch=p.get("pitch"),
                       language_code=p.get("language_code"), tts_engine_type=p.get("tts_engine_type"))
    elif p.get("app_url"):
        spec.app_url = p["app_url"]
        spec.fallback_url = p.get("fallback_url")
        # A Konnect doc_url may serve KML or KooKoo XML: unless said, the runtime detects it.
        spec.dialect = p.get("dialect") or ("auto" if kind == "konnect" else "kookoo")
        spec.method = p.get("method") or "GET"
    elif p.get("media_url"):
        spec.announcement = Announcement(media_url=p["media_url"])
    else:
        raise SubmitError(f"call request {req.id} names neither an app nor a message to play")
    return spec


def submit_call_request(request_id: str, *, cfg: Settings | None = None) -> list[str]:
    """Queue a request's attempts (one per recipient), due at its ``scheduled_at`` (UTC; None = now).

    Returns the attempt ids. Idempotent: a request that already has attempts
    gets none added, and its existing ones are returned.
    """
    return submit_call_requests([request_id], cfg=cfg)[request_id]


def submit_call_requests(request_ids: Iterable[str], *, cfg: Settings | None = None,
                         session=None, new_rows: Iterable[dict[str, Any]] | None = None) -> dict[str, list[str]]:
    """:func:`submit_call_request` for many requests in one transaction (a Kairos batch).

    Reads the requests and their existing attempts with one query each and
    writes the new attempts with one multi-row insert, so a 500-call batch
    costs a handful of round trips instead of a thousand. With ``session``,
    the work joins that open transaction (the API writes the requests and
    their attempts in one commit) instead of opening its own. ``new_rows``
    (with ``session``): the ``call_requests`` rows, as inserted, of requests
    created in that same transaction; they have no attempts yet, so they are
    taken as given instead of read back.
    """
    cfg = _cfg(cfg)
    ids = list(dict.fromkeys(request_ids))
    if not ids:
        return {}
    if session is not None:
        return _submit_in(session, ids, new_rows)
    with db.session_scope(cfg.sqlalchemy_url, immediate=True) as s:
        return _submit_in(s, ids)


class _NewRequest:
    """A ``call_requests`` row inserted in this transaction, read as the attributes of a CallRequest."""

    __slots__ = ("id", "account_id", "kind", "status", "scheduled_at", "parameters")

    def __init__(self, row: dict[str, Any]):
        for name in self.__slots__:
            setattr(self, name, row.get(name))


def _submit_in(s, ids: list[str], new_rows: Iterable[dict[str, Any]] | None = None) -> dict[str, list[str]]:
    """The body of :func:`submit_call_requests`, inside the open transaction of session ``s``."""
    out: dict[str, list[str]] = {}
    given = {r["id"]: _NewRequest(r) for r in new_rows or ()}
    existing: dict[str, list[str]] = {}
    if all(i in given for i in ids):
        reqs = given  # created in this transaction: no attempts yet, nothing to read back
    else:
        reqs = {r.id: r for r in s.scalars(sa.select(CallRequest).where(CallRequest.id.in_(ids)))}
        for rid, aid in s.execute(sa.select(Attempt.request_id, Attempt.id).where(Attempt.request_id.in_(ids))):
            existing.setdefault(rid, []).append(aid)
    now = utcnow()
    newly_queued: list[str] = []
    rows: list[dict[str, Any]] = []
    for request_id in ids:
        req = reqs.get(request_id)
        if req is None:
            raise SubmitError(f"unknown call request {request_id!r}")
        if request_id in existing:
            out[request_id] = existing[request_id]
            continue
        if req.status == "cancelled":
            raise SubmitError(f"call request {request_id} was cancelled")
        groups = request_numbers(req)
        if not groups:
            raise SubmitError(f"call request {request_id} has no number to call")
        due = req.scheduled_at or now
        refs = (req.parameters or {}).get("ref_ids") or []
        attempt_ids = []
        for i, group in enumerate(groups):
            attempt_id = _new_uuid()
            rows.append({"id": attempt_id, "account_id": req.account_id,
                         "call_type": REQUEST_CALL_TYPES.get(req.kind, req.kind), "number": group[0],
                         "request_id": req.id, "campaign_id": None, "contact_id": None, "attempt_no": 1,
                         "number_index": 0, "ref_id": refs[i] if i < len(refs) else None, "state": "queued",
                         "next_try_at": due, "created_at": now, "updated_at": now})
            attempt_ids.append(attempt_id)
        if req.status in ("scheduled", "queued") and not req.scheduled_at:
            if isinstance(req, _NewRequest) and req.status != "queued":
                newly_queued.append(req.id)
            req.status = "queued"
        out[request_id] = attempt_ids
    if newly_queued:
        s.execute(sa.update(CallRequest).where(CallRequest.id.in_(newly_queued)).values(status="queued"))
    if rows:
        s.execute(sa.insert(Attempt.__table__), rows)  # Core insert: no ORM bookkeeping per row
    return out


def reschedule_call_request(request_id: str, *, cfg: Settings | None = None) -> int:
    """Move a request's still-queued attempts to its (changed) ``scheduled_at``; returns how many moved."""
    cfg = _cfg(cfg)
    with db.session_scope(cfg.sqlalchemy_url, immediate=True) as s:
        req = s.get(CallRequest, request_id)
        if req is None:
            raise SubmitError(f"unknown call request {request_id!r}")
        groups = request_numbers(req)
        res = s.execute(sa.update(Attempt).where(Attempt.request_id == request_id, Attempt.state == "queued")
                        .values(next_try_at=req.scheduled_at or utcnow(), updated_at=utcnow()))
        moved = res.rowcount
        if moved and len(groups) == 1:
            # A changed agent number applies to attempts that have not started.
            s.execute(sa.update(Attempt).where(Attempt.request_id == request_id, Attempt.state == "queued",
                                               Attempt.number_index == 0).values(number=groups[0][0]))
        return moved


def cancel_call_request(request_id: str, *, cfg: Settings | None = None) -> int:
    """Cancel a request's still-queued attempts (callback DELETE); returns how many. 0: too late."""
    cfg = _cfg(cfg)
    with db.session_scope(cfg.sqlalchemy_url, immediate=True) as s:
        req = s.get(CallRequest, request_id)
        if req is None:
            raise SubmitError(f"unknown call request {request_id!r}")
        n = _attempts.cancel_queued(s, request_id=request_id)
        live = s.execute(sa.select(sa.func.count()).select_from(Attempt).where(
            Attempt.request_id == request_id, Attempt.state.in_(_attempts.LIVE_STATES))).scalar()
        if not live:
            req.status = "cancelled"
        return n


# ---------------------------------------------------------------------------
# Campaigns
# ---------------------------------------------------------------------------

def _campaign(s, campaign_id: str) -> Campaign:
    camp = s.get(Campaign, campaign_id)
    if camp is None:
        raise SubmitError(f"unknown campaign {campaign_id!r}")
    return camp


def start_campaign(campaign_id: str, *, cfg: Settings | None = None) -> str:
    """Load the campaign's contacts as queued attempts and schedule it; returns its status.

    Idempotent: contacts already loaded are not loaded again. DND contacts are
    loaded too and turned into DND records (never dialed) by the worker that
    reaches them, so a number added to a DND list after loading is honoured.
    """
    cfg = _cfg(cfg)
    with db.session_scope(cfg.sqlalchemy_url, immediate=True) as s:
        camp = _campaign(s, campaign_id)
        if camp.status in ("stopped", "completed"):
            raise SubmitError(f"campaign {campaign_id} is {camp.status}")
        if int(camp.campaign_type or 0) == 1 and not camp.doc_url and not camp.announcement_text \
                and not camp.recorded_filename:
            raise SubmitError(f"campaign {campaign_id} is type 1 but has no IVR app (doc_url)")
        _campaigns.zone(camp.time_zone)
        loaded = s.execute(sa.select(sa.func.count()).select_from(Attempt)
                           .where(Attempt.campaign_id == campaign_id)).scalar()
        if not loaded:
            now = utcnow()
            rows = s.execute(sa.select(Contact.id, Contact.number).where(Contact.list_id == camp.list_id)
                             .order_by(Contact.id)).all()
            s.execute(sa.insert(Attempt), [
                {"id": _new_uuid(), "account_id": camp.account_id, "campaign_id": camp.id, "contact_id": cid,
                 "call_type": "campaign", "number": number, "attempt_no": 1, "number_index": 0,
                 "state": "queued", "next_try_at": now, "created_at": now, "updated_at": now}
                for cid, number in rows])
            camp.total_contacts = len(rows)
        status = camp.status
    if status == "running":
        _control(cfg).set_state(campaign_id, "running")
    return status


def _new_uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def _set_status(campaign_id: str, allowed: tuple[str, ...], new: str, cfg: Settings) -> str:
    with db.session_scope(cfg.sqlalchemy_url, immediate=True) as s:
        camp = _campaign(s, campaign_id)
        if camp.status == new:
            return new
        if camp.status not in allowed:
            raise SubmitError(f"campaign {campaign_id} is {camp.status}: cannot become {new}")
        camp.status = new
        camp.updated_at = utcnow()
    return new


def pause_campaign(campaign_id: str, *, cfg: Settings | None = None) -> str:
    """Pause: when this returns, no worker sends a new originate for the campaign. Calls in progress go on."""
    cfg = _cfg(cfg)
    status = _set_status(campaign_id, ("scheduled", "running"), "paused", cfg)
    _control(cfg).set_state(campaign_id, "paused")
    return status


def resume_campaign(campaign_id: str, *, cfg: Settings | None = None) -> str:
    """Resume a paused campaign (running again, or scheduled if its start date is still ahead)."""
    cfg = _cfg(cfg)
    with db.session_scope(cfg.sqlalchemy_url) as s:
        camp = _campaign(s, campaign_id)
        target = "running" if _campaigns.in_date_window(camp, utcnow()) else "scheduled"
    status = _set_status(campaign_id, ("paused",), target, cfg)
    _control(cfg).set_state(campaign_id, "running" if status == "running" else "scheduled")
    return status


def stop_campaign(campaign_id: str, *, cfg: Settings | None = None) -> str:
    """Stop: when this returns nothing new is dialed; queued attempts are cancelled. Calls in progress go on."""
    cfg = _cfg(cfg)
    status = _set_status(campaign_id, ("scheduled", "running", "paused"), "stopped", cfg)
    _control(cfg).set_state(campaign_id, "stopped")
    with db.session_scope(cfg.sqlalchemy_url, immediate=True) as s:
        _attempts.cancel_queued(s, campaign_id=campaign_id)
    return status


def campaign_progress(campaign_id: str, *, cfg: Settings | None = None) -> dict[str, Any]:
    """Attempts per state and the campaign's status."""
    cfg = _cfg(cfg)
    with db.session_scope(cfg.sqlalchemy_url) as s:
        camp = _campaign(s, campaign_id)
        return {"campaign_id": campaign_id, "status": camp.status, "attempts": _attempts.counts(s, campaign_id)}

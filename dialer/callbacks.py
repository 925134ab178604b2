"""Konnect-style status callbacks: a ``callback_deliveries`` row each, delivered by an RQ job with retries.

Queuing is an outbox: the row is written in the same transaction as the fact it
reports (the completed CDR, the accepted request), and the RQ job
:func:`deliver` is enqueued after the commit. A job lost with Redis is found
again by :func:`requeue_due`.

Delivery is one short HTTP POST (JSON body) per try, with the connect and read
timeouts of ``CALLBACK_CONNECT_TIMEOUT``/``CALLBACK_READ_TIMEOUT``; every try is
logged in ``callback_tries``. A try that fails (no connection, timeout, 5xx,
408, 425, 429) is retried after ``CALLBACK_BACKOFF`` seconds, doubled each time
(at most 10 minutes), up to ``CALLBACK_MAX_TRIES``; another 4xx fails at once
(the receiver refused the payload; sending it again would not help). A dead or
slow receiver holds only its own try: in a gevent process each try runs in its
own greenlet, so the worker goes on with its next job at once.

Retries later than now use RQ's scheduler (``Queue.enqueue_in``): the worker of
the ``<prefix>-callbacks`` queue must run with the scheduler enabled.

Payload of a call's status (seed 000): ``ref_id, recipient, caller_id, status,
price, balance, error_code, error_reason, call_start_time, call_end_time,
call_connect_time, media_duration, key_pressed, media_url``; times as
``"Nov 22, 2018 6:07:12 PM IST"`` in the request's time zone. ``status`` is
``delivered`` (answered), ``failed`` (not answered; ``error_code`` is the dial
status) or ``rejected`` (DND). See docs/cdr.md.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dialer import metrics as _metrics
from dialer.numbers import seed_style
from dialer.store import db
from dialer.store.models import (
    Attempt,
    CallbackDelivery,
    CallbackTry,
    CallRequest,
    Campaign,
    Cdr,
    InboundNumber,
    utcnow,
)

log = logging.getLogger(__name__)

QUEUE_SUFFIX = "callbacks"
MAX_BACKOFF = 600.0
#: 4xx answers that mean "try again later" rather than "never".
RETRYABLE_4XX = {408, 425, 429}

READABLE = {
    "BUSY": "Busy",
    "NOANSWER": "No answer",
    "CANCEL": "Cancelled before answer",
    "CHANUNAVAIL": "Number unreachable",
    "CONGESTION": "Network congestion",
    "DND": "Number is on a DND list",
}

_local = threading.local()
_redis_lock = threading.Lock()
_redis_clients: dict[str, Any] = {}


def _settings():
    from config import settings

    return settings()


# ---------------------------------------------------------------- payloads


def konnect_time(value: datetime | None, tz_name: str | None) -> str:
    """A naive-UTC time in seed 000's callback format, e.g. ``"Nov 22, 2018 6:07:12 PM IST"``; "" for none."""
    if value is None:
        return ""
    try:
        zone = ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = value.replace(tzinfo=timezone.utc).astimezone(zone)
    hour = local.hour % 12 or 12
    return f"{local:%b} {local.day}, {local.year} {hour}:{local:%M:%S} {local:%p} {local.tzname()}"


def status_payload(row: Cdr, *, ref_id: str | None, tz_name: str | None, extra: dict | None = None) -> dict:
    """The status callback body for a completed CDR (seed 000's callback fields)."""
    if row.is_dnd:
        status, code, reason = "rejected", "DND", READABLE["DND"]
    elif row.dial_status == "ANSWER":
        status, code, reason = "delivered", "", ""
        if row.final_status == "error" or row.app_errors:
            code, reason = "APP_ERROR", str((row.app_errors or ["the IVR app failed"])[0])
    else:
        status, code = "failed", row.dial_status or "FAILED"
        reason = READABLE.get(code, "Call failed")
        if row.hangup_cause:
            reason = f"{reason} ({row.hangup_cause})"
    number = row.customer_number if row.call_type == "inbound" else row.dialed_number
    payload = {
        "ref_id": ref_id or row.attempt_id or row.uniqueid or str(row.id),
        "recipient": seed_style(number or ""),
        "caller_id": seed_style(row.caller_id or ""),
        "status": status,
        "price": "",
        "balance": "",
        "error_code": code,
        "error_reason": reason,
        "call_start_time": konnect_time(row.started_at, tz_name),
        "call_end_time": konnect_time(row.end, tz_name),
        "call_connect_time": konnect_time(row.answer, tz_name),
        "media_duration": "" if row.media_duration is None else f"{row.media_duration:g}",
        "key_pressed": row.dtmf_inputs or "",
        "media_url": ",".join(str(r.get("url") or "") for r in (row.recordings or []) if r.get("url")),
    }
    payload.update(extra or {})
    return payload


# ---------------------------------------------------------------- queuing (inside the caller's transaction)


def create_delivery(
    session: Session,
    *,
    url: str,
    payload: dict,
    kind: str = "status",
    account_id: str | None = None,
    request_id: str | None = None,
    cdr_id: int | None = None,
    dedupe_key: str | None = None,
) -> int:
    """Write a pending delivery; with ``dedupe_key`` a second call returns the first row's id."""
    if dedupe_key:
        existing = session.scalar(select(CallbackDelivery.id).where(CallbackDelivery.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    row = CallbackDelivery(
        url=url,
        payload=payload,
        kind=kind,
        account_id=account_id,
        request_id=request_id,
        cdr_id=cdr_id,
        dedupe_key=dedupe_key,
        status="pending",
        next_try_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent twin wrote it first
        return session.scalar(select(CallbackDelivery.id).where(CallbackDelivery.dedupe_key == dedupe_key))
    return row.id


def queue_status_callback(session: Session, row: Cdr, *, billing: dict | None = None) -> int | None:
    """Queue the status callback of a completed CDR if its request, campaign or inbound number has a URL.

    ``billing``: the call's ``price`` and ``balance`` (``billing.records.settle_cdr``), when it was priced.
    """
    url, tz_name, extra = None, None, dict(billing or {})
    # A campaign CDR's request_id is its campaign's id: no call_requests row to look for.
    request = session.get(CallRequest, row.request_id) if row.request_id and row.request_id != row.campaign_id else None
    if request is not None:
        url, tz_name = request.callback_url, request.time_zone
        if request.kind == "kairos" and request.idempotency_key:
            extra["client-identifier"] = request.idempotency_key
        if request.kind == "konnect" and request.idempotency_key:
            extra["id"] = request.idempotency_key
    if not url and row.campaign_id:
        campaign = session.get(Campaign, row.campaign_id)
        if campaign is not None:
            url, tz_name = campaign.callback_url, campaign.time_zone
    if not url and row.call_type == "inbound" and row.dialed_number:
        inbound = session.get(InboundNumber, row.dialed_number)
        if inbound is not None:
            url = inbound.callback_url
    if not url:
        return None
    attempt = session.get(Attempt, row.attempt_id) if row.attempt_id else None
    payload = status_payload(row, ref_id=attempt.ref_id if attempt else None, tz_name=tz_name, extra=extra)
    return create_delivery(
        session,
        url=url,
        payload=payload,
        kind="status",
        account_id=row.account_id,
        request_id=row.request_id,
        cdr_id=row.id,
        dedupe_key=f"status:{row.id}",
    )


def queue_accepted(
    session: Session,
    *,
    url: str,
    account_id: str,
    request_id: str,
    ref_ids: Iterable[tuple[str, str]],
    konnect_id: str | None = None,
) -> int:
    """Queue Konnect's asynchronous ``accepted`` callback: ``{"id", "status": "accepted", "ref_ids": [...]}``.

    ``ref_ids`` are ``(phone_number, ref_id)`` pairs; numbers are shown as the seed does (no ``+``).
    """
    payload: dict[str, Any] = {}
    if konnect_id is not None:
        payload["id"] = konnect_id
    payload["status"] = "accepted"
    payload["ref_ids"] = [{"phone_number": seed_style(n), "ref_id": r} for n, r in ref_ids]
    return create_delivery(
        session,
        url=url,
        payload=payload,
        kind="accepted",
        account_id=account_id,
        request_id=request_id,
        dedupe_key=f"accepted:{request_id}",
    )


# ---------------------------------------------------------------- RQ


def shared_redis(url: str):
    """The process's one Redis client for ``url`` (created on first use; safe to share between greenlets)."""
    import redis

    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None:
            client = _redis_clients[url] = redis.Redis.from_url(url)
        return client


def queue_for(cfg):
    """The RQ queue status callbacks go to: ``<prefix>-callbacks``."""
    from rq import Queue

    return Queue(f"{cfg.key_prefix}-{QUEUE_SUFFIX}", connection=shared_redis(cfg.redis_url))


def _job_kwargs(cfg) -> dict:
    # A worker reads its own configuration; pass ours only when it is not the process default (tests, tools).
    return {} if cfg is _settings() else {"cfg": cfg}


def enqueue(delivery_ids: Iterable[int], *, cfg=None, delay: float = 0.0) -> None:
    """Enqueue :func:`deliver` for each delivery (after the transaction that wrote them committed)."""
    cfg = cfg or _settings()
    queue = queue_for(cfg)
    for delivery_id in delivery_ids:
        if delay > 0:
            queue.enqueue_in(timedelta(seconds=delay), deliver, delivery_id, **_job_kwargs(cfg))
        else:
            queue.enqueue(deliver, delivery_id, **_job_kwargs(cfg))


def _http() -> requests.Session:
    session = getattr(_local, "http", None)
    if session is None:
        session = _local.http = requests.Session()
    return session


#: A payload ``{FORM: {...}}`` is posted as an HTML form (TwiML's transcribeCallback), any other as JSON.
FORM = "_form"


def _post(url: str, payload: dict, cfg) -> tuple[int | None, str | None]:
    """POST once: ``(status_code, None)`` when the receiver answered, ``(None, error)`` when it did not."""
    form = payload.get(FORM) if isinstance(payload, dict) else None
    body = {"data": form} if isinstance(form, dict) else {"json": payload}
    try:
        response = _http().post(
            url,
            **body,
            timeout=(cfg.callback_connect_timeout, cfg.callback_read_timeout),
            allow_redirects=False,
            stream=True,  # the body is not read: a receiver cannot make us download anything
        )
        response.close()
        return response.status_code, None
    except requests.Timeout:
        return None, "timed out"
    except requests.ConnectionError as exc:
        return None, f"connection failed: {exc.__class__.__name__}"
    except requests.RequestException as exc:
        return None, f"request failed: {exc}"


def deliver(delivery_id: int, cfg=None, *, wait: bool = False) -> dict:
    """RQ job: one try of a callback delivery; schedules the next try when this one fails.

    The try is claimed in SQL first, so a duplicate job does nothing. When
    other jobs are waiting on the worker's queues (``<prefix>-callbacks``,
    ``<prefix>-records``) and the process runs on gevent, the HTTP try runs
    in its own greenlet (at most :data:`MAX_IN_FLIGHT` at once) and the job
    returns at once, so the next job (another callback, a CDR merge) never
    waits behind a slow or dead receiver. With nothing waiting, the try runs
    in the job itself, so "job done" means "try made". A process that dies
    mid-try leaves the delivery ``sending`` until its lease runs out;
    :func:`requeue_due` then sends it again. ``wait=True`` always tries inline.
    """
    cfg = cfg or _settings()
    claim = _claim(delivery_id, cfg)
    if claim is None:
        return {"delivery_id": delivery_id, "skipped": True}
    if not wait and _cooperative() and _others_waiting(cfg):
        _in_flight().spawn(_try_once, claim, cfg)
        return {"delivery_id": delivery_id, "dispatched": True, "try": claim[3]}
    return _try_once(claim, cfg)


def _others_waiting(cfg) -> bool:
    """Whether jobs are queued behind this one on the queues a dialer worker serves."""
    try:
        client = shared_redis(cfg.redis_url)
        pipe = client.pipeline(transaction=False)
        from rq import Queue

        for suffix in (QUEUE_SUFFIX, "records"):
            pipe.llen(f"{Queue.redis_queue_namespace_prefix}{cfg.key_prefix}-{suffix}")
        return any(pipe.execute())
    except Exception:  # Redis trouble: dispatching keeps the worker free, which matters more then
        return True


#: Callback tries in flight at once in one process (further jobs wait for a free slot).
MAX_IN_FLIGHT = 200
_pool = None


def _cooperative() -> bool:
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("socket")


def _in_flight():
    global _pool
    if _pool is None:
        from gevent.pool import Pool

        _pool = Pool(MAX_IN_FLIGHT)
    return _pool


def drain(timeout: float | None = None) -> bool:
    """Wait for the callback tries in flight in this process; True when none is left (tests, shutdown)."""
    if _pool is None:
        return True
    return _pool.join(timeout=timeout)


def _claim(delivery_id: int, cfg) -> tuple[int, str, dict, int] | None:
    """Take the next try of a due, pending delivery: ``(id, url, payload, try_no)``, or None."""
    now = utcnow()
    lease = now + timedelta(seconds=cfg.callback_connect_timeout + cfg.callback_read_timeout + 30)
    with db.session_scope(cfg.sqlalchemy_url) as session:
        claimed = session.execute(
            update(CallbackDelivery)
            .where(
                CallbackDelivery.id == delivery_id,
                CallbackDelivery.status == "pending",
                or_(CallbackDelivery.next_try_at.is_(None), CallbackDelivery.next_try_at <= now),
            )
            .values(status="sending", attempts=CallbackDelivery.attempts + 1, next_try_at=lease)
        ).rowcount
        if not claimed:
            return None
        row = session.get(CallbackDelivery, delivery_id)
        return delivery_id, row.url, dict(row.payload), row.attempts


def _try_once(claim: tuple[int, str, dict, int], cfg) -> dict:
    """POST once, log the try, and settle the delivery: delivered, failed, or pending with its next try queued."""
    delivery_id, target, payload, try_no = claim
    started = time.monotonic()
    code, error = _post(target, payload, cfg)
    elapsed_ms = (time.monotonic() - started) * 1000
    if code is not None and not 200 <= code < 300:
        error = f"HTTP {code}"

    retry_in = None
    with db.session_scope(cfg.sqlalchemy_url) as session:
        session.add(CallbackTry(delivery_id=delivery_id, try_no=try_no, status_code=code, error=error, elapsed_ms=elapsed_ms))
        row = session.get(CallbackDelivery, delivery_id)
        row.last_status_code, row.last_error = code, error
        if error is None:
            row.status, row.delivered_at, row.next_try_at = "delivered", utcnow(), None
        elif (code is not None and 400 <= code < 500 and code not in RETRYABLE_4XX) or try_no >= cfg.callback_max_tries:
            row.status, row.next_try_at = "failed", None
        else:
            retry_in = min(cfg.callback_backoff * (2 ** (try_no - 1)), MAX_BACKOFF)
            row.status, row.next_try_at = "pending", utcnow() + timedelta(seconds=retry_in)
        status = row.status
    _metrics.callback_try("retry" if retry_in is not None else status, try_no, elapsed_ms / 1000)
    if retry_in is not None:
        try:
            enqueue([delivery_id], cfg=cfg, delay=retry_in)
        except Exception:  # Redis away: requeue_due finds the overdue delivery later
            log.warning("could not queue the retry of callback %s", delivery_id, exc_info=True)
    log.info("callback %s try %s to %s: %s", delivery_id, try_no, target, error or code)
    return {"delivery_id": delivery_id, "status": status, "try": try_no, "error": error}


def requeue_due(cfg=None, *, grace: float = 30.0, limit: int = 500) -> int:
    """Re-enqueue deliveries whose job was lost: pending and overdue by ``grace`` s, or a send whose lease ran out.

    Safe to run on every dialer periodically: a duplicate job finds the delivery claimed and does nothing.
    """
    cfg = cfg or _settings()
    cutoff = utcnow() - timedelta(seconds=grace)
    with db.session_scope(cfg.sqlalchemy_url) as session:
        ids = list(
            session.scalars(
                select(CallbackDelivery.id)
                .where(CallbackDelivery.status.in_(("pending", "sending")), CallbackDelivery.next_try_at < cutoff)
                .order_by(CallbackDelivery.id)
                .limit(limit)
            )
        )
        if ids:
            # A "sending" row past its lease belongs to a worker that died mid-try.
            session.execute(
                update(CallbackDelivery)
                .where(CallbackDelivery.id.in_(ids), CallbackDelivery.status == "sending")
                .values(status="pending")
            )
    enqueue(ids, cfg=cfg)
    return len(ids)


def delivery_report(session: Session, delivery_id: int) -> dict:
    """A delivery and its tries, for operators and tests."""
    row = session.get(CallbackDelivery, delivery_id)
    if row is None:
        raise ValueError(f"unknown callback delivery {delivery_id}")
    tries = session.scalars(select(CallbackTry).where(CallbackTry.delivery_id == delivery_id).order_by(CallbackTry.try_no))
    return {
        "id": row.id,
        "url": row.url,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "last_status_code": row.last_status_code,
        "payload": row.payload,
        "tries": [{"try": t.try_no, "status_code": t.status_code, "error": t.error} for t in tries],
    }

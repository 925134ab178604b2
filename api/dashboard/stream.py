"""Server-sent events that keep an open dashboard page up to date without reloading it.

Each page has one stream. Every STREAM_INTERVAL seconds the stream reads the page's data again
(:mod:`api.dashboard.data`), re-renders the page's changing parts with the same partial templates
the page was rendered with, and sends them, only when something changed, as one ``update`` event::

    event: update
    data: {"html": {"<element id>": "<its new inner HTML>", ...}, "data": {...}}

(``data`` carries what the chart plots). A comment line every KEEPALIVE seconds keeps proxies from
closing a quiet stream. A stream ends after STREAM_LIFETIME seconds and the browser's EventSource
reconnects by itself (``retry``), so the sign-in is checked again and no worker holds a stream forever.
The loop sleeps with ``time.sleep``, which gevent (the API's workers) turns into a cooperative wait.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import time
from typing import Any, Callable, Iterator

from flask import Response, get_template_attribute, request, stream_with_context, url_for

from api.dashboard import bp, data, signin

STREAM_INTERVAL = 1.0
KEEPALIVE = 15.0
STREAM_LIFETIME = 300.0
RETRY_MS = 1000

log = logging.getLogger("vaani.dashboard")


def _client_socket(environ: dict) -> socket.socket | None:
    """The client's socket, where the server shows it (gunicorn does; gevent's pywsgi through its input)."""
    sock = environ.get("gunicorn.socket")
    if sock is None:
        rfile = getattr(environ.get("wsgi.input"), "rfile", None)
        sock = getattr(getattr(rfile, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def client_gone(sock: socket.socket | None) -> bool:
    """True when the client has closed its side (a quiet stream would only notice at its next write)."""
    if sock is None:
        return False
    # gevent's socket would wait for data on EAGAIN: peek on the OS-level socket under it instead.
    raw = getattr(sock, "_sock", sock)
    try:
        return raw.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


def _fragment(template: str, macro: str, *args: Any) -> str:
    return str(get_template_attribute(template, macro)(*args))


def event(payload: dict[str, Any], name: str = "update") -> str:
    """One SSE message (``data`` is one line of JSON)."""
    return f"event: {name}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"


def sse(snapshot: Callable[[], dict[str, Any]]) -> Response:
    """A streaming response sending ``snapshot()`` whenever it changes (see the module doc)."""

    sock = _client_socket(request.environ)

    def generate() -> Iterator[str]:
        yield f"retry: {RETRY_MS}\n\n"
        started = last_sent = time.monotonic()
        digest = None
        while time.monotonic() - started < STREAM_LIFETIME and not client_gone(sock):
            try:
                payload = snapshot()
            except data.NotFound:
                yield event({"error": "not found"}, "gone")
                return
            except Exception as exc:  # the store or Redis failing: end; the browser reconnects in RETRY_MS
                log.warning("dashboard stream %s ended: %s", request.path, exc)
                yield event({"error": "temporarily unavailable"}, "failed")
                return
            text = event(payload)
            new = hashlib.sha256(text.encode()).digest()
            if new != digest:
                digest, last_sent = new, time.monotonic()
                yield text
            elif time.monotonic() - last_sent >= KEEPALIVE:
                last_sent = time.monotonic()
                yield ": keepalive\n\n"
            time.sleep(STREAM_INTERVAL)

    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@bp.get("/events/campaigns")
@signin.signed_in
def campaigns_events(account):
    """The campaigns page's stream: the table of campaigns with their progress bars."""
    account_id = account.id

    def snapshot() -> dict[str, Any]:
        rows = data.campaigns(account_id)
        return {"html": {"campaign-rows": _fragment("dashboard/_parts.html", "campaign_rows", rows)},
                "data": {"campaigns": [{"campaign_id": r["campaign_id"], "status": r["status"],
                                        "progress": r["progress"]} for r in rows]}}

    return sse(snapshot)


@bp.get("/events/campaigns/<campaign_id>")
@signin.signed_in
def campaign_events(account, campaign_id: str):
    """One campaign's stream: progress, rate, outcomes, live calls and agents."""
    account_id = account.id
    data.campaign_live(account_id, campaign_id)  # 404 before the stream starts
    page = url_for("dashboard.campaign", campaign_id=campaign_id)  # where the call buttons come back to

    def snapshot() -> dict[str, Any]:
        c = data.campaign_live(account_id, campaign_id)
        parts = "dashboard/_parts.html"
        return {"html": {"campaign-summary": _fragment(parts, "campaign_summary", c),
                         "campaign-actions": _fragment(parts, "campaign_actions", c),
                         "outcome-rows": _fragment(parts, "outcome_rows", c["outcomes"]),
                         "call-rows": _fragment(parts, "call_rows", c["calls"], page),
                         "agent-view": _fragment(parts, "agent_view", c["agents"])},
                "data": {"status": c["status"], "progress": c["progress"], "rate": c["rate"],
                         "calls_per_minute": c["calls_per_minute"], "live_calls": len(c["calls"])}}

    return sse(snapshot)


@bp.get("/events/calls")
@signin.signed_in
def calls_events(account):
    """The live-calls page's stream."""
    account_id = account.id
    page = url_for("dashboard.calls")

    def snapshot() -> dict[str, Any]:
        rows, counts = data.live_calls(account_id), data.live_counts(account_id)
        return {"html": {"call-rows": _fragment("dashboard/_parts.html", "call_rows", rows, page),
                         "live-counts": _fragment("dashboard/_parts.html", "live_counts", counts)},
                "data": {"live_calls": len(rows), "channels": [r["channel"] for r in rows], "counts": counts}}

    return sse(snapshot)

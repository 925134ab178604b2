"""Fixtures and builders shared by the store, records and callbacks tests (import what you use)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from config import load
from dialer.store import accounts, db
from tests.conftest import free_port


@pytest.fixture
def store(db_url):
    """A migrated, empty database (SQLite and PostgreSQL)."""
    db.init_db(db_url)
    yield db_url
    db.dispose(db_url)


@pytest.fixture
def cfg(store, redis_url, key_prefix):
    """Settings pointing at this test's database, Redis prefix and fast callback timings."""
    return load(
        {
            "DATABASE_URL": store,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": key_prefix,
            "CALLBACK_BACKOFF": "0",
            "CALLBACK_CONNECT_TIMEOUT": "1",
            "CALLBACK_READ_TIMEOUT": "0.5",
            "CALLBACK_MAX_TRIES": "3",
        }
    )


def make_account(url: str, account_id: str = "account_1", **kw):
    """Create an account; returns its plaintext secrets."""
    with db.session_scope(url) as s:
        return accounts.create_account(s, account_id, account_id=account_id, **kw)


def hangup_headers(uuid_: str, *, answered: bool = True, cause: str = "NORMAL_CLEARING", start: float = 1795329082.0,
                   ring: float = 3.0, talk: float = 4.12, spec=None, attempt_id=None, request_id=None,
                   destination="919979270001", caller="15168148111", direction="outbound") -> dict:
    """The URL-decoded headers of a CHANNEL_HANGUP_COMPLETE as FreeSWITCH 1.10.12 sends them (see the captures)."""
    us = lambda t: str(int(t * 1_000_000))  # noqa: E731
    answer = start + ring if answered else 0
    end = (answer + talk) if answered else start + ring
    h = {
        "Event-Name": "CHANNEL_HANGUP_COMPLETE",
        "Unique-ID": uuid_,
        "Call-Direction": direction,
        "Hangup-Cause": cause,
        "Caller-Destination-Number": destination,
        "Caller-Caller-ID-Number": caller,
        "Caller-Channel-Created-Time": us(start),
        "Event-Date-Timestamp": us(end),
        "FreeSWITCH-Switchname": "fs1",
        "variable_uuid": uuid_,
        "variable_start_uepoch": us(start),
        "variable_answer_uepoch": us(answer) if answered else "0",
        "variable_end_uepoch": us(end),
        "variable_billmsec": str(round(talk * 1000)) if answered else "0",
        "variable_billsec": str(int(talk)) if answered else "0",
        "variable_mduration": str(round((end - start) * 1000)),
        "variable_duration": str(int(end - start)),
        "variable_hangup_cause": cause,
    }
    if spec is not None:
        h["variable_vaani_call"] = spec.encode()
    if attempt_id:
        h["variable_vaani_attempt_id"] = attempt_id
    if request_id:
        h["variable_vaani_request_id"] = request_id
    return h


#: How often the receiver's serve_forever looks for shutdown(): its default, 0.5 s, was each test's teardown.
POLL = 0.05


class Receiver:
    """A real HTTP callback receiver on a free loopback port.

    ``plan[path]`` is a list of behaviours used one per request (the last repeats):
    an int status code, or ``("sleep", seconds)`` to answer 200 too late.
    """

    def __init__(self):
        self.port = free_port()
        self.received: list[tuple[str, dict]] = []
        self.plan: dict[str, list] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                steps = outer.plan.get(self.path, [200])
                n = sum(1 for p, _ in outer.received if p == self.path)
                step = steps[min(n, len(steps) - 1)]
                outer.received.append((self.path, json.loads(body or b"{}")))
                if isinstance(step, tuple):
                    time.sleep(step[1])
                    step = 200
                try:
                    self.send_response(step)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": POLL}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path: str) -> list[dict]:
        return [b for p, b in self.received if p == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def run_queue(cfg, suffix: str, rounds: int = 20) -> None:
    """Drain ``<prefix>-<suffix>`` with a real RQ SimpleWorker in burst mode, until no job (or retry) is left."""
    import redis
    from rq import Queue, SimpleWorker

    from dialer import callbacks

    conn = redis.Redis.from_url(cfg.redis_url)
    queue = Queue(f"{cfg.key_prefix}-{suffix}", connection=conn)
    for _ in range(rounds):
        worker = SimpleWorker([queue], connection=conn, name=f"w-{uuid.uuid4().hex[:8]}")
        worker.work(burst=True)
        # Callback tries run in their own greenlets and may queue a retry when they end.
        callbacks.drain(timeout=30)
        if queue.count == 0:
            break
    conn.close()


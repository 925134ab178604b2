"""CDR write throughput: both halves of each call (hangup event + IVR facts), and seed 002 query latency.

Figures per database (SQLite file in a temp dir; PostgreSQL when one answers at
TEST_POSTGRES_URL): calls recorded per second with each half in its own
transaction (as the listener and the records worker do), and the time of a
``get_cdr_by_date`` page of every record written and of ``get_cdr_statistics``.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid

import sqlalchemy as sa

from config import load
from dialer import cdr_reports, records
from dialer.store import accounts, db
from ivr.call_spec import CallFacts, CallSpec

CALLS = 600
PG_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def _headers(u: str, spec: CallSpec, start: float) -> dict:
    us = lambda t: str(int(t * 1e6))  # noqa: E731
    return {
        "Unique-ID": u, "Hangup-Cause": "NORMAL_CLEARING", "variable_vaani_call": spec.encode(),
        "variable_start_uepoch": us(start), "variable_answer_uepoch": us(start + 3),
        "variable_end_uepoch": us(start + 20), "variable_billmsec": "17000", "variable_mduration": "20000",
    }


def _run(url: str) -> dict:
    db.init_db(url)
    cfg = load({"DATABASE_URL": url, "REDIS_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:8]}"})
    with db.session_scope(url) as s:
        accounts.create_account(s, "bench", account_id="account_1")
    now = time.time()
    started = time.perf_counter()
    for i in range(CALLS):
        u = str(uuid.uuid4())
        spec = CallSpec(call_type="otp", account_id="account_1", request_id=f"r{i}", called_number="+919979270001")
        records.handle_channel_hangup(_headers(u, spec, now - 3600 + i), cfg=cfg)
        records.ivr_call_finished(CallFacts(uuid=u, call_type="otp", dtmf_inputs=["1"]).to_dict(), cfg=cfg)
    elapsed = time.perf_counter() - started
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    with db.session_scope(url) as s:
        t0 = time.perf_counter()
        page = cdr_reports.get_cdr_by_date(s, "account_1", day, day, record_count=CALLS)
        t1 = time.perf_counter()
        cdr_reports.get_cdr_statistics(s, "account_1")
        t2 = time.perf_counter()
    db.dispose(url)
    return {
        "calls_recorded_per_s": round(CALLS / elapsed, 1),
        "cdr_page_ms": round((t1 - t0) * 1000, 1),
        "cdr_page_rows": len(page),
        "statistics_ms": round((t2 - t1) * 1000, 1),
    }


def main() -> dict:
    """Figures for SQLite and, when available, PostgreSQL."""
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, v in _run(f"sqlite:///{tmp}/bench.db").items():
            figures[f"sqlite_{k}"] = v
    try:
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        name = f"vaani_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        figures["postgresql"] = f"skipped: {exc.__class__.__name__}"
        return figures
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        for k, v in _run(url).items():
            figures[f"postgresql_{k}"] = v
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
    return figures


if __name__ == "__main__":
    print(main())

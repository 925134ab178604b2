"""HTTP API throughput under the production server: gunicorn with gevent workers.

Measures, against ``gunicorn -c python:api.gunicorn_conf api.wsgi:app`` (gevent workers) on a free
loopback port (SQLite in WAL mode by default, PostgreSQL with
``BENCH_API_DATABASE=postgresql``), with the real Redis:

* ``single_submissions_per_s``: sustained Kairos submissions of one call each
  (every request a new payload and client-identifier, each answered 200 only
  once committed), from 32 concurrent keep-alive clients for
  ``BENCH_API_SECONDS`` (default 8) seconds;
* ``batch500_p50_ms`` / ``batch500_p99_ms``: latency of a 500-call Kairos
  batch (validation of 500 calls, one insert, 500 queued attempts), measured
  by one keep-alive client, ``BENCH_API_BATCHES`` (default 100) batches one
  after another; p99 is the nearest-rank percentile (with 100 batches, the
  second worst).

The wall-clock figures depend on what else the machine runs. Two figures do
not: ``server_cpu_ms_per_submission`` and ``server_cpu_ms_per_batch500``, the
CPU time the gunicorn processes spent (read from /proc) divided by the work
done. ``client_cpu_cores`` is how much CPU the load generator itself used
during the single-call phase (threads of this process with ``http.client``,
in a separate process from the server): well under 1.0 means it was not the
bottleneck. ``load_average`` is the machine's 1-minute load before the run.

Targets (issue 6): >= 500 submissions/s and <= 100 ms p99 for a 500-call batch.
A run takes well under a minute.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import datetime as dt
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import requests

# Run as a script too (python bench/bench_api.py): the repository root, for bench.*.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.procstat import group_cpu_seconds  # noqa: E402

#: Empty: what api.gunicorn_conf chooses (1 worker on SQLite, one per core on PostgreSQL).
WORKERS = os.environ.get("BENCH_API_WORKERS", "")
SECONDS = float(os.environ.get("BENCH_API_SECONDS", "8"))
CLIENTS = 32
BATCHES = int(os.environ.get("BENCH_API_BATCHES", "100"))


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    return values[max(0, min(len(values) - 1, math.ceil(q * len(values)) - 1))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database(tmp: str) -> tuple[str, callable]:
    if os.environ.get("BENCH_API_DATABASE", "sqlite") != "postgresql":
        return f"sqlite:///{tmp}/vaani.db", lambda: None
    import sqlalchemy as sa

    admin = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    name = f"vaani_bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                         {"n": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        engine.dispose()

    return admin.rsplit("/", 1)[0] + "/" + name, drop


def _start_time() -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).isoformat(timespec="milliseconds")


def _call(ident: str, n: int) -> dict:
    return {"client-identifier": ident, "start-time": _start_time(),
            "contact-numbers": [f"+9199{n % 100000000:08d}"], "keys": [{"name": "$flow.key.Name", "value": "x"}]}


def main() -> dict:
    """Run the benchmark; returns its figures."""
    from config import load
    from dialer.store import accounts, db

    tmp = tempfile.mkdtemp(prefix="bench-api-")
    db_url, drop_db = _database(tmp)
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    port = _free_port()
    env = {**os.environ, "DATA_DIR": tmp, "DATABASE_URL": db_url, "REDIS_KEY_PREFIX": prefix,
           "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(port),
           "FREESWITCH_NODES": f"127.0.0.1:{_free_port()}:ClueCon"}
    cfg = load(env)
    db.init_db(cfg.sqlalchemy_url)
    with db.session_scope(cfg.sqlalchemy_url) as s:
        acct = accounts.create_account(s, "bench", ip_allowlist=["127.0.0.0/8"])
        flow, security_id = accounts.create_flow(s, acct.account_id, "http://127.0.0.1:9/app.xml")
        flow_id = flow.id
    db.dispose(cfg.sqlalchemy_url)
    bin_dir = os.path.dirname(sys.executable)
    server = subprocess.Popen(
        [os.path.join(bin_dir, "gunicorn"), "-c", "python:api.gunicorn_conf", "--log-level", "warning",
         *(["--workers", WORKERS] if WORKERS else []), "api.wsgi:app"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}/kairos-apis/outbound/create"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start: {server.stderr.read().decode()[-500:]}")
            time.sleep(0.2)

        counter = iter(range(10**9))
        errors = []

        def client(stop_at: float) -> int:
            # http.client with keep-alive: a light client, so the figure measures the server.
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            done = 0
            while time.monotonic() < stop_at:
                n = next(counter)
                body = json.dumps({"api-version": "1.0", "security-id": security_id, "flow-id": flow_id,
                                   "calls": [_call(f"s-{n}", n)]})
                conn.request("POST", "/kairos-apis/outbound/create", body=body,
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                text = resp.read()
                if resp.status != 200:
                    errors.append(text[:200].decode(errors="replace"))
                done += 1
            conn.close()
            return done

        # Warm up the workers' pools, then measure.
        client(time.monotonic() + 1.0)
        load = os.getloadavg()[0]
        server_cpu0, client_cpu0 = group_cpu_seconds(server.pid), time.process_time()
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            total = sum(pool.map(client, [started + SECONDS] * CLIENTS))
        elapsed = time.monotonic() - started
        server_cpu = group_cpu_seconds(server.pid) - server_cpu0
        client_cores = (time.process_time() - client_cpu0) / elapsed
        single_rate = total / elapsed

        web = requests.Session()
        latencies = []
        bodies = [json.dumps({"api-version": "1.0", "security-id": security_id, "flow-id": flow_id,
                              "calls": [_call(f"b{b}-{i}", 5_000_000 + b * 1000 + i) for i in range(500)]})
                  for b in range(BATCHES)]
        batch_cpu0 = group_cpu_seconds(server.pid)
        for data in bodies:
            t0 = time.perf_counter()
            r = web.post(url, data=data, headers={"Content-Type": "application/json"}, timeout=60)
            latencies.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200 or r.json().get("status-name") != "SUCCESS":
                errors.append(r.text[:200])
        batch_cpu = group_cpu_seconds(server.pid) - batch_cpu0
        latencies.sort()
        return {
            "measures": (f"Kairos /outbound/create over keep-alive HTTP from a separate client process: "
                         f"{CLIENTS} clients posting 1-call submissions for {SECONDS:g} s, then {len(latencies)} "
                         f"500-call batches one at a time; every 200 is committed in SQL"),
            "server": f"gunicorn -c python:api.gunicorn_conf (gevent) workers={WORKERS or 'auto'}",
            "database": db_url.split(":", 1)[0],
            "load_average": round(load, 2),
            "single_submissions_per_s": round(single_rate, 1),
            "single_submissions_total": total,
            "server_cpu_ms_per_submission": round(server_cpu * 1000 / max(1, total), 2),
            "client_cpu_cores": round(client_cores, 2),
            "batches": len(latencies),
            "batch500_p50_ms": round(_percentile(latencies, 0.50), 1),
            "batch500_p99_ms": round(_percentile(latencies, 0.99), 1),
            "batch500_max_ms": round(latencies[-1], 1),
            "server_cpu_ms_per_batch500": round(batch_cpu * 1000 / max(1, len(latencies)), 1),
            "errors": len(errors),
            "first_error": errors[0] if errors else "",
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        import redis

        client = redis.Redis.from_url(cfg.redis_url)
        for pattern in (f"{prefix}*", f"rq:*{prefix}*"):
            for key in client.scan_iter(match=pattern, count=1000):
                client.delete(key)
        drop_db()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))

"""Dialer benchmarks: pacing accuracy, originate throughput against a bare ESL loop, campaign throughput.

1. **Pacing accuracy** at 60, 600 and 6,000 calls/min with 1 and 4 worker
   processes. All six points run at once for 61 s, each against its own
   campaign limiter in the real Redis (the limiter is what every dialer
   worker asks before each originate; a grant time is the instant the worker
   dials). Figures: achieved rate over the run vs the target, and the number
   of 60-second sliding windows holding more calls than the cap (an exact
   check: window violations exist iff grants i and i+cap are less than 60 s
   apart). One point also runs for real through the simulator: a campaign at
   600/min dialed by two dialer processes, its originates timed by the
   simulator's CHANNEL_CREATE events (20 s: rate and minimum spacing).
2. **Originate throughput**: the dialer engine (claim in SQL, pacing in Redis,
   originate over its ESL connection) with caps high enough not to bind,
   against a bare loop of ``bgapi originate`` on one raw ESL connection to
   the same simulator, in the same run. Target ratio ≥ 0.5. Both rates are
   measured the same way: the span of the channels the simulator created, as
   one monitoring connection saw their CHANNEL_CREATE events (the bare loop's
   rate of command replies is reported beside it), and the bare loop sends
   the very originates the dialer builds for the same numbers (same channel
   variables, same ``&socket`` application, same far-end behaviour), so the
   simulator does the same work per channel in both runs. For information,
   the rate of a loop of the cheapest originates (busy at once, ``&park()``;
   the yardstick of the first runs) and the ratio to it are reported too. The simulator runs with sps and max-sessions
   far above the measured rate, so no cap binds. ``BENCH_DIALER_ONLY=throughput`` runs (2) and (3) only.
3. **Campaign throughput**: contacts loaded → CDRs written, per second, for a
   campaign of short calls (simulator at speed 50).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from statistics import median

# Run as a script too (python bench/bench_dialer.py): the repository root, for bench.* and tests.*.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.procstat import cpu_seconds, peak_rss_mib  # noqa: E402

_PACER_WORKER = r"""
import json, sys, time, redis
from dialer.pacing import Pacer, Rate
url, prefix, key, cpm, until = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
p = Pacer(redis.Redis.from_url(url), prefix)
rate = [Rate.per_minute(p.rate_key("campaign", key), cpm)]
grants = []
while True:
    g = p.reserve(rate, horizon=0.5)
    if g.ok:
        if g.at >= until:
            break
        grants.append(g.at)
        time.sleep(g.wait)   # a dialer sleeps until its slot, then dials
    else:
        time.sleep(min(g.wait, 0.25))
print(json.dumps(grants))
"""


def window_violations(times: list[float], cap: int, window: float = 60.0) -> int:
    """How many sliding windows of ``window`` seconds hold more than ``cap`` calls (0 is the requirement)."""
    times = sorted(times)
    return sum(1 for i in range(len(times) - cap) if times[i + cap] - times[i] < window)


def achieved_per_minute(times: list[float]) -> float:
    """Calls per minute over the run (first to last call)."""
    times = sorted(times)
    if len(times) < 2:
        return 0.0
    return (len(times) - 1) * 60.0 / (times[-1] - times[0])


def pacing_grants(redis_url: str, prefix: str, duration: float = 61.0) -> dict:
    """Run the six pacing points at once in separate processes; returns figures per point."""
    import redis

    now = redis.Redis.from_url(redis_url).time()
    start = now[0] + now[1] / 1e6 + 1.0
    until = start + duration
    points = [(cpm, workers) for cpm in (60, 600, 6000) for workers in (1, 4)]
    procs = {}
    for cpm, workers in points:
        key = f"bench-{cpm}-{workers}"
        procs[(cpm, workers)] = [subprocess.Popen(
            [sys.executable, "-c", _PACER_WORKER, redis_url, prefix, key, str(cpm), str(until)],
            stdout=subprocess.PIPE, text=True) for _ in range(workers)]
    out = {}
    for (cpm, workers), ps in procs.items():
        grants = []
        for p in ps:
            stdout, _ = p.communicate(timeout=duration + 60)
            grants += json.loads(stdout)
        rate = achieved_per_minute(grants)
        out[f"pacing_{cpm}cpm_{workers}w"] = {
            "target_per_min": cpm, "achieved_per_min": round(rate, 2),
            "error_pct": round(100.0 * (rate - cpm) / cpm, 3), "calls": len(grants),
            "windows_over_cap": window_violations(grants, cpm)}
    return out


# ---------------------------------------------------------------------------
# Runs through the simulator
# ---------------------------------------------------------------------------

def _start_simulator(port: int, speed: float, extra: list[str] = ()) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "freeswitch.sim", "--host", "127.0.0.1", "--port", str(port),
                             "--speed", str(speed), *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(port)
    return proc


def _wait_port(port: int, timeout: float = 15.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(db_url: str, redis_url: str, prefix: str, port: int, ivr_port: int, **extra) -> dict:
    env = dict(os.environ)
    env.update({"DATABASE_URL": db_url, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": prefix,
                "FREESWITCH_NODES": f"127.0.0.1:{port}:ClueCon:100000:100000",
                "IVR_LISTEN": f"127.0.0.1:{ivr_port}", "DIALER_GATEWAY_CPS": "0"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


class _Monitor:
    """A raw ESL connection recording when CHANNEL_CREATE events arrive (the simulator created our calls)."""

    def __init__(self, port: int):
        from freeswitch.inbound import InboundClient

        self.times: list[float] = []
        self.client = InboundClient("127.0.0.1", port, "ClueCon", events=["CHANNEL_CREATE"],
                                    on_event=self._on)
        self.client.start()
        self.client.wait_connected(10)

    def _on(self, event):
        # Local receive time: the simulator's Event-Date-Timestamp runs on its sped-up clock.
        self.times.append(time.time())

    def stop(self):
        self.client.stop()


def _make_campaign(db_url: str, n: int, cpm: int, **kw) -> str:
    from tests.dialer.engine_helpers import make_campaign, numbers

    _, campaign_id = make_campaign(db_url, numbers(n), calls_per_minute=cpm, **kw)
    return campaign_id


def _worker_procs(n: int, env: dict) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-m", "dialer", "worker", "--no-jobs", "--log-level", "WARNING"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(n)]


def _stop(procs) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def _wait_workers(redis_url: str, prefix: str, n: int, timeout: float = 60.0) -> None:
    """Wait until ``n`` dialer workers beat (a worker needs seconds to import, migrate and connect)."""
    import redis

    r = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if r.zcount(f"{prefix}:dialer_workers", time.time() - 2, "+inf") >= n:
            return
        time.sleep(0.1)
    raise RuntimeError("dialer workers did not start")


def _cdr_count(db_url: str, campaign_id: str) -> int:
    import sqlalchemy as sa

    from dialer.store import db
    from dialer.store.models import Cdr

    with db.session_scope(db_url) as s:
        return s.execute(sa.select(sa.func.count()).select_from(Cdr).where(Cdr.campaign_id == campaign_id)).scalar()


def simulator_pacing(redis_url: str, prefix: str, tmp: str, seconds: float = 20.0) -> dict:
    """Campaign at 600/min through the simulator with two dialer processes; originate instants as it saw them."""
    from dialer import submit
    from config import load

    port, ivr = _free_port(), _free_port()
    db_url = f"sqlite:///{tmp}/pace.db"
    sim = _start_simulator(port, speed=20)
    env = _env(db_url, redis_url, prefix + "p", port, ivr)
    cfg = load(env)
    try:
        campaign_id = _make_campaign(db_url, 400, 600)
        monitor = _Monitor(port)
        workers = _worker_procs(2, env)
        _wait_workers(redis_url, env["REDIS_KEY_PREFIX"], 2)
        submit.start_campaign(campaign_id, cfg=cfg)
        time.sleep(seconds)
        submit.stop_campaign(campaign_id, cfg=cfg)
        times = sorted(monitor.times)
        monitor.stop()
        _stop(workers)
    finally:
        sim.terminate()
        sim.wait(10)
    gaps = [b - a for a, b in zip(times, times[1:])]
    return {"sim_600cpm_2w": {"target_per_min": 600, "achieved_per_min": round(achieved_per_minute(times), 2),
                              "calls": len(times), "min_gap_s": round(min(gaps), 4) if gaps else None,
                              "windows_over_cap_scaled_10s_100calls": window_violations(times, 100, 10.0)}}


def bare_commands(n: int, ivr_port: int, prefix: str) -> list[tuple[str, str]]:
    """The originates the dialer sends for the bench campaign's calls: (command, call uuid) pairs.

    Built by the dialer's own :class:`dialer.originate.Originate` for the same numbers, campaign kind and
    IVR address, under another key prefix (the dialer's listener ignores them), so the simulator does the
    same work per channel in both runs and the ratio compares the dialer's overhead, not two call kinds.
    """
    from dialer import campaigns
    from dialer.originate import Originate
    from dialer.store.models import Campaign
    from tests.dialer.engine_helpers import numbers

    camp = Campaign(id="CMbench", account_id="ACbench", list_id=1, campaign_type=0, announcement_text="Hello {field1}",
                    dynamic_announcement=True, caller_id="15168148111", repeat=1)
    out = []
    for i, number in enumerate(numbers(n)):
        call_uuid = str(uuid.uuid4())
        spec = campaigns.call_spec(camp, None, number, f"AT{i}")
        cmd = Originate(call_uuid=call_uuid, number=number, gateway="vaani_trunk", caller_id=camp.caller_id,
                        spec=spec, ivr_address=f"127.0.0.1:{ivr_port}", originate_timeout=60,
                        key_prefix=prefix, worker_id="bench-bare").command()
        out.append((cmd, call_uuid))
    return out


def bare_originate_rate(port: int, commands: list[tuple[str, str]]) -> float:
    """Originates per second (command replies) of a plain loop of ``bgapi originate`` on one ESL connection."""
    from freeswitch.inbound import InboundClient

    c = InboundClient("127.0.0.1", port, "ClueCon")
    c.start()
    c.wait_connected(10)
    t0 = time.monotonic()
    for command, call_uuid in commands:
        c.bgapi(command, job_uuid=call_uuid)
    elapsed = time.monotonic() - t0
    c.stop()
    return len(commands) / elapsed


def minimal_commands(n: int) -> list[tuple[str, str]]:
    """The cheapest originates there are (busy at once, parked): the previous yardstick, for information."""
    out = []
    for i in range(n):
        call_uuid = str(uuid.uuid4())
        out.append((f"originate {{origination_uuid={call_uuid},sim_outcome=busy,sim_ring=0}}"
                    f"sofia/gateway/vaani_trunk/+1666{i:07d} &park()", call_uuid))
    return out


def throughput(redis_url: str, prefix: str, tmp: str, n: int = int(os.environ.get("BENCH_DIALER_N", 2000))) -> dict:
    """(2) dialer vs bare originate loop, (3) contacts → CDRs per second; one simulator for both."""
    from dialer import submit
    from config import load

    port, ivr = _free_port(), _free_port()
    # The simulator's sps and max-sessions far above any rate measured here: FreeSWITCH's default sps 30
    # refuses every session past 29 a second, which would make this figure the simulator's cap.
    sim = _start_simulator(port, speed=50, extra=["--sps", "1000000", "--max-sessions", "1000000"])
    out = {}
    try:
        # Both rates on one yardstick: the span of the CHANNEL_CREATE events the simulator emitted, seen by
        # the same monitor connection (whose events the simulator pays for in both runs).
        monitor = _Monitor(port)
        reps = int(os.environ.get("BENCH_DIALER_REPS", 3))
        bares, acks, minimals, sim_bare, sim_minimal = [], [], [], [], []
        for _ in range(reps):  # this machine's runs vary by tens of percent: medians of several
            cpu0 = cpu_seconds(sim.pid)
            acks.append(bare_originate_rate(port, bare_commands(n, ivr, prefix + "bare")))
            deadline = time.monotonic() + 30
            while len(monitor.times) < n and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)  # let those channels end (their hangups are the simulator's work too)
            cpu1 = cpu_seconds(sim.pid)
            created = sorted(monitor.times)
            bares.append((len(created) - 1) / (created[-1] - created[0]) if len(created) > 1 else 0.0)
            monitor.times = []
            minimals.append(bare_originate_rate(port, minimal_commands(n)))
            time.sleep(1.0)  # let those channels end before the next run
            cpu2 = cpu_seconds(sim.pid)
            monitor.times = []
            if None not in (cpu0, cpu1, cpu2):
                sim_bare.append(1000 * (cpu1 - cpu0) / n)
                sim_minimal.append(1000 * (cpu2 - cpu1) / n)
        bare, minimal = median(bares), median(minimals)
        out["originate_bare_per_s"] = round(bare, 1)
        out["originate_bare_per_s_runs"] = [round(x, 1) for x in bares]
        out["originate_bare_acks_per_s"] = round(median(acks), 1)
        out["originate_bare_minimal_acks_per_s"] = round(minimal, 1)
        if sim_bare:
            out["sim_cpu_ms_per_channel_bare"] = round(median(sim_bare), 3)
            out["sim_cpu_ms_per_channel_minimal"] = round(median(sim_minimal), 3)
        counts = os.environ.get("BENCH_DIALER_WORKERS")
        for nworkers in ([int(counts)] if counts else [1, os.cpu_count() or 1]):
            runs = [_dialer_run(redis_url, f"{prefix}t{nworkers}r{i}", tmp, port, ivr, n, nworkers, monitor, sim.pid)
                    for i in range(reps)]
            rate = median([r["rate"] for r in runs])
            # 1 process: its own figures; more: the dialer spread over this machine's cores, as deployed.
            tag = "" if nworkers == 1 else f"_{nworkers}w"
            out[f"originate_dialer{tag}_per_s"] = rate
            out[f"originate_dialer{tag}_per_s_runs"] = [r["rate"] for r in runs]
            out[f"originate_ratio{tag}"] = round(rate / bare, 3)
            out[f"originate_ratio{tag}_vs_minimal"] = round(rate / minimal, 3)
            if None not in [r["sim_cpu_ms"] for r in runs]:
                out[f"sim_cpu_ms_per_channel_dialer{tag}"] = round(median([r["sim_cpu_ms"] for r in runs]), 3)
            peaks = [r["peak_rss_mib"] for r in runs if r["peak_rss_mib"] is not None]
            if peaks:
                out[f"dialer{tag}_worker_peak_rss_mib"] = max(peaks)
            out[f"campaign{tag}_contacts"] = n
            out[f"campaign{tag}_cdrs"] = min(r["cdrs"] for r in runs)
            out[f"campaign{tag}_contacts_to_cdr_per_s"] = median([r["cdr_rate"] for r in runs])
        monitor.stop()
    finally:
        sim.terminate()
        sim.wait(10)
    return out


def _dialer_run(redis_url: str, prefix: str, tmp: str, port: int, ivr: int, n: int, nworkers: int,
                monitor: "_Monitor", sim_pid: int) -> dict:
    """One campaign of ``n`` contacts dialed by ``nworkers`` dialer processes: originate rate and CDR rate."""
    from config import load
    from dialer import submit

    monitor.times = []
    db_url = f"sqlite:///{tmp}/{prefix}.db"
    env = _env(db_url, redis_url, prefix, port, ivr)
    cfg = load(env)
    campaign_id = _make_campaign(db_url, n, 1_000_000)
    workers = _worker_procs(nworkers, env)
    try:
        _wait_workers(redis_url, env["REDIS_KEY_PREFIX"], nworkers)
        cpu0 = cpu_seconds(sim_pid)
        t0 = time.monotonic()
        submit.start_campaign(campaign_id, cfg=cfg)
        deadline = t0 + 90
        while len(monitor.times) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        while _cdr_count(db_url, campaign_id) < n and time.monotonic() < deadline:
            time.sleep(0.2)
        cdr_elapsed = time.monotonic() - t0
        cpu1 = cpu_seconds(sim_pid)
        cdrs = _cdr_count(db_url, campaign_id)
        peak_rss = [peak_rss_mib(w.pid) for w in workers]
    finally:
        _stop(workers)
    # The dialer's originate rate over the span of its originates (as the simulator saw them).
    times = sorted(monitor.times)
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {"rate": round(rate, 1), "cdrs": cdrs, "cdr_rate": round(cdrs / cdr_elapsed, 1),
            "peak_rss_mib": max((x for x in peak_rss if x is not None), default=None),
            "sim_cpu_ms": round(1000 * (cpu1 - cpu0) / n, 3) if None not in (cpu0, cpu1) else None}


def main() -> dict:
    """Run the dialer benchmarks; returns the figures."""
    from gevent import monkey

    monkey.patch_all()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"bench-dialer-{uuid.uuid4().hex[:8]}"
    figures: dict = {}
    import gevent

    with tempfile.TemporaryDirectory() as tmp:
        try:
            if os.environ.get("BENCH_DIALER_ONLY") == "throughput":  # while iterating on the engine
                figures.update(throughput(redis_url, prefix, tmp))
                return figures
            grants = gevent.spawn(pacing_grants, redis_url, prefix)
            try:
                figures.update(simulator_pacing(redis_url, prefix, tmp))
            except Exception as exc:  # the grant-time figures still count
                figures["sim_600cpm_2w"] = f"failed: {exc}"
            figures.update(grants.get())
            figures.update(throughput(redis_url, prefix, tmp))
        finally:
            import redis

            r = redis.Redis.from_url(redis_url)
            for key in r.scan_iter(match=f"{prefix}*", count=1000):
                r.delete(key)
    return figures


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))

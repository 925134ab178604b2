"""What Prometheus metrics cost the dialer and the IVR runtime: the same loads with metrics on and off, one run.

Target: under 5 % of throughput each. "Off" is METRICS_ENABLED=0 (``prom.ON`` False: every
instrumentation helper returns at once, nothing is counted, no /metrics is served); "on" is the default,
with /metrics scraped during the run every ``BENCH_METRICS_SCRAPE_EVERY`` seconds (default 15, the
interval of the shipped deploy/prometheus.yml; 1 for the pessimistic side), from another process so that
only the rendering is charged to the measured one.

* **Dialer**: bench_dialer's campaign throughput — one dialer worker process dialling a campaign of
  ``BENCH_METRICS_DIALER_N`` contacts (default 2,000) with no cap binding, against the simulator at speed 50.
  Figures: originates a second (the span of the channels the simulator created, as bench_dialer measures
  it), contacts → CDRs a second, and the worker's CPU milliseconds per call.
* **IVR runtime**: bench_ivr's load, smaller and busier — ``BENCH_METRICS_IVR_CALLS`` calls (default 1,000)
  arriving at 100 a second, each running 2-second menus (500 menu completions a second at peak, each an
  app request and the next prompt) in the runtime in this process. Figures: the runtime's CPU
  milliseconds per call (its throughput is the inverse: calls per CPU second) and event→command p50/p99.

Both are end-to-end and, on a small shared machine, vary by more than 5 % from run to run whatever the
setting; so the instrumentation is also timed on its own, deterministically: the very helper calls one call
makes (one originate, its claim share, its events' lag, its answer and end for the dialer; set-up, each
menu's event→command spans and app fetch, the end for the runtime) in a tight loop, on and off, as
microseconds per call and as a percentage of the CPU one call costs with metrics off.

After one warm-up run of each (not counted), runs alternate on, off, off, on, ... (``BENCH_METRICS_REPS`` pairs, default 2 for the IVR and 3 for the
dialer) so that drift in the machine's load falls on both sides; figures are medians. The cost is
``(off − on) / off`` of throughput (calls a second; calls per CPU second), in percent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from statistics import median

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.procstat import cpu_seconds  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_PERCENT = 5.0

# Scrapes ``url`` every second until killed (the stand-in for Prometheus, in a process of its own).
_SCRAPER = r"""
import sys, time, urllib.request
url, every = sys.argv[1], float(sys.argv[2])
while True:
    try:
        urllib.request.urlopen(url, timeout=2).read()
    except Exception:
        pass
    time.sleep(every)
"""

#: Seconds between two scrapes while metrics are on.
SCRAPE_EVERY = float(os.environ.get("BENCH_METRICS_SCRAPE_EVERY", 15))


def _order(reps: int) -> list[bool]:
    """on, off, off, on, on, off, ... (ABBA): metrics on for True."""
    out: list[bool] = []
    for i in range(reps):
        out += [True, False] if i % 2 == 0 else [False, True]
    return out


def _scraper(url: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _SCRAPER, url, str(SCRAPE_EVERY)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _cost(on: float, off: float) -> float:
    """Throughput lost with metrics on, in percent of the throughput with them off."""
    return round(100.0 * (off - on) / off, 2) if off else 0.0


# -- the dialer -------------------------------------------------------------------------------------

def _dialer_once(redis_url: str, prefix: str, tmp: str, port: int, ivr: int, n: int, on: bool, monitor) -> dict:
    """One campaign of ``n`` contacts dialled by one worker process, metrics ``on`` or off."""
    from bench import bench_dialer as bd
    from config import load
    from dialer import submit

    monitor.times = []
    db_url = f"sqlite:///{tmp}/{prefix}.db"
    metrics_port = bd._free_port()
    env = bd._env(db_url, redis_url, prefix, port, ivr, METRICS_ENABLED="1" if on else "0",
                  DIALER_METRICS_PORT=str(metrics_port))
    cfg = load(env)
    campaign_id = bd._make_campaign(db_url, n, 1_000_000)
    workers = bd._worker_procs(1, env)
    scraper = None
    try:
        bd._wait_workers(redis_url, prefix, 1)
        if on:
            scraper = _scraper(f"http://127.0.0.1:{metrics_port}/metrics")
        cpu0 = cpu_seconds(workers[0].pid)
        t0 = time.monotonic()
        submit.start_campaign(campaign_id, cfg=cfg)
        deadline = t0 + 120
        while len(monitor.times) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        while bd._cdr_count(db_url, campaign_id) < n and time.monotonic() < deadline:
            time.sleep(0.2)
        elapsed = time.monotonic() - t0
        cpu1 = cpu_seconds(workers[0].pid)
        cdrs = bd._cdr_count(db_url, campaign_id)
    finally:
        if scraper is not None:
            scraper.kill()
            scraper.wait()
        bd._stop(workers)
    times = sorted(monitor.times)
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {"rate": rate, "cdr_rate": cdrs / elapsed, "cdrs": cdrs,
            "cpu_ms": 1000 * (cpu1 - cpu0) / n if None not in (cpu0, cpu1) else None}


def dialer(redis_url: str, tmp: str) -> dict:
    """The dialer's throughput with metrics on and off (see the module docs)."""
    from bench import bench_dialer as bd

    n = int(os.environ.get("BENCH_METRICS_DIALER_N", 2000))
    reps = int(os.environ.get("BENCH_METRICS_REPS", 3))
    port, ivr = bd._free_port(), bd._free_port()
    sim = bd._start_simulator(port, speed=50, extra=["--sps", "1000000", "--max-sessions", "1000000"])
    runs: dict[bool, list[dict]] = {True: [], False: []}
    try:
        monitor = bd._Monitor(port)
        # A warm-up campaign, not counted (the simulator's and SQLite's first run is slower), then the pairs.
        for i, on in enumerate([None] + _order(reps)):
            if on is None:
                prefix = f"bench-metrics-{uuid.uuid4().hex[:6]}-warm"
                _dialer_once(redis_url, prefix, tmp, port, ivr, min(n, 500), True, monitor)
                _cleanup(redis_url, prefix)
                continue
            prefix = f"bench-metrics-{uuid.uuid4().hex[:6]}-{i}"
            runs[on].append(_dialer_once(redis_url, prefix, tmp, port, ivr, n, on, monitor))
            _cleanup(redis_url, prefix)
            time.sleep(1.0)  # the last channels end before the next run
        monitor.stop()
    finally:
        sim.terminate()
        sim.wait(10)
    out: dict = {"dialer_contacts": n}
    for on, tag in ((True, "on"), (False, "off")):
        out[f"dialer_originates_per_s_metrics_{tag}"] = round(median(r["rate"] for r in runs[on]), 1)
        out[f"dialer_originates_per_s_metrics_{tag}_runs"] = [round(r["rate"], 1) for r in runs[on]]
        out[f"dialer_contacts_to_cdr_per_s_metrics_{tag}"] = round(median(r["cdr_rate"] for r in runs[on]), 1)
        cpu = [r["cpu_ms"] for r in runs[on] if r["cpu_ms"] is not None]
        if cpu:
            out[f"dialer_worker_cpu_ms_per_call_metrics_{tag}"] = round(median(cpu), 3)
        out[f"dialer_cdrs_metrics_{tag}"] = min(r["cdrs"] for r in runs[on])
    out["dialer_cost_percent_of_originate_rate"] = _cost(out["dialer_originates_per_s_metrics_on"],
                                                         out["dialer_originates_per_s_metrics_off"])
    out["dialer_cost_percent_of_cdr_rate"] = _cost(out["dialer_contacts_to_cdr_per_s_metrics_on"],
                                                   out["dialer_contacts_to_cdr_per_s_metrics_off"])
    if "dialer_worker_cpu_ms_per_call_metrics_on" in out and "dialer_worker_cpu_ms_per_call_metrics_off" in out:
        # Calls per CPU second: the throughput one core gives the dialer.
        out["dialer_cost_percent_of_calls_per_cpu_second"] = _cost(
            1 / out["dialer_worker_cpu_ms_per_call_metrics_on"], 1 / out["dialer_worker_cpu_ms_per_call_metrics_off"])
    return out


def _cleanup(redis_url: str, prefix: str) -> None:
    import redis

    r = redis.Redis.from_url(redis_url)
    for pattern in (f"{prefix}*", f"rq:*{prefix}*"):
        for key in r.scan_iter(match=pattern, count=1000):
            r.delete(key)


# -- the IVR runtime ----------------------------------------------------------------------------

def ivr() -> dict:
    """The IVR runtime's CPU per call and event→command latency with metrics on and off (see the module docs)."""
    import prom
    from bench import bench_ivr as bi
    from ivr import metrics as ivr_metrics

    calls = int(os.environ.get("BENCH_METRICS_IVR_CALLS", 1000))
    hold = float(os.environ.get("BENCH_METRICS_IVR_HOLD", 2))
    reps = int(os.environ.get("BENCH_METRICS_IVR_REPS", 2))
    saved = {k: os.environ.get(k) for k in ("BENCH_IVR_CALLS", "BENCH_IVR_HOLD")}
    saved_globals = (bi.CALLS, bi.RAMP, bi.HOLD, bi.STEPS)
    # The driver and app server are subprocesses (they read the environment); the runtime is bench_ivr's main.
    os.environ["BENCH_IVR_CALLS"], os.environ["BENCH_IVR_HOLD"] = str(calls), str(hold)
    bi.CALLS, bi.HOLD = calls, hold
    bi.RAMP = calls / bi.CPS
    bi.STEPS = steps = max(3, int(bi.RAMP // hold) + 1)
    runs: dict[bool, list[dict]] = {True: [], False: []}
    server = None
    try:
        prom.configure(True)
        bi.main()  # warm-up, not counted: the first run in a process pays imports, caches and the pool's growth
        for on in _order(reps):
            prom.configure(on)
            # What `ivr serve` shows: the runtime's own families (this process also holds the dialer's).
            server = prom.serve("127.0.0.1", bi._free_port(), name="bench ivr", only=ivr_metrics.OWN) if on else None
            scraper = _scraper(f"http://127.0.0.1:{server.server_port}/metrics") if server is not None else None
            counted = ivr_metrics.CALLS_FINISHED._value.get()
            try:
                figures = bi.main()
            finally:
                if scraper is not None:
                    scraper.kill()
                    scraper.wait()
                if server is not None:
                    server.stop(timeout=1)
            if on:
                # Counted, really: every call the runtime finished is in its Prometheus counter.
                figures["prometheus_calls_finished"] = ivr_metrics.CALLS_FINISHED._value.get() - counted
            runs[on].append(figures)
    finally:
        prom.configure(True)
        bi.CALLS, bi.RAMP, bi.HOLD, bi.STEPS = saved_globals
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out: dict = {"ivr_calls": calls, "ivr_seconds_per_menu": hold, "ivr_menus_per_call": steps}
    for on, tag in ((True, "on"), (False, "off")):
        rs = runs[on]
        out[f"ivr_runtime_cpu_ms_per_call_metrics_{tag}"] = round(median(r["runtime_cpu_ms_per_call"] for r in rs), 3)
        out[f"ivr_runtime_cpu_ms_per_call_metrics_{tag}_runs"] = [r["runtime_cpu_ms_per_call"] for r in rs]
        out[f"ivr_calls_finished_metrics_{tag}"] = min(r["calls_finished"] for r in rs)
        out[f"ivr_peak_concurrent_calls_metrics_{tag}"] = min(r["peak_concurrent_calls"] for r in rs)
        for p in ("p50_ms", "p99_ms"):
            vals = [r["event_to_command_ms"].get(p) for r in rs if r["event_to_command_ms"].get(p) is not None]
            if vals:
                out[f"ivr_event_to_command_{p}_metrics_{tag}"] = round(median(vals), 3)
    # Counted, really: the Prometheus counter saw every call of each run with metrics on (and none off).
    out["ivr_prometheus_calls_finished_per_on_run"] = [r["prometheus_calls_finished"] for r in runs[True]]
    out["ivr_cost_percent_of_calls_per_cpu_second"] = _cost(1 / out["ivr_runtime_cpu_ms_per_call_metrics_on"],
                                                            1 / out["ivr_runtime_cpu_ms_per_call_metrics_off"])
    return out


class _Attempt:
    """What the listener's side effects hand the dialer's helpers: an attempt's identifying fields."""

    call_type = "campaign"
    origination_uuid = ""
    hangup_cause = "NORMAL_CLEARING"
    dial_status = "ANSWER"
    fs_node = "127.0.0.1:8021"


def _dialer_call(i: int, a: _Attempt, events: int = 3, batch: int = 32) -> None:
    """The dialer's metric helper calls for one answered call (as engine.py and listener.py make them)."""
    from dialer import metrics as m

    if i % batch == 0:
        m.claimed(True, batch, 0.002)
        m.paced("CM-bench", 6000.0)
    m.sent(a.fs_node, "CM-bench", 1)
    now = time.monotonic()
    m.events_applied([now] * events)
    a.origination_uuid = str(i)
    m.call_answered(a)
    m.call_ended(a, True)


def _ivr_call(metrics, menus: int) -> None:
    """The runtime's metric calls for one call of ``menus`` app-driven menus (as ivr/call.py and fetch.py make them)."""
    from ivr import metrics as m

    metrics.count("calls_started")
    metrics.add("connect_to_first_request", 0.0005)
    m.fetched(0.002)
    for _ in range(menus):
        metrics.add("event_to_command", 0.0002)
        metrics.add("event_to_command_with_fetch", 0.0022)
        m.fetched(0.002)
    metrics.count("calls_finished")


def instrumentation(n: int = 50_000, menus: int = 6) -> dict:
    """Microseconds of metric work per call, on and off, timed alone (see the module docs)."""
    import prom
    from ivr.metrics import Metrics

    out: dict = {}
    try:
        for on, tag in ((True, "on"), (False, "off")):
            prom.configure(on)
            a = _Attempt()
            t0 = time.perf_counter()
            for i in range(n):
                _dialer_call(i, a)
            out[f"dialer_instrumentation_us_per_call_metrics_{tag}"] = round((time.perf_counter() - t0) / n * 1e6, 2)
            metrics = Metrics(size=1000)
            t0 = time.perf_counter()
            for _ in range(n):
                _ivr_call(metrics, menus)
            out[f"ivr_instrumentation_us_per_call_metrics_{tag}"] = round((time.perf_counter() - t0) / n * 1e6, 2)
    finally:
        prom.configure(True)
    return out


def main() -> dict:
    """Both benchmarks; returns the figures (and whether each cost is under the 5 % target)."""
    from gevent import monkey

    monkey.patch_all()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    figures: dict = {"target_percent": TARGET_PERCENT, "scrape_every_seconds": SCRAPE_EVERY}
    only = os.environ.get("BENCH_METRICS_ONLY", "")
    figures.update(instrumentation())
    if only in ("", "ivr"):
        figures.update(ivr())
        figures["ivr_instrumentation_percent_of_cpu_per_call"] = round(
            100 * (figures["ivr_instrumentation_us_per_call_metrics_on"]
                   - figures["ivr_instrumentation_us_per_call_metrics_off"])
            / (1000 * figures["ivr_runtime_cpu_ms_per_call_metrics_off"]), 2)
        # The target is about throughput, so it is judged end to end (calls per CPU second of the runtime),
        # not by the metric work alone, which is the lower bound printed beside it.
        figures["ivr_under_target"] = figures["ivr_cost_percent_of_calls_per_cpu_second"] < TARGET_PERCENT
    if only in ("", "dialer"):
        with tempfile.TemporaryDirectory() as tmp:
            figures.update(dialer(redis_url, tmp))
        off_cpu = figures.get("dialer_worker_cpu_ms_per_call_metrics_off")
        if off_cpu:
            figures["dialer_instrumentation_percent_of_cpu_per_call"] = round(
                100 * (figures["dialer_instrumentation_us_per_call_metrics_on"]
                       - figures["dialer_instrumentation_us_per_call_metrics_off"]) / (1000 * off_cpu), 2)
            figures["dialer_under_target"] = all(
                figures.get(k, 0.0) < TARGET_PERCENT for k in ("dialer_cost_percent_of_originate_rate",
                                                      "dialer_cost_percent_of_cdr_rate",
                                                      "dialer_cost_percent_of_calls_per_cpu_second"))
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))

"""``make run``: the whole stack on embedded defaults, supervised in one terminal.

Starts, in order, each part waiting for the previous one to accept connections:

1. Redis — the one at REDIS_URL, or a private one when none answers (see ``api.redis_server``);
2. the store — migrations applied, the seed's demo accounts created (secrets printed once);
3. the FreeSWITCH ESL simulator on the first FREESWITCH_NODES address (unless FREESWITCH_SIMULATOR=0,
   for a real FreeSWITCH configured with ``freeswitch/conf``);
4. the IVR runtime on IVR_LISTEN;
5. DIALER_WORKERS dialer processes;
   then the SMSC stand-in (unless SMSC_STANDIN=0, for a real SMSC) and SMS_WORKERS SMS workers (docs/sms.md);
6. the HTTP API on HTTP_HOST:HTTP_PORT (gunicorn with gevent workers, ``api/gunicorn_conf.py``).

Each child logs to ``DATA_DIR/log/<name>.log``. Ctrl-C (or SIGTERM, or the terminal closing) stops them all,
last started first, and the supervisor exits 0. Each child runs in a process group of its own, so that a
terminal's Ctrl-C, which goes to every process of the foreground group, reaches the supervisor alone: the API
stops before the dialers, the dialers before the IVR runtime and the switch, and each child gets exactly one
SIGTERM (children hit at once by the terminal, and again by the supervisor, died half-way with tracebacks).
If a child dies, the supervisor says which one, shows the end of its log and stops the rest: a half-running
platform that silently drops calls is worse than one that stops.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from api import redis_server
from config import Settings, settings


DEMO_SCENARIO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             "freeswitch", "sim", "demo_scenario.yaml")


@dataclass
class Child:
    """One supervised process of the stack."""

    name: str
    args: list[str]
    address: tuple[str, int] | None = None  # where it accepts connections once ready
    proc: subprocess.Popen | None = None
    log_path: str = ""
    env: dict[str, str] = field(default_factory=dict)
    metrics_url: str = ""  # its Prometheus /metrics (docs/metrics.md), when it serves one


def _bin(name: str) -> str:
    """A console script installed next to the running interpreter (the virtualenv's bin/)."""
    return os.path.join(os.path.dirname(sys.executable), name)


def _host_port(address: str, default_port: int) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return (host or "127.0.0.1", int(port or default_port))


def first_node(cfg: Settings) -> tuple[str, int, str]:
    """(host, port, password) of the first FreeSWITCH node in FREESWITCH_NODES."""
    first = cfg.freeswitch_nodes.split(",")[0].strip()
    parts = first.split(":")
    if len(parts) < 3:
        raise SystemExit(f"FREESWITCH_NODES: expected host:port:password, got {first!r}")
    return parts[0], int(parts[1]), parts[2]


def wait_listening(address: tuple[str, int], proc: subprocess.Popen, timeout: float = 30.0) -> bool:
    """Wait until something accepts TCP connections at ``address``; False if the process died first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(address, timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def tail(path: str, lines: int = 20) -> str:
    """The last lines of a log file, for telling the operator why a part stopped."""
    try:
        with open(path, "rb") as fh:
            return b"".join(fh.readlines()[-lines:]).decode(errors="replace")
    except OSError:
        return "(no log)"


def plan(cfg: Settings) -> list[Child]:
    """The processes of the stack, in start order."""
    children: list[Child] = []
    fs_host, fs_port, fs_password = first_node(cfg)
    ivr_host, ivr_port = _host_port(cfg.ivr_listen, 8084)
    if cfg.freeswitch_simulator:
        sim_args = [
            sys.executable, "-m", "freeswitch.sim",
            "--host", fs_host, "--port", str(fs_port), "--password", fs_password,
            "--speed", str(cfg.sim_speed),
            "--max-sessions", str(cfg.sim_max_sessions), "--sps", str(cfg.sim_sps),
            "--inbound-socket", cfg.ivr_address,
        ]
        # Without a scenario of the operator's, the demo one: callers hang up after 40 s, so a
        # click2call bridged between two simulated people ends, as it would between real ones.
        sim_args += ["--scenario", cfg.sim_scenario or DEMO_SCENARIO]
        children.append(Child("freeswitch-simulator", sim_args, (fs_host, fs_port)))
    metrics = cfg.metrics_enabled
    children.append(Child("ivr-runtime", [_bin("ivr"), "serve", "--listen", cfg.ivr_listen], (ivr_host, ivr_port),
                          metrics_url=_metrics_url(cfg, cfg.ivr_metrics_port) if metrics else ""))
    for n in range(max(1, cfg.dialer_workers)):
        # Each worker its own /metrics port: DIALER_METRICS_PORT, + 1, + 2, ...
        port = cfg.dialer_metrics_port + n if metrics and cfg.dialer_metrics_port else 0
        children.append(Child(f"dialer-{n + 1}", [sys.executable, "-m", "dialer", "worker", "--metrics-port", str(port)],
                              metrics_url=_metrics_url(cfg, port)))
    if cfg.smsc_standin:
        # The SMSC stand-in (sms/standin.py) on the SMPP address, before the SMS workers bind to it.
        standin = [sys.executable, "-m", "sms.standin", "--host", cfg.smpp_host, "--port", str(cfg.smpp_port)]
        children.append(Child("smsc-standin", standin, (cfg.smpp_host, cfg.smpp_port)))
    for n in range(max(1, cfg.sms_workers)):
        children.append(Child(f"sms-{n + 1}", [sys.executable, "-m", "sms", "worker"]))
    children.append(
        Child(
            "http-api",
            [
                _bin("gunicorn"), "-c", "python:api.gunicorn_conf", "--access-logfile", "-",
                "api.wsgi:app",
            ],
            (cfg.http_host, cfg.http_port),
            metrics_url=f"{cfg.base_url}/metrics" if metrics else "",
        )
    )
    return children


def _metrics_url(cfg: Settings, port: int) -> str:
    return f"http://{cfg.metrics_host}:{port}/metrics" if port else ""


class Stop(Exception):
    """A signal asked the supervisor to stop the stack."""


#: The signals that stop the stack: Ctrl-C, ``kill``, the terminal going away.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _on_stop_signal(signum, frame):
    # Installed for SIGINT too, instead of Python's KeyboardInterrupt, which Python only sets up when SIGINT
    # is not ignored: a job started in the background by a script inherits it ignored, and Ctrl-C (through
    # `script`, tmux, an IDE's terminal) would then do nothing. Later signals are ignored: the stop is under way.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise Stop(signal.Signals(signum).name)


#: Seconds a child gets to stop after SIGTERM before it is killed (gunicorn's graceful_timeout is 10).
STOP_TIMEOUT = 12.0


def stop_all(children: list[Child], timeout: float = STOP_TIMEOUT) -> bool:
    """Stop every started child, last started first, each with SIGTERM; kill one that outlasts ``timeout``.

    One after the other, so that nothing loses what it still depends on while stopping: the API goes before
    the dialers, the dialers before the IVR runtime and the switch they talk to. Says which child did not
    stop cleanly (killed, or a non-zero exit status); True when every one did.
    """
    clean = True
    for child in reversed(children):
        if child.proc is None or child.proc.poll() is not None:
            continue
        child.proc.terminate()
        try:
            status = child.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"{child.name} did not stop within {timeout:g} s; killed", file=sys.stderr, flush=True)
            child.proc.kill()
            child.proc.wait()
            clean = False
            continue
        if status != 0:
            how = f"signal {-status}" if status < 0 else f"status {status}"
            print(f"{child.name} stopped with {how}; end of {child.log_path}:", file=sys.stderr, flush=True)
            print(tail(child.log_path), file=sys.stderr, flush=True)
            clean = False
    return clean


def prepare_store_and_accounts() -> int:
    """Apply migrations and create the demo accounts (printing their secrets); the exit status."""
    # Its own process group, like the children: a Ctrl-C during start-up is the supervisor's to handle.
    return subprocess.run([_bin("vaani"), "demo-accounts"], check=False, process_group=0).returncode


def main() -> int:
    """Run the stack until interrupted; returns the exit status."""
    cfg = settings()
    for sub in ("log", "redis", cfg.recordings_dir, cfg.upload_dir):
        os.makedirs(cfg.path(sub), exist_ok=True)
    log_dir = cfg.path("log")
    started: list[Child] = []
    redis_proc = None
    status = 1

    for sig in STOP_SIGNALS:
        signal.signal(sig, _on_stop_signal)
    try:
        if redis_server.ping(cfg.redis_url):
            print(f"redis           using the one at {cfg.redis_url}")
        else:
            try:
                redis_proc = redis_server.start_private_redis(
                    cfg.redis_url, cfg.path("redis"), os.path.join(log_dir, "redis.log")
                )
            except redis_server.RedisUnavailable as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            print(f"redis           started a private one at {cfg.redis_url} (pid {redis_proc.pid})")

        if prepare_store_and_accounts() != 0:
            print("error: could not prepare the store; see the message above", file=sys.stderr)
            return 1

        for child in plan(cfg):
            child.log_path = os.path.join(log_dir, f"{child.name}.log")
            log = open(child.log_path, "ab")
            started.append(child)  # before it exists: a stop signal from now on must find it
            child.proc = subprocess.Popen(
                child.args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **child.env},
                process_group=0,  # out of the terminal's foreground group: the supervisor stops it (see above)
            )
            if child.address and not wait_listening(child.address, child.proc):
                print(f"error: {child.name} did not start; end of {child.log_path}:", file=sys.stderr)
                print(tail(child.log_path), file=sys.stderr)
                return 1
            where = f"{child.address[0]}:{child.address[1]}" if child.address else "-"
            print(f"{child.name:<15} pid {child.proc.pid:<7} {where:<22} log {child.log_path}", flush=True)

        scrape = [f"{c.name} {c.metrics_url}" for c in started if c.metrics_url]
        if scrape:
            print("\nPrometheus metrics (deploy/prometheus.yml scrapes them): " + ", ".join(scrape), flush=True)
        print(f"\nThe API is at {cfg.base_url} (OpenAPI: {cfg.base_url}/openapi.json; the dashboard: "
              f"{cfg.base_url}/dashboard/, signed in with an account id and its auth). Ctrl-C stops everything.",
              flush=True)
        while True:
            for child in started:
                if child.proc.poll() is not None:
                    print(f"error: {child.name} exited with status {child.proc.returncode}; "
                          f"end of {child.log_path}:", file=sys.stderr)
                    print(tail(child.log_path), file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except Stop:
        print("\nstopping ...", flush=True)
        status = 0
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        if not stop_all(started):
            status = 1
        if redis_proc and redis_proc.poll() is None:
            redis_proc.terminate()
            redis_proc.wait(5)
    return status


if __name__ == "__main__":
    raise SystemExit(main())

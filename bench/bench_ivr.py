"""IVR runtime under load: many concurrent calls held in one runtime process.

Three processes on loopback, so the runtime's figures are its own:

* the FreeSWITCH simulator (``python -m freeswitch.sim``) originates CALLS calls,
  each connected to the runtime's outbound socket (``socket ... async full``);
* a local KooKoo app server (this module run with ``--app-server PORT``) that
  answers every request at once: each call runs STEPS digit prompts (a short
  prompt, a 3-second digit timeout, nobody presses) chained with ``gotourl``,
  then hangs up, so every call stays up for about 15 seconds;
* the runtime itself, in this process.

Figures come from the runtime's own monotonic timestamps (``ivr.metrics``):
``event_to_command`` (a completion read off the socket → the next command
written, minus the app's response time) and ``connect_to_first_request``
(connection accepted → first app request sent). Memory per call is the RSS
growth at peak concurrency divided by the calls alive then.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402

CALLS = int(os.environ.get("BENCH_IVR_CALLS", "2000"))
STEPS = 4
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- the app server (child process) -----------------------------------------------------------

def _app_server(port: int) -> None:
    from gevent.pywsgi import WSGIServer

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "/")
        step = int(path.rsplit("/", 1)[-1]) if path.rsplit("/", 1)[-1].isdigit() else 0
        if step >= STEPS:
            body = b"<response><playtext>Goodbye</playtext><hangup/></response>"
        else:
            body = (f'<response><collectdtmf l="1" o="3000"><playtext>Step {step}</playtext></collectdtmf>'
                    f'<gotourl>http://127.0.0.1:{port}/ivr/{step + 1}</gotourl></response>').encode()
        start_response("200 OK", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
        return [body]

    WSGIServer(("127.0.0.1", port), app, log=None, error_log=None, backlog=4096).serve_forever()


# -- helpers ------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


class _Originator:
    """An inbound ESL connection that fires ``bgapi originate`` and discards the replies."""

    def __init__(self, host: str, port: int, password: str = "ClueCon"):
        from freeswitch import wire

        self.wire = wire
        self.sock = socket.create_connection((host, port))
        self.rfile = self.sock.makefile("rb")
        wire.read_frame(self.rfile)
        self.sock.sendall(wire.encode_command(f"auth {password}"))
        wire.read_frame(self.rfile)
        self.replies = 0
        self.reader = gevent.spawn(self._drain)

    def _drain(self) -> None:
        while self.wire.read_frame(self.rfile) is not None:
            self.replies += 1

    def originate(self, number: str, variables: str, app: str) -> None:
        self.sock.sendall(self.wire.encode_command(f"bgapi originate {{{variables}}}sofia/gateway/bench/{number} {app}"))

    def close(self) -> None:
        self.reader.kill(block=False)
        self.sock.close()


# -- the benchmark ---------------------------------------------------------------------------------

def main() -> dict:
    """Run the load and return the figures."""
    from config import load
    from freeswitch.sim.process import SimulatorProcess
    from ivr.call_spec import CallSpec
    from ivr.runtime import build_runtime
    from ivr.server import IvrServer

    app_port = _free_port()
    app_proc = subprocess.Popen([sys.executable, "-m", "bench.bench_ivr", "--app-server", str(app_port)],
                                cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    sim = SimulatorProcess(speed=1.0, max_sessions=CALLS + 500, sps=max(100, CALLS), log_level="ERROR")
    server = None
    originator = None
    try:
        _wait_port(app_port)
        sim.start()
        settings = load({"REDIS_KEY_PREFIX": "bench-ivr", "APP_CONNECT_TIMEOUT": "3", "APP_READ_TIMEOUT": "10"})
        runtime = build_runtime(settings, report=False)
        server = IvrServer(runtime, "127.0.0.1:0").start()
        app_url = f"http://127.0.0.1:{app_port}/ivr/0"
        spec = CallSpec(call_type="campaign", app_url=app_url).encode()
        gevent.sleep(0.2)
        rss_before = _rss_bytes()
        originator = _Originator(sim.host, sim.port)
        started = time.monotonic()
        socket_app = f"&socket('{server.address} async full')"
        for i in range(CALLS):
            originator.originate(f"9199{i:08d}", f"vaani_call={spec},ignore_early_media=true", socket_app)
            if i % 200 == 199:
                gevent.sleep(0)  # let the runtime accept while we fire
        peak, peak_rss, ramp_seconds = 0, rss_before, None
        deadline = started + 110
        while time.monotonic() < deadline:
            gevent.sleep(0.1)
            live = len(runtime.calls)
            if live > peak:
                peak, peak_rss = live, _rss_bytes()
                if peak >= CALLS and ramp_seconds is None:
                    ramp_seconds = round(time.monotonic() - started, 2)
            finished = runtime.metrics.counters.get("calls_finished", 0)
            if finished >= CALLS or (finished and not runtime.calls and time.monotonic() - started > 30):
                break
        summary = runtime.metrics.summary()
        counters = dict(runtime.metrics.counters)
        return {
            "calls_originated": CALLS,
            "calls_started": counters.get("calls_started", 0),
            "calls_finished": counters.get("calls_finished", 0),
            "calls_failed_fetch": counters.get("fetch_failed", 0),
            "peak_concurrent_calls": peak,
            "seconds_to_peak": ramp_seconds,
            "wall_seconds": round(time.monotonic() - started, 1),
            "event_to_command_ms": summary.get("event_to_command", {}),
            "connect_to_first_request_ms": summary.get("connect_to_first_request", {}),
            "connect_to_first_request_without_fs_replies_ms": summary.get("connect_to_first_request_own", {}),
            "memory_per_call_kib": round((peak_rss - rss_before) / max(1, peak) / 1024, 1),
            "targets": {"concurrent_calls": 2000, "event_to_command_p99_ms": 10, "connect_to_first_request_p99_ms": 5},
        }
    finally:
        if originator is not None:
            originator.close()
        if server is not None:
            server.stop(timeout=1)
        sim.stop()
        app_proc.terminate()
        try:
            app_proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            app_proc.kill()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--app-server":
        _app_server(int(sys.argv[2]))
    else:
        import json

        print(json.dumps(main(), indent=2))

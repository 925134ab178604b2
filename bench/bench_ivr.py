"""IVR runtime under load: many concurrent calls held in one runtime process.

Three processes on loopback, so that the runtime's figures are its own:

* a FreeSWITCH-side driver (this module with ``--fs-driver``) that opens one
  outbound-socket connection per call to the runtime and answers it as
  FreeSWITCH 1.10.12 does, byte for byte from the captures in
  ``/work/shared/freeswitch-wire`` (the ``connect`` reply's channel data,
  ``+OK`` replies, CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE events with the
  ``Application-UUID`` of each ``sendmsg``, hangup events, the linger notice).
  The Python simulator models far more (callers, media, bridges) and cannot
  drive 2,000 simultaneous calls on a small machine by itself, so the bench
  uses this lean peer; the end-to-end tests use the simulator;
* a local KooKoo app server (``--app-server``) that answers every request at
  once: each call runs STEPS digit prompts (the driver completes each
  ``play_and_get_digits`` after HOLD seconds with no digit) chained with
  ``gotourl``, then hangs up — every call stays up for about STEPS × HOLD s;
* the runtime itself, in this process.

Load shape: calls arrive at CPS set-ups a second (100, the top of what a
FreeSWITCH ``sessions-per-second`` limit lets through in practice; 30 is its
default), on a fixed schedule, and each lasts longer than the ramp, so all
CALLS are held at once for the last menu period (2,000 calls: 20 s ramp, three
10-second menus). At peak the runtime sees CALLS / HOLD menu completions a
second, each answered with an app request and the next prompt.

Figures come from the runtime's own monotonic timestamps (``ivr.metrics``):
``event_to_command`` (a completion read off the socket → the next command
written, minus the app's response time) and ``connect_to_first_request``
(connection accepted → first app request sent, including the runtime's
``connect``/``myevents``/``linger`` round trips);
``event_to_command_with_app_fetch`` is the first span without subtracting the
app request (the local app answers at once, so this bounds the runtime's HTTP
client cost too). The peers' CPU is reported: on a 2-core machine it is CPU
the runtime does not get. Memory per call is the RSS
growth at peak concurrency divided by the calls alive then.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import gc  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402

# Run as a script too (python bench/bench_ivr.py): the repository root, for bench.*.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.procstat import cpu_seconds  # noqa: E402

CALLS = int(os.environ.get("BENCH_IVR_CALLS", "2000"))
# Call set-ups a second. A real switch never hands the runtime 2,000 connections in one instant: FreeSWITCH
# admits new channels at `sessions-per-second` (30 in the vanilla and shipped switch.conf; large installs
# raise it to ~100). The bench arrives at 100 a second, the top of that range, on a fixed schedule
# (connection i opens at i / CPS s, so a stalled driver catches up rather than silently slowing down).
CPS = float(os.environ.get("BENCH_IVR_CPS", "100"))
RAMP = CALLS / CPS    # seconds until every call is up (20 s for 2,000)
HOLD = float(os.environ.get("BENCH_IVR_HOLD", "10"))  # seconds each digit prompt plays and waits: a typical menu
# Enough menus that the first call is still up when the last one arrives: all CALLS are held together.
STEPS = max(3, int(RAMP // HOLD) + 1)
# The peers stand for other machines (FreeSWITCH's box, the customer's web server): on a small shared
# machine they run at a lower priority so that their CPU is not taken from the runtime being measured.
PEER_NICE = int(os.environ.get("BENCH_IVR_PEER_NICE", "10"))
CAPTURES = os.environ.get("FREESWITCH_CAPTURES", "/work/shared/freeswitch-wire")
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

    class Server(WSGIServer):
        def handle(self, sock, address):
            # pywsgi writes the status line and headers, then the body, in two sends: with Nagle on, the
            # body waits for the runtime's delayed ACK (~40 ms a request) — no app "answering at once".
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle(sock, address)

    Server(("127.0.0.1", port), app, log=None, error_log=None, backlog=4096).serve_forever()


# -- the FreeSWITCH side (child process) ------------------------------------------------------

def _fs_driver(address: str, calls: int, spec: str) -> None:
    """Open ``calls`` outbound-socket sessions to the runtime and play FreeSWITCH's part in each."""
    import uuid as uuidlib

    from freeswitch import wire

    host, port = address.rsplit(":", 1)
    connect_tpl = open(os.path.join(CAPTURES, "30_outbound_async_connect_reply.bin"), "rb").read()
    complete = wire.split_frames(open(os.path.join(CAPTURES, "evplain_CHANNEL_EXECUTE_COMPLETE.bin"),
                                      "rb").read())[0].body
    execute = wire.split_frames(open(os.path.join(CAPTURES, "evplain_CHANNEL_EXECUTE.bin"), "rb").read())[0].body
    # The captured events end with their application headers; ours are appended per sendmsg.
    complete_head = complete.rstrip(b"\n").rsplit(b"\nApplication", 1)[0] + b"\n"
    execute_head = execute.rstrip(b"\n").rsplit(b"\nApplication", 1)[0] + b"\n"
    ok = wire.command_reply("+OK")
    captured_uuid = wire.split_frames(connect_tpl)[0].headers["Unique-ID"].encode()

    def event(head: bytes, app: str, app_uuid: str, extra: str = "") -> bytes:
        payload = head + (f"Application: {app}\nApplication-UUID: {app_uuid}\n{extra}\n").encode()
        return wire.event_frame(payload)

    def session() -> None:
        sock = socket.create_connection((host, int(port)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rfile = sock.makefile("rb")
        call_uuid = str(uuidlib.uuid4())
        reply = connect_tpl.replace(captured_uuid, call_uuid.encode()).replace(b"\nContent-Type: command/reply",
                                    f"\nvariable_vaani_call: {spec}\nContent-Type: command/reply".encode())
        try:
            while True:
                frame = wire.read_frame(rfile, command=True)
                if frame is None:
                    return
                cmd = frame.headers.get("Command", "")
                h = frame.headers
                if cmd == "connect":
                    sock.sendall(reply)
                elif cmd == "sendmsg" and h.get("call-command") == "execute":
                    app, app_uuid = h.get("execute-app-name", ""), h.get("Event-UUID", "")
                    sock.sendall(ok + event(execute_head, app, app_uuid))
                    if app == "play_and_get_digits":
                        # A menu that timed out with no digit, as FreeSWITCH reports it (the real switch's
                        # socket_play_and_get_digits_timeout capture): read_result=timeout. Without it the
                        # runtime takes the prompt for unplayable and ends the menu at once, and the calls
                        # were never all held together.
                        gevent.spawn_later(HOLD, sock.sendall, event(complete_head, app, app_uuid,
                                                                     "variable_vaani_digits: \n"
                                                                     "variable_read_result: timeout\n"))
                    else:
                        sock.sendall(event(complete_head, app, app_uuid))
                elif cmd == "sendmsg" and h.get("call-command") == "hangup":
                    sock.sendall(ok)
                    done = complete_head.replace(b"Event-Name: CHANNEL_EXECUTE_COMPLETE",
                                                 b"Event-Name: CHANNEL_HANGUP_COMPLETE")
                    sock.sendall(wire.event_frame(done + b"Hangup-Cause: NORMAL_CLEARING\n\n")
                                 + wire.linger_notice(call_uuid, "sofia/external/bench"))
                else:
                    sock.sendall(ok)
        except OSError:
            pass
        finally:
            sock.close()

    greenlets = []
    began = time.monotonic()
    for i in range(calls):
        greenlets.append(gevent.spawn(session))
        gevent.sleep(max(0.0, began + (i + 1) / CPS - time.monotonic()))
    gevent.joinall(greenlets)


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


# -- the benchmark ---------------------------------------------------------------------------------

def main() -> dict:
    """Run the load and return the figures."""
    from config import load
    from ivr.call_spec import CallSpec
    from ivr.runtime import build_runtime, tune_gc
    from ivr.server import IvrServer

    env = dict(os.environ, PYTHONPATH=ROOT)
    app_port = _free_port()
    app_proc = subprocess.Popen([sys.executable, "-m", "bench.bench_ivr", "--app-server", str(app_port)],
                                cwd=ROOT, env=env)
    server = driver = None
    try:
        _wait_port(app_port)
        settings = load({"REDIS_KEY_PREFIX": "bench-ivr", "APP_CONNECT_TIMEOUT": "3", "APP_READ_TIMEOUT": "10"})
        runtime = build_runtime(settings, report=False)
        server = IvrServer(runtime, "127.0.0.1:0").start()
        tune_gc()  # as `ivr serve` does
        spec = CallSpec(call_type="campaign", app_url=f"http://127.0.0.1:{app_port}/ivr/0").encode()
        gevent.sleep(0.2)
        pauses: list[float] = []
        full_pauses: list[float] = []

        def gc_watch(phase, info, _start=[0.0]):
            if phase == "start":
                _start[0] = time.perf_counter()
            else:
                pauses.append(time.perf_counter() - _start[0])
                if info.get("generation") == 2:
                    full_pauses.append(pauses[-1])

        gc.callbacks.append(gc_watch)
        rss_before = _rss_bytes()
        load_at_start = [round(x, 2) for x in os.getloadavg()]
        cpu_before = time.process_time()
        started = time.monotonic()
        driver = subprocess.Popen([sys.executable, "-m", "bench.bench_ivr", "--fs-driver", server.address,
                                   str(CALLS), spec], cwd=ROOT, env=env)
        peak, peak_rss, ramp_seconds, ramp_summary = 0, rss_before, None, {}
        deadline = started + RAMP + STEPS * HOLD + 60
        while time.monotonic() < deadline:
            gevent.sleep(0.1)
            live = len(runtime.calls)
            if live > peak:
                peak, peak_rss = live, _rss_bytes()
                if peak >= CALLS and ramp_seconds is None:
                    ramp_seconds = round(time.monotonic() - started, 2)
                    # From here on every call is up: the figures that follow are "at that load".
                    ramp_summary = runtime.metrics.summary()
                    runtime.metrics.samples.pop("event_to_command", None)
                    runtime.metrics.samples.pop("event_to_command_with_fetch", None)
            if runtime.metrics.counters.get("calls_finished", 0) >= CALLS or driver.poll() is not None:
                break
        summary = runtime.metrics.summary()
        counters = dict(runtime.metrics.counters)
        peers_cpu = {"fs_driver": cpu_seconds(driver.pid), "app_server": cpu_seconds(app_proc.pid)}
        return {
            "machine": {"cpus": os.cpu_count(), "load_average_at_start": load_at_start,
                        "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
            "calls": CALLS,
            "load_shape": {"call_setups_per_second": CPS, "ramp_seconds": RAMP,
                           "menus_per_call": STEPS, "seconds_per_menu": HOLD, "peers_nice": PEER_NICE},
            "calls_started": counters.get("calls_started", 0),
            "calls_finished": counters.get("calls_finished", 0),
            "app_fetch_failures": counters.get("fetch_failed", 0),
            "peak_concurrent_calls": peak,
            "seconds_to_peak": ramp_seconds,
            "wall_seconds": round(time.monotonic() - started, 1),
            "runtime_cpu_seconds": round(time.process_time() - cpu_before, 1),
            "runtime_cpu_ms_per_call": round((time.process_time() - cpu_before) * 1000 / max(1, CALLS), 2),
            "peers_cpu_seconds": peers_cpu,
            "app_requests_per_second_at_peak": round(peak / HOLD, 1),
            "event_to_command_ms": summary.get("event_to_command", {}),
            "event_to_command_during_ramp_ms": ramp_summary.get("event_to_command", {}),
            "event_to_command_with_app_fetch_ms": summary.get("event_to_command_with_fetch", {}),
            "connect_to_first_request_ms": summary.get("connect_to_first_request", {}),
            "connect_to_first_request_without_fs_replies_ms": summary.get("connect_to_first_request_own", {}),
            "memory_per_call_kib": round((peak_rss - rss_before) / max(1, peak) / 1024, 1),
            "gc": {"collections": len(pauses), "max_pause_ms": round(max(pauses, default=0) * 1000, 1),
                   "total_ms": round(sum(pauses) * 1000, 1), "full_collections": len(full_pauses),
                   "max_full_pause_ms": round(max(full_pauses, default=0) * 1000, 1)},
            "targets": {"concurrent_calls": 2000, "event_to_command_p99_ms": 10,
                        "connect_to_first_request_p99_ms": 5},
        }
    finally:
        gc.callbacks[:] = [cb for cb in gc.callbacks if getattr(cb, "__name__", "") != "gc_watch"]
        gc.unfreeze()
        gc.set_threshold(700, 10, 10)
        for proc in (driver, app_proc):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if server is not None:
            server.stop(timeout=1)


if __name__ == "__main__":
    if sys.argv[1:2] in (["--app-server"], ["--fs-driver"]) and PEER_NICE:
        os.nice(PEER_NICE)
    if len(sys.argv) == 3 and sys.argv[1] == "--app-server":
        _app_server(int(sys.argv[2]))
    elif len(sys.argv) == 5 and sys.argv[1] == "--fs-driver":
        _fs_driver(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        import json

        print(json.dumps(main(), indent=2))

"""The FreeSWITCH simulator's own capacity: call set-ups per second and concurrent channels held.

* set-ups/s: ``bgapi originate`` → the far end answers at once → it hangs up →
  CHANNEL_HANGUP_COMPLETE delivered to a subscriber that also receives
  CHANNEL_CREATE, CHANNEL_ANSWER, CHANNEL_HANGUP and BACKGROUND_JOB (what the
  dialer listens to). Counted from the first command to the last HANGUP_COMPLETE.
* concurrent idle channels: parked, answered channels held at once (``show
  channels count``), with the simulator's resident memory.
* concurrent socket-controlled channels: each answered channel connected to an
  outbound-socket listener in this process (``&socket(... async full)`` +
  ``connect``/``myevents``), so each holds a TCP connection on both sides.

Tuning: thousands of sockets need open files; the simulator raises its soft
``RLIMIT_NOFILE`` to the hard limit at start-up, and this bench does the same
for itself (``resource.setrlimit``). Targets: ≥300 set-ups/s, ≥5,000 idle channels.
"""

from __future__ import annotations

import resource
import time

import gevent
import gevent.event
import gevent.pool
from gevent import socket

from freeswitch import wire
from freeswitch.sim.process import SimulatorProcess

SETUP_CALLS = 3000
WINDOW = 300            # originates in flight at once
IDLE_CHANNELS = 5000
SOCKET_CHANNELS = 5000

SCENARIO = {"defaults": {"outcome": "answer", "ring": 0, "hangup_after": None}}


def _raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError):
            pass
    return soft


class _Conn:
    """A minimal gevent ESL client (commands without waiting for replies; a reader greenlet)."""

    def __init__(self, sim, events: str | None = None, on_event=None):
        self.sock = socket.create_connection((sim.host, sim.port))
        self.rfile = self.sock.makefile("rb")
        self.replies = gevent.queue.Queue()
        self.on_event = on_event
        assert wire.read_frame(self.rfile).content_type == "auth/request"
        self.sock.sendall(f"auth {sim.password}\n\n".encode())
        assert wire.read_frame(self.rfile).headers["Reply-Text"] == "+OK accepted"
        if events:
            self.sock.sendall(f"event plain {events}\n\n".encode())
            wire.read_frame(self.rfile)
        self.reader = gevent.spawn(self._read)

    def _read(self):
        while True:
            frame = wire.read_frame(self.rfile)
            if frame is None:
                return
            if frame.content_type == "text/event-plain":
                if self.on_event:
                    self.on_event(frame)
            elif frame.content_type == "api/response":
                self.replies.put(frame)

    def api(self, text: str) -> str:
        self.sock.sendall(f"api {text}\n\n".encode())
        return self.replies.get(timeout=60).text()

    def send(self, text: str) -> None:
        self.sock.sendall(f"{text}\n\n".encode())

    def close(self):
        self.reader.kill()
        self.rfile.close()
        self.sock.close()


def _event_name(frame) -> str:
    head = frame.body[:40]
    return head.split(b"\n", 1)[0].split(b": ", 1)[1].decode()


def bench_setups(sim) -> dict:
    """Originate → answer → hangup, events to a subscriber."""
    done = gevent.event.Event()
    counts = {"CHANNEL_HANGUP_COMPLETE": 0, "events": 0}
    slots = gevent.lock.Semaphore(WINDOW)

    def on_event(frame):
        counts["events"] += 1
        if _event_name(frame) == "CHANNEL_HANGUP_COMPLETE":
            counts["CHANNEL_HANGUP_COMPLETE"] += 1
            slots.release()
            if counts["CHANNEL_HANGUP_COMPLETE"] >= SETUP_CALLS:
                done.set()

    sub = _Conn(sim, "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB",
                on_event)
    sender = _Conn(sim)
    started = time.monotonic()
    for i in range(SETUP_CALLS):
        slots.acquire()
        sender.send(f"bgapi originate {{sim_hangup_after=0}}sofia/gateway/gw/9{i:09d} &park()")
    done.wait(timeout=120)
    elapsed = time.monotonic() - started
    sub.close()
    sender.close()
    return {
        "setup_calls": counts["CHANNEL_HANGUP_COMPLETE"],
        "setups_per_second": round(counts["CHANNEL_HANGUP_COMPLETE"] / elapsed, 1),
        "events_delivered_per_second": round(counts["events"] / elapsed, 1),
    }


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def bench_idle(sim) -> dict:
    """Hold IDLE_CHANNELS parked channels at once."""
    answered = gevent.event.Event()
    counts = {"answer": 0, "gone": 0}
    gone = gevent.event.Event()

    def on_event(frame):
        name = _event_name(frame)
        if name == "CHANNEL_ANSWER":
            counts["answer"] += 1
            if counts["answer"] >= IDLE_CHANNELS:
                answered.set()
        elif name == "CHANNEL_DESTROY":
            counts["gone"] += 1
            if counts["gone"] >= IDLE_CHANNELS:
                gone.set()

    sub = _Conn(sim, "CHANNEL_ANSWER CHANNEL_DESTROY", on_event)
    sender = _Conn(sim)
    started = time.monotonic()
    for i in range(IDLE_CHANNELS):
        sender.send(f"bgapi originate sofia/gateway/gw/8{i:09d} &park()")
        if i % 500 == 499:
            gevent.sleep(0)
    answered.wait(timeout=120)
    ramp = time.monotonic() - started
    held = int(sender.api("show channels count").split()[0])
    rss = _rss_mb(sim.proc.pid)
    gevent.sleep(2)
    still = int(sender.api("show channels count").split()[0])
    sender.api("hupall NORMAL_CLEARING")
    gone.wait(timeout=120)
    sub.close()
    sender.close()
    return {"idle_channels_held": min(held, still), "idle_ramp_seconds": round(ramp, 1),
            "simulator_rss_mb_at_idle_peak": rss}


def bench_socket_channels(sim) -> dict:
    """Hold SOCKET_CHANNELS answered channels, each controlled by an outbound socket in this process."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(4096)
    port = server.getsockname()[1]
    conns = []
    handlers = []
    ready = gevent.event.Event()

    def handle(sock):
        rfile = sock.makefile("rb")
        sock.sendall(b"connect\n\n")
        wire.read_frame(rfile)
        sock.sendall(b"myevents\n\n")
        conns.append((sock, rfile))
        if len(conns) >= SOCKET_CHANNELS:
            ready.set()
        while wire.read_frame(rfile) is not None:
            pass

    def accept_loop():
        while True:
            sock, _ = server.accept()
            handlers.append(gevent.spawn(handle, sock))

    acceptor = gevent.spawn(accept_loop)
    sender = _Conn(sim)
    started = time.monotonic()
    for i in range(SOCKET_CHANNELS):
        sender.send(f"bgapi originate sofia/gateway/gw/7{i:09d} &socket('127.0.0.1:{port} async full')")
        if i % 200 == 199:
            gevent.sleep(0)
    ready.wait(timeout=120)
    ramp = time.monotonic() - started
    held = int(sender.api("show channels count").split()[0])
    rss = _rss_mb(sim.proc.pid)
    sender.api("hupall NORMAL_CLEARING")
    gevent.sleep(1)
    acceptor.kill()
    gevent.killall(handlers)
    for sock, rfile in conns:
        rfile.close()
        sock.close()
    server.close()
    sender.close()
    return {"socket_channels_held": held, "socket_ramp_seconds": round(ramp, 1),
            "simulator_rss_mb_with_sockets": rss}


def main() -> dict:
    """Run the three measurements against a fresh simulator each; returns the figures."""
    import gevent.lock  # noqa: F401  (Semaphore)
    import gevent.queue  # noqa: F401

    nofile = _raise_nofile()
    figures: dict = {"bench_nofile_soft_limit": nofile}
    limits = ["--heartbeat", "0"]
    with SimulatorProcess(speed=100, scenario=SCENARIO, max_sessions=100000, sps=100000, extra_args=limits) as sim:
        figures.update(bench_setups(sim))
    with SimulatorProcess(speed=1, scenario=SCENARIO, max_sessions=100000, sps=100000, extra_args=limits) as sim:
        figures.update(bench_idle(sim))
    with SimulatorProcess(speed=1, scenario=SCENARIO, max_sessions=100000, sps=100000, extra_args=limits) as sim:
        figures.update(bench_socket_channels(sim))
    figures["targets"] = "setups_per_second >= 300, idle_channels_held >= 5000"
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))

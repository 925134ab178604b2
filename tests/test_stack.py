"""The `make run` supervisor: the private Redis, the process plan, and stopping the whole stack."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import pytest

from api import redis_server, stack
from config import load
from tests.conftest import free_port


def test_private_redis_starts_answers_and_keeps_data_on_disk(tmp_path):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    assert not redis_server.ping(url)
    proc = redis_server.start_private_redis(url, str(tmp_path / "redis"), str(tmp_path / "redis.log"))
    try:
        assert redis_server.ping(url)
        import redis

        client = redis.Redis.from_url(url)
        client.set("k", "v")
        assert client.config_get("appendonly")["appendonly"] == "yes"
        client.close()
    finally:
        proc.terminate()
        proc.wait(5)
    assert not redis_server.ping(url)


def test_no_private_redis_for_another_machine(tmp_path):
    with pytest.raises(redis_server.RedisUnavailable, match="not on this machine"):
        redis_server.start_private_redis("redis://10.1.2.3:6379/0", str(tmp_path), str(tmp_path / "log"))


def test_plan_starts_simulator_only_when_configured():
    with_sim = stack.plan(load({"FREESWITCH_NODES": "127.0.0.1:9021:pw", "IVR_LISTEN": "127.0.0.1:9084"}))
    names = [c.name for c in with_sim]
    assert names[0] == "freeswitch-simulator" and names[-1] == "http-api"
    sim = with_sim[0]
    assert sim.address == ("127.0.0.1", 9021)
    assert sim.args[sim.args.index("--inbound-socket") + 1] == "127.0.0.1:9084"
    assert sim.args[sim.args.index("--scenario") + 1] == stack.DEMO_SCENARIO
    without = stack.plan(load({"FREESWITCH_SIMULATOR": "0", "DIALER_WORKERS": "3"}))
    assert [c.name for c in without] == ["ivr-runtime", "dialer-1", "dialer-2", "dialer-3", "smsc-standin", "sms-1",
                                         "http-api"]


def test_bad_node_setting_is_a_readable_error():
    with pytest.raises(SystemExit, match="expected host:port:password"):
        stack.first_node(load({"FREESWITCH_NODES": "127.0.0.1"}))


def test_demo_scenario_is_valid_and_callers_hang_up():
    from freeswitch.sim.scenario import Scenario

    demo = Scenario.load(stack.DEMO_SCENARIO)
    assert demo.behaviour("919876543210").hangup_after == 40
    assert demo.behaviour("919876543486").outcome == "busy"


# ---------------------------------------------------------------- stopping the whole stack

_LAUNCH = """
import fcntl, os, signal, sys, termios
os.setsid()                                  # a session of its own, as a terminal's shell gives a job
fcntl.ioctl(0, termios.TIOCSCTTY, 0)         # the pty becomes its controlling terminal
if sys.argv[1] == "ignored":                 # how a shell starts a job in the background
    signal.signal(signal.SIGINT, signal.SIG_IGN)
os.execv(sys.executable, [sys.executable, "-m", "api.stack"])
"""


def _read_until(fd: int, out: bytearray, done, timeout: float) -> None:
    """Append what the terminal shows to ``out`` until ``done(out)``, the terminal closes or ``timeout``."""
    deadline = time.monotonic() + timeout
    while not done(out) and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: every process holding the terminal has closed it
                return
            if not data:
                return
            out += data


@pytest.mark.parametrize("how", ["ctrl-c", "ctrl-c-inherited-ignore", "sigterm"])
def test_the_stack_stops_cleanly(tmp_path, redis_url, key_prefix, how):
    """Ctrl-C (SIGINT to the terminal's foreground process group) or SIGTERM stops every part: exit 0,
    no traceback on the terminal or in any part's log."""
    master, slave = pty.openpty()
    env = {**os.environ, "DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": redis_url,
           "REDIS_KEY_PREFIX": key_prefix, "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(free_port()),
           "HTTP_WORKERS": "1", "FREESWITCH_NODES": f"127.0.0.1:{free_port()}:ClueCon",
           "FREESWITCH_SIMULATOR": "1", "IVR_LISTEN": f"127.0.0.1:{free_port()}", "DIALER_WORKERS": "1",
           "SMPP_PORT": str(free_port()), "IVR_METRICS_PORT": str(free_port()),
           "DIALER_METRICS_PORT": str(free_port())}
    proc = subprocess.Popen([sys.executable, "-c", _LAUNCH, "ignored" if "ignore" in how else "default"],
                            stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out = bytearray()
    try:
        _read_until(master, out, lambda o: b"Ctrl-C stops everything" in o, timeout=90)
        assert b"Ctrl-C stops everything" in out, out.decode(errors="replace")
        # The dialer accepts no connections, so the supervisor does not wait for it: its log says when it runs.
        dialer_log = tmp_path / "log" / "dialer-1.log"
        deadline = time.monotonic() + 60
        while "started (nodes:" not in (dialer_log.read_text() if dialer_log.exists() else "") \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        if how == "sigterm":
            proc.send_signal(signal.SIGTERM)
        else:
            os.killpg(os.tcgetpgrp(master), signal.SIGINT)
        _read_until(master, out, lambda o: False, timeout=60)
        status = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    text = out.decode(errors="replace")
    assert status == 0, text
    assert "stopping ..." in text and "Traceback" not in text and "error:" not in text, text
    logs = {p.name: p.read_text(errors="replace") for p in (tmp_path / "log").glob("*.log")}
    assert {"freeswitch-simulator.log", "ivr-runtime.log", "dialer-1.log", "smsc-standin.log", "sms-1.log",
            "http-api.log"} <= set(logs)
    for name, content in logs.items():
        assert "Traceback" not in content, f"{name}:\n{content}"
    # Each part ran its own stop to the end (exit status 0 of every one is the supervisor's 0).
    assert re.search(r"dialer worker \S+ stopped", logs["dialer-1.log"]), logs["dialer-1.log"]
    assert "Shutting down: Master" in logs["http-api.log"]
    # Every part is gone (the supervisor printed their pids).
    for pid in map(int, re.findall(r" pid (\d+) ", text)):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)

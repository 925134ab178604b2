"""``ivr serve`` as a real process: a simulated call reaches it, the app is run, the facts land in Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import gevent
import redis
from rq import Queue

from freeswitch.sim.core import SwitchConfig
from freeswitch.sim.server import Simulator
from ivr.call_spec import FACTS_JOB, CallSpec
from tests.conftest import free_port
from tests.ivr.appserver import AppServer
from tests.ivr.harness import EslClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_serve_runs_calls_and_reports_facts(tmp_path, redis_url, key_prefix):
    app = AppServer().start()
    app.route("/ivr", lambda p: "<response><playtext>Hello from serve</playtext><hangup/></response>")
    port = free_port()
    env = dict(os.environ, PYTHONPATH=ROOT, REDIS_URL=redis_url, REDIS_KEY_PREFIX=key_prefix,
               DATA_DIR=str(tmp_path), IVR_LISTEN=f"127.0.0.1:{port}")
    proc = subprocess.Popen([sys.executable, "-m", "ivr.cli", "serve", "--log-level", "WARNING"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sim = Simulator(SwitchConfig(host="127.0.0.1", port=0, speed=20, heartbeat=0))
    sim.start()
    try:
        esl = None
        deadline = time.monotonic() + 15
        import socket
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                gevent.sleep(0.05)
        esl = EslClient(*sim.address)
        spec = CallSpec(call_type="campaign", attempt_id="att-serve", app_url=app.url("/ivr"))
        reply = esl.api("originate {vaani_call=" + spec.encode() + "}sofia/gateway/vaani_trunk/919900000001"
                        f" &socket('127.0.0.1:{port} async full')")
        assert reply.startswith("+OK"), reply
        queue = Queue(f"{key_prefix}-records", connection=redis.Redis.from_url(redis_url))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not queue.count:
            gevent.sleep(0.05)
        [job] = queue.jobs
        assert job.func_name == FACTS_JOB and job.args[0]["attempt_id"] == "att-serve"
        assert [r["params"]["event"] for r in app.requests_to("/ivr")] == ["NewCall", "Disconnect"]
        esl.close()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
        sim.stop()
        app.stop()
    assert "Traceback" not in err, err


def test_serve_refuses_a_bad_listen_address(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, DATA_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "ivr.cli", "serve", "--listen", "nowhere"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "expected host:port" in result.stderr

"""The production server setup starts and serves: gunicorn, gevent worker, api.gunicorn_conf, api.wsgi."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import requests

from tests.conftest import free_port


def test_gunicorn_with_the_shipped_config_serves_the_api(tmp_path):
    port = free_port()
    env = {**os.environ, "DATA_DIR": str(tmp_path), "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(port),
           "REDIS_KEY_PREFIX": f"test-{uuid.uuid4().hex[:12]}", "FREESWITCH_NODES": f"127.0.0.1:{free_port()}:x"}
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    proc = subprocess.Popen([gunicorn, "-c", "python:api.gunicorn_conf", "api.wsgi:app"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = requests.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except requests.RequestException:
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        assert r.json() == {"status": "ok"}
        r = requests.post(f"http://127.0.0.1:{port}/api/click2call", json={}, timeout=5)
        assert r.status_code == 401 and r.json()["response"]["success"] == "false"
        r = requests.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5)
        assert "/kairos-apis/outbound/create" in r.json()["paths"]
    finally:
        os.killpg(proc.pid, signal.SIGQUIT)  # quick shutdown
        proc.wait(10)

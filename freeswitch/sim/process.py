"""Start the simulator as a child process (for tests, benches and ``make run``) and stop it.

Usage::

    with SimulatorProcess(speed=20) as sim:
        esl = InboundESL(sim.host, sim.port, sim.password)
        ...

A scenario can be given as a file path or as a dict (written to a temporary
YAML file for the child).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class SimulatorProcess:
    """A ``python -m freeswitch.sim`` child on a free port."""

    speed: float = 1.0
    scenario: str | dict | None = None
    host: str = "127.0.0.1"
    port: int = 0
    password: str = "ClueCon"
    max_sessions: int = 1000
    sps: int = 30
    inbound_socket: str = ""
    recordings_dir: str = ""
    extra_args: list[str] = field(default_factory=list)
    log_level: str = "WARNING"
    startup_timeout: float = 15.0

    def __post_init__(self):
        self.proc: subprocess.Popen | None = None
        self._tmp_scenario: str | None = None
        self.ready_line = ""

    def start(self) -> "SimulatorProcess":
        """Spawn the child and wait until it accepts connections."""
        if not self.port:
            self.port = _free_port(self.host)
        scenario_path = self._scenario_path()
        cmd = [sys.executable, "-m", "freeswitch.sim", "--host", self.host, "--port", str(self.port),
               "--password", self.password, "--speed", str(self.speed), "--max-sessions", str(self.max_sessions),
               "--sps", str(self.sps), "--log-level", self.log_level]
        if scenario_path:
            cmd += ["--scenario", scenario_path]
        if self.inbound_socket:
            cmd += ["--inbound-socket", self.inbound_socket]
        if self.recordings_dir:
            cmd += ["--recordings-dir", self.recordings_dir]
        cmd += self.extra_args
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        # stderr goes to a file: a pipe nobody reads would block a chatty child.
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._stderr, env=env, text=True)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.stderr_text()
                raise RuntimeError(f"the simulator exited with code {self.proc.returncode}: {err.strip()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                    s.settimeout(2)
                    banner = s.recv(64)
                    if banner.startswith(b"Content-Type: auth/request"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the simulator did not accept connections on {self.host}:{self.port}")

    def _scenario_path(self) -> str | None:
        if self.scenario is None:
            return None
        if isinstance(self.scenario, dict):
            import yaml

            fd, path = tempfile.mkstemp(prefix="fs-sim-scenario-", suffix=".yaml")
            with os.fdopen(fd, "w") as f:
                yaml.safe_dump(self.scenario, f)
            self._tmp_scenario = path
            return path
        return str(self.scenario)

    def stop(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL) and remove temporary files."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if getattr(self, "_stderr", None) is not None:
            self._stderr.close()
            self._stderr = None
        if self._tmp_scenario:
            try:
                os.unlink(self._tmp_scenario)
            except OSError:
                pass
            self._tmp_scenario = None

    def stderr_text(self) -> str:
        """What the child wrote to stderr so far (its log)."""
        f = getattr(self, "_stderr", None)
        if f is None:
            return ""
        f.flush()
        f.seek(0)
        text = f.read()
        f.seek(0, 2)
        return text

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"

    def __enter__(self) -> "SimulatorProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

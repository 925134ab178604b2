"""Run a real FreeSWITCH on a private tree: configuration, logs, databases and pid under one directory."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from freeswitch.realfs.conf import install_conf


class RealFsError(RuntimeError):
    """FreeSWITCH could not be set up, started or stopped (the message says why)."""


@dataclass
class RealFreeSwitch:
    """A FreeSWITCH installed under ``prefix`` (``bin/freeswitch``, ``etc/freeswitch``), run in ``workdir``."""

    prefix: str
    workdir: str
    esl_host: str = "127.0.0.1"
    esl_port: int = 8021

    @property
    def binary(self) -> Path:
        return Path(self.prefix) / "bin" / "freeswitch"

    def dirs(self) -> dict[str, Path]:
        """The private directories FreeSWITCH is pointed at (``-conf``, ``-log``, ...)."""
        w = Path(self.workdir).resolve()
        return {name: w / name for name in ("conf", "log", "db", "run", "temp", "cache", "recordings", "storage")}

    def setup(self, variables: dict[str, str] | None = None) -> list[str]:
        """A fresh configuration: the stock tree FreeSWITCH installed, then ours installed into it."""
        if not self.binary.is_file():
            raise RealFsError(f"no FreeSWITCH at {self.binary} (set FREESWITCH_PREFIX to its install prefix)")
        stock = next((p for p in (Path(self.prefix) / "etc" / "freeswitch", Path("/etc/freeswitch"))
                      if (p / "freeswitch.xml").is_file()), None)
        if stock is None:
            raise RealFsError(f"no stock configuration under {self.prefix}/etc/freeswitch or /etc/freeswitch")
        d = self.dirs()
        if d["conf"].exists():
            shutil.rmtree(d["conf"])
        shutil.copytree(stock, d["conf"])
        for path in d.values():
            path.mkdir(parents=True, exist_ok=True)
        return install_conf(d["conf"], variables)

    def pid(self) -> int | None:
        """The running FreeSWITCH's pid (from its pid file), or None."""
        try:
            pid = int((self.dirs()["run"] / "freeswitch.pid").read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def start(self, timeout: float = 60.0) -> int:
        """Start FreeSWITCH in the background and wait until its event socket answers; returns its pid."""
        if self.pid():
            return self.pid()
        if not self.binary.is_file():
            raise RealFsError(f"no FreeSWITCH at {self.binary} (set FREESWITCH_PREFIX to its install prefix)")
        d = self.dirs()
        if not (d["conf"] / "freeswitch.xml").is_file() or not d["log"].is_dir():
            raise RealFsError(f"no configuration in {d['conf']}: run `python -m freeswitch.realfs setup` first")
        args = [str(self.binary), "-nonat", "-nc", "-nf", "-conf", str(d["conf"]), "-log", str(d["log"]),
                "-db", str(d["db"]), "-run", str(d["run"]), "-temp", str(d["temp"]), "-cache", str(d["cache"]),
                "-recordings", str(d["recordings"]), "-storage", str(d["storage"])]
        out = open(d["log"] / "console.log", "ab")
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RealFsError(f"FreeSWITCH exited with status {proc.returncode}; see {d['log']}/console.log")
            if self._esl_answers():
                return proc.pid
            time.sleep(0.2)
        proc.kill()
        raise RealFsError(f"FreeSWITCH's event socket did not answer within {timeout:.0f} s; see {d['log']}")

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop it by pid (SIGTERM, then SIGKILL); True when one was running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                return True
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
        return True

    def _esl_answers(self) -> bool:
        try:
            with socket.create_connection((self.esl_host, self.esl_port), timeout=1) as s:
                s.settimeout(2)
                return b"auth/request" in s.recv(256)
        except OSError:
            return False

"""The rig of the agent-campaign dialer tests: simulator process, IVR runtime and dialer engine, one store."""

from __future__ import annotations

import json
import re

import redis
import sqlalchemy as sa

import config
from dialer.engine import Dialer, EngineOptions
from dialer.store import db
from dialer.store.models import Cdr
from ivr.acd import Acd
from ivr.call_spec import CallSpec
from ivr.runtime import build_runtime
from ivr.server import IvrServer
from tests.conftest import free_port

from .engine_helpers import Monitor, Sim, settings_for
from .store_helpers import run_queue

#: The simulated world: contacts 1555… are a crowd (seeded), agents are SIP users 1000…1099.
def scenario(answer: float = 0.5, busy: float = 0.3, talk: float = 100.0) -> dict:
    """Contacts answer/busy/unallocated in those shares; agents answer after 1 s and talk ``talk`` sim-seconds."""
    return {"rules": [
        {"match": "1555*", "seed": 7, "ring": [1, 4], "population": {
            "answer": answer, "busy": busy, "unallocated": "rest"}},
        {"match": "/^10[0-9][0-9]$/", "ring": 1, "talk_time": talk},
    ]}


def write_scenario(tmp_path, data: dict) -> str:
    """The scenario as a file for ``python -m freeswitch.sim --scenario``."""
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(data))
    return str(path)


class AgentStack:
    """Simulator + IVR runtime + dialer engine on one database and key prefix; ``stop()`` tears it down."""

    def __init__(self, tmp_path, db_url: str, key_prefix: str, scenario_data: dict, monkeypatch, *,
                 speed: float = 50, start_dialer: bool = True):
        # The RQ jobs (the IVR facts into the CDRs) read the process configuration, as in a worker process.
        for name, value in {"DATABASE_URL": db_url, "REDIS_KEY_PREFIX": key_prefix}.items():
            monkeypatch.setenv(name, value)
        config.settings.cache_clear()
        self.sim = Sim(free_port(), speed=speed, scenario=write_scenario(tmp_path, scenario_data))
        ivr_port = free_port()
        self.cfg = settings_for(db_url, key_prefix, self.sim.port, ivr_port, DATA_DIR=str(tmp_path),
                                RECORDINGS_DIR=str(tmp_path / "rec"))
        self.runtime = build_runtime(self.cfg)
        self.ivr = IvrServer(self.runtime, f"127.0.0.1:{ivr_port}").start()
        self.monitor = Monitor(self.sim.port, key_prefix)
        self.redis = redis.Redis.from_url(self.cfg.redis_url)
        self.acd = Acd(self.redis, key_prefix)
        self.dialer = Dialer(self.cfg, options=EngineOptions(foreign_delay=0.3, recovery_grace=1.0)).start() \
            if start_dialer else None

    def login(self, campaign_id: str, agents: list[str], account_id: str) -> None:
        """Agents ``user/<id>`` logged into the campaign, ready."""
        for a in agents:
            self.acd.login(a, account_id, [campaign_id], f"user/{a}")

    def specs(self) -> list[CallSpec]:
        """The CallSpec of every originate the switch received, in order."""
        out = []
        for arg in self.monitor.commands:
            m = re.search(r"vaani_call=([A-Za-z0-9_-]+)", arg)
            if m:
                out.append(CallSpec.decode(m.group(1)))
        return out

    def cdrs(self, campaign_id: str) -> list[Cdr]:
        """The campaign's CDRs, after the IVR runtime's facts were merged."""
        run_queue(self.cfg, "records")
        with db.session_scope(self.cfg.sqlalchemy_url) as s:
            return list(s.scalars(sa.select(Cdr).where(Cdr.campaign_id == campaign_id)))

    def stop(self) -> None:
        if self.dialer is not None:
            self.dialer.stop()
        self.monitor.stop()
        self.ivr.stop(timeout=1)
        self.runtime.fetcher.close()
        self.sim.stop()
        self.redis.close()
        config.settings.cache_clear()


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at one instant."""
    points = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals], key=lambda p: (p[0], p[1]))
    best = cur = 0
    for _, d in points:
        cur += d
        best = max(best, cur)
    return best

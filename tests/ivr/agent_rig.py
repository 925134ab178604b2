"""The agent-campaign rig: the simulator as a child process ↔ the real IVR runtime server ↔ the real Redis.

As :class:`tests.ivr.harness.Rig` (same ``call``/``wait``/``lines``), but the switch is
``freeswitch.sim.process.SimulatorProcess`` with a scenario of its own (agents are far ends ``user/<id>``
matched by id), and the agents' live state is a real :class:`ivr.acd.Acd` on the test's key prefix.
"""

from __future__ import annotations

import gevent.event
import redis

from config import load
from freeswitch.sim.process import SimulatorProcess
from ivr.acd import Acd
from ivr.runtime import build_runtime
from ivr.server import IvrServer
from tests.ivr.appserver import AppServer
from tests.ivr.harness import EslClient, Rig

ACCOUNT = "acct1"


class AgentRig(Rig):
    """Simulator process + runtime + screen-pop server + Acd, torn down by :meth:`stop`."""

    def __init__(self, tmp_path, redis_url: str, key_prefix: str, scenario: dict | None = None,
                 speed: float = 20.0):
        self.app = AppServer().start()
        env = {"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": key_prefix, "DATA_DIR": str(tmp_path),
               "RECORDINGS_DIR": str(tmp_path / "recordings"), "PUBLIC_URL": "http://api.example",
               "APP_CONNECT_TIMEOUT": "1", "APP_READ_TIMEOUT": "2",
               "IVR_DIAL_ENDPOINT": "sofia/gateway/vaani_trunk/{number}"}
        (tmp_path / "recordings").mkdir(exist_ok=True)
        self.settings = load(env)
        self.runtime = build_runtime(self.settings)
        self.finished: dict[str, object] = {}
        self._done: dict[str, gevent.event.Event] = {}
        self.transcript: list[tuple[str, str, str]] = []
        self.runtime.on_finished.append(self._on_finished)
        self.runtime.observers.append(lambda call, kind, text: self.transcript.append(
            (call.session.uuid, kind, text)))
        self.ivr = IvrServer(self.runtime, "127.0.0.1:0").start()
        self.sim = SimulatorProcess(speed=speed, scenario=scenario, inbound_socket=self.ivr.address,
                                    recordings_dir=str(tmp_path / "recordings"), sps=1000, max_sessions=5000)
        self.sim.start()
        self.esl = EslClient(self.sim.host, self.sim.port)
        self.redis = redis.Redis.from_url(redis_url)
        self.acd = Acd(self.redis, key_prefix)

    def login(self, agent_id: str, campaign: str = "c1", endpoint: str | None = None, **kwargs):
        """An agent logged into ``campaign``, ready, rung on ``user/<agent_id>`` unless told otherwise."""
        return self.acd.login(agent_id, ACCOUNT, [campaign], endpoint or f"user/{agent_id}", **kwargs)

    def nail_up(self, agent_id: str, campaign: str = "c1") -> str:
        """A persistent agent: its channel answered and parked in its conference room, then logged in."""
        uuid = self.esl.api("create_uuid").strip()
        reply = self.esl.api(f"originate {{origination_uuid={uuid}}}user/{agent_id} "
                             f"&conference(vaani_agent_{agent_id}@default)")
        assert reply.startswith("+OK"), reply
        self.acd.login(agent_id, ACCOUNT, [campaign], f"user/{agent_id}", persistent=True, channel=uuid)
        return uuid

    def heard(self, uuid: str) -> list[str]:
        """What the customer heard (the runtime's transcript of prompts played on the call)."""
        return [t for u, k, t in self.transcript if u == uuid and k == "heard"]

    def stop(self) -> None:
        try:
            self.esl.close()
        finally:
            self.sim.stop()
            self.ivr.stop(timeout=1)
            self.app.stop()
            self.runtime.fetcher.close()
            self.redis.close()

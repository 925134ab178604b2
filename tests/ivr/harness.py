"""An end-to-end rig on real sockets: the FreeSWITCH simulator ↔ the IVR runtime ↔ a real HTTP app server.

Calls are placed with ``originate`` over the simulator's inbound Event Socket
(or ``sim_inbound`` for a caller dialling one of our numbers); the simulator
connects each answered call to the runtime's outbound-socket server, exactly as
FreeSWITCH would. ``wait(uuid)`` returns the finished :class:`ivr.call.Call`.
"""

from __future__ import annotations

import gevent
import gevent.event

from config import load
from freeswitch import wire
from freeswitch.sim.core import SwitchConfig
from freeswitch.sim.server import Simulator
from ivr.call_spec import CallSpec
from ivr.runtime import build_runtime
from ivr.server import IvrServer
from tests.ivr.appserver import AppServer


class EslClient:
    """A minimal inbound ESL client (auth + api) over a real socket, read with freeswitch.wire."""

    def __init__(self, host: str, port: int, password: str = "ClueCon"):
        import socket

        self.sock = socket.create_connection((host, port), timeout=10)
        self.rfile = self.sock.makefile("rb")
        wire.read_frame(self.rfile)  # auth/request
        self.sock.sendall(wire.encode_command(f"auth {password}"))
        reply = wire.read_frame(self.rfile)
        assert reply.headers.get("Reply-Text", "").startswith("+OK"), reply

    def api(self, command: str) -> str:
        self.sock.sendall(wire.encode_command(f"api {command}"))
        while True:
            frame = wire.read_frame(self.rfile)
            if frame.content_type == "api/response":
                return frame.text()

    def close(self) -> None:
        self.sock.close()


class Rig:
    """Simulator + runtime + app server, torn down by :meth:`stop`."""

    def __init__(self, tmp_path, redis_url: str, key_prefix: str, speed: float = 20.0, **settings):
        self.app = AppServer().start()
        env = {"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": key_prefix, "DATA_DIR": str(tmp_path),
               "RECORDINGS_DIR": str(tmp_path / "recordings"), "PUBLIC_URL": "http://api.example",
               "APP_CONNECT_TIMEOUT": "1", "APP_READ_TIMEOUT": "2",
               "IVR_DIAL_ENDPOINT": "sofia/gateway/vaani_trunk/{number}"}
        env.update({k.upper(): str(v) for k, v in settings.items()})
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
        self.sim = Simulator(SwitchConfig(host="127.0.0.1", port=0, speed=speed, inbound_socket=self.ivr.address,
                                          recordings_dir=str(tmp_path / "recordings"), heartbeat=0,
                                          sps=1000, max_sessions=5000))
        self.sim.start()
        self.esl = EslClient(*self.sim.address)

    def _on_finished(self, call) -> None:
        uuid = call.session.uuid
        self.finished[uuid] = call
        self._done.setdefault(uuid, gevent.event.Event()).set()

    def call(self, spec: CallSpec, number: str = "919900000001", uuid: str | None = None, **sim) -> str:
        """Originate a call carrying ``spec`` to ``number`` as the dialer does; ``sim`` are sim_* overrides."""
        uuid = uuid or self.esl.api("create_uuid").strip()
        variables = [f"origination_uuid={uuid}", f"vaani_call={spec.encode()}",
                     f"origination_caller_id_number={(spec.caller_id or '918000000000').lstrip('+')}"]
        variables += [f"{name}={value}" for name, value in (("vaani_request_id", spec.request_id),
                                                            ("vaani_attempt_id", spec.attempt_id)) if value]
        variables += [f"sim_{k}='{v}'" if any(c in str(v) for c in ",; ") else f"sim_{k}={v}"
                      for k, v in sim.items()]
        reply = self.esl.api("originate {" + ",".join(variables) + "}sofia/gateway/vaani_trunk/" + number
                             + f" &socket('{self.ivr.address} async full')")
        assert reply.startswith("+OK"), reply
        return uuid

    def inbound(self, caller: str, called: str, **sim) -> str:
        """A caller dials one of our numbers (the simulator's dialplan sends it to the runtime)."""
        uuid = self.esl.api("create_uuid").strip()
        variables = [f"origination_uuid={uuid}"] + [f"sim_{k}={v}" for k, v in sim.items()]
        reply = self.esl.api(f"sim_inbound {caller} {called} {{{','.join(variables)}}}")
        assert reply.startswith("+OK"), reply
        return uuid

    def wait(self, uuid: str, timeout: float = 15.0):
        """The finished Call (facts reported, socket closed)."""
        done = self._done.setdefault(uuid, gevent.event.Event())
        assert done.wait(timeout), f"call {uuid} did not finish within {timeout}s: {self.lines(uuid)}"
        return self.finished[uuid]

    def lines(self, uuid: str) -> list[str]:
        return [f"{kind}: {text}" for u, kind, text in self.transcript if u == uuid]

    def stop(self) -> None:
        self.esl.close()
        self.sim.stop()
        self.ivr.stop(timeout=1)
        self.app.stop()
        self.runtime.fetcher.close()

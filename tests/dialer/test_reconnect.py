"""A dropped ESL connection and a restarted simulator mid-campaign: reconnect, reconcile, no CDR lost or doubled."""

import socket

import gevent
import pytest
import sqlalchemy as sa

from dialer import submit
from dialer.engine import Dialer, EngineOptions
from dialer.store import db
from dialer.store.models import Attempt, Cdr
from tests.conftest import free_port

from .engine_helpers import Monitor, Sim, make_campaign, numbers, settings_for, wait_for

SCENARIO = """
defaults:
  outcome: answer
  ring: 0.5
  hangup_after: 3
"""


class HoldingIvr:
    """Stands in for the IVR runtime: accepts FreeSWITCH's outbound socket and holds it, so answered calls stay up."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.g = gevent.spawn(self._accept)

    def _accept(self):
        while True:
            conn, _ = self.sock.accept()
            self.conns.append(conn)

    def stop(self):
        self.g.kill()
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def scenario(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    return str(path)


def test_drop_and_simulator_restart_lose_no_cdr(db_url, key_prefix, scenario):
    sim = Sim(free_port(), speed=5, scenario=scenario)
    ivr = HoldingIvr()
    cfg = settings_for(db_url, key_prefix, sim.port, ivr.port)
    _, camp = make_campaign(db_url, numbers(80), calls_per_minute=1200)
    monitor = Monitor(sim.port, key_prefix)
    d = Dialer(cfg, options=EngineOptions(foreign_delay=0.3, recovery_grace=1.0)).start()
    client = d.nodes.client(f"127.0.0.1:{sim.port}")
    try:
        submit.start_campaign(camp, cfg=cfg)
        wait_for(lambda: d.originates_sent >= 15)
        client.drop()  # the network drops: events during the gap are lost, the client reconnects
        wait_for(lambda: client.connected and client.generation >= 2)
        wait_for(lambda: d.originates_sent >= 35)
        live_before = _live(db_url, camp)
        sim.restart()  # FreeSWITCH restarts: every call on it is gone
        wait_for(lambda: client.generation >= 3, timeout=30)
        wait_for(lambda: submit.campaign_progress(camp, cfg=cfg)["status"] == "completed", timeout=40)
    finally:
        d.stop()
        monitor.stop()
        ivr.stop()
        sim.stop()
    assert live_before > 0  # calls were up when the simulator went away
    with db.session_scope(db_url) as s:
        attempts = s.execute(sa.select(Attempt).where(Attempt.campaign_id == camp)).scalars().all()
        cdrs = s.execute(sa.select(Cdr).where(Cdr.campaign_id == camp)).scalars().all()
    dialed = [a for a in attempts if a.origination_uuid]
    assert {a.state for a in attempts} <= {"completed", "failed"}
    # Every contact reached a final attempt; nothing forgotten.
    assert len({a.contact_id for a in attempts}) == 80
    # One CDR per launched call: none lost, none doubled.
    assert len(cdrs) == len(dialed)
    assert sorted(c.uniqueid for c in cdrs) == sorted(a.origination_uuid for a in dialed)
    # The calls the restart cut off were settled from what was known (reconciled), not dialed again.
    assert all(n == 1 for n in monitor.jobs.values())


def _live(url, camp):
    with db.session_scope(url) as s:
        return s.execute(sa.select(sa.func.count()).select_from(Attempt).where(
            Attempt.campaign_id == camp, Attempt.state.in_(("ringing", "answered")))).scalar()

"""The dialer's ESL metrics when its switch goes away and comes back: reconnects counted, the node's gauges follow."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from dialer import metrics
from dialer.engine import Dialer, EngineOptions
from tests.conftest import free_port

from .engine_helpers import Sim, settings_for, wait_for


def _sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_restarted_switch_is_one_reconnect_and_its_gauges_follow(db_url, key_prefix):
    sim = Sim(free_port(), speed=50)
    cfg = settings_for(db_url, key_prefix, sim.port, free_port())
    node = f"127.0.0.1:{sim.port}"
    dialer = Dialer(cfg, options=EngineOptions(foreign_delay=0.3)).start()
    poller = None
    try:
        import gevent

        poller = gevent.spawn(metrics.poll_nodes, dialer, 0.2)
        wait_for(lambda: _sample("vaani_freeswitch_node_sps_max", node=node) == 5000, timeout=10)
        assert _sample("vaani_freeswitch_node_up", node=node) == 1
        assert _sample("vaani_freeswitch_node_max_sessions", node=node) == 10000
        assert _sample("vaani_freeswitch_node_max_sessions_configured", node=node) == 10000
        before = _sample("vaani_dialer_esl_reconnects_total", node=node)
        sim.proc.kill()
        sim.proc.wait(10)
        wait_for(lambda: _sample("vaani_freeswitch_node_up", node=node) == 0, timeout=10)
        # Its status is no longer known: no stale session figures while it is down.
        wait_for(lambda: REGISTRY.get_sample_value("vaani_freeswitch_node_sessions", {"node": node}) is None, timeout=5)
        sim.start()
        wait_for(lambda: _sample("vaani_dialer_esl_reconnects_total", node=node) == before + 1, timeout=20)
        wait_for(lambda: _sample("vaani_freeswitch_node_up", node=node) == 1, timeout=10)
        wait_for(lambda: _sample("vaani_freeswitch_node_sps_max", node=node) == 5000, timeout=10)
        assert _sample("vaani_dialer_esl_reconnects_total", node=node) == before + 1
    finally:
        if poller is not None:
            poller.kill()
        dialer.stop()
        sim.stop()

"""The `make run` supervisor's building blocks: the private Redis and the process plan."""

from __future__ import annotations

import pytest

from api import redis_server, stack
from config import load
from tests.conftest import free_port


def test_private_redis_starts_answers_and_keeps_data_on_disk(tmp_path):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    assert not redis_server.ping(url)
    proc = redis_server.start_private_redis(url, str(tmp_path / "redis"), str(tmp_path / "redis.log"))
    try:
        assert redis_server.ping(url)
        import redis

        client = redis.Redis.from_url(url)
        client.set("k", "v")
        assert client.config_get("appendonly")["appendonly"] == "yes"
        client.close()
    finally:
        proc.terminate()
        proc.wait(5)
    assert not redis_server.ping(url)


def test_no_private_redis_for_another_machine(tmp_path):
    with pytest.raises(redis_server.RedisUnavailable, match="not on this machine"):
        redis_server.start_private_redis("redis://10.1.2.3:6379/0", str(tmp_path), str(tmp_path / "log"))


def test_plan_starts_simulator_only_when_configured():
    with_sim = stack.plan(load({"FREESWITCH_NODES": "127.0.0.1:9021:pw", "IVR_LISTEN": "127.0.0.1:9084"}))
    names = [c.name for c in with_sim]
    assert names[0] == "freeswitch-simulator" and names[-1] == "http-api"
    sim = with_sim[0]
    assert sim.address == ("127.0.0.1", 9021)
    assert sim.args[sim.args.index("--inbound-socket") + 1] == "127.0.0.1:9084"
    assert sim.args[sim.args.index("--scenario") + 1] == stack.DEMO_SCENARIO
    without = stack.plan(load({"FREESWITCH_SIMULATOR": "0", "DIALER_WORKERS": "3"}))
    assert [c.name for c in without] == ["ivr-runtime", "dialer-1", "dialer-2", "dialer-3", "http-api"]


def test_bad_node_setting_is_a_readable_error():
    with pytest.raises(SystemExit, match="expected host:port:password"):
        stack.first_node(load({"FREESWITCH_NODES": "127.0.0.1"}))


def test_demo_scenario_is_valid_and_callers_hang_up():
    from freeswitch.sim.scenario import Scenario

    demo = Scenario.load(stack.DEMO_SCENARIO)
    assert demo.behaviour("919876543210").hangup_after == 40
    assert demo.behaviour("919876543486").outcome == "busy"

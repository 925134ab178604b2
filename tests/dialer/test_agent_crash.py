"""SIGKILL dialer workers, and once the IVR runtime, during an agent campaign: no contact dialed twice, no agent
left stuck on a call, one on_call in the agents' history per connected call.

The agent campaign's moving parts live in different processes: the dialer workers pace it (one holds the lane's
lease) and see its hangups, the IVR runtime reserves and connects agents, Redis holds the agents' state. Each can
die at any moment; what must survive is the contract of test_crash.py (every contact once, never twice) plus the
agents': an agent whose call's runtime died is released by the dialer's ``release_call`` on that call's hangup,
whichever worker (or reconciliation) records it.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time

import pytest
import redis
import sqlalchemy as sa

import config
from dialer import submit
from dialer.store import db
from dialer.store.models import AgentEvent, Attempt, Cdr, utcnow
from ivr.acd import Acd
from tests.conftest import free_port

from .agent_helpers import scenario, write_scenario
from .engine_helpers import Monitor, Sim, make_campaign, numbers, settings_for, wait_for
from .store_helpers import run_queue

CONTACTS = 60
AGENTS = [f"10{i:02d}" for i in range(1, 6)]
#: A fresh worker needs a few seconds to import and connect: killing it sooner tests nothing it does.
WORKER_MIN_AGE = 5.0


def _worker(env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dialer", "worker", "--no-jobs", "--log-level", "ERROR"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _runtime(env, port: int) -> subprocess.Popen:
    """``python -m ivr.cli serve`` (the ``ivr serve`` console script) on ``port``, once it accepts connections.

    Calls answered before then find no runtime: the switch hangs them up, unconnected.
    """
    proc = subprocess.Popen([sys.executable, "-m", "ivr.cli", "serve", "--listen", f"127.0.0.1:{port}",
                             "--log-level", "ERROR"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, "ivr serve exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.05)
    raise AssertionError("ivr serve did not start")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.mark.timeout(240)
def test_sigkilled_workers_and_runtime_leave_no_agent_stuck_and_dial_nobody_twice(tmp_path, key_prefix, redis_url,
                                                                                 monkeypatch):
    # SQLite: several processes (workers, runtime, records) contend for its one writer, the hardest case.
    db_url = f"sqlite:///{tmp_path / 'vaani.db'}"
    # The records job (the runtime's facts into the CDRs and agent_events) reads the process configuration.
    for name, value in {"DATABASE_URL": db_url, "REDIS_KEY_PREFIX": key_prefix}.items():
        monkeypatch.setenv(name, value)
    config.settings.cache_clear()
    # Agents talk 100 simulated seconds (2 s at speed 50): ~30 connected calls over 5 agents, a few each.
    sim = Sim(free_port(), speed=50, scenario=write_scenario(tmp_path, scenario(answer=0.5, busy=0.3, talk=100)))
    ivr_port = free_port()
    cfg = settings_for(db_url, key_prefix, sim.port, ivr_port, DATA_DIR=str(tmp_path),
                       RECORDINGS_DIR=str(tmp_path / "rec"))
    account, camp = make_campaign(db_url, numbers(CONTACTS, start=500), dial_mode="predictive", wrap_up_seconds=1,
                                  calls_per_minute=6000)
    env = dict(os.environ, DATABASE_URL=db_url, REDIS_URL=redis_url, REDIS_KEY_PREFIX=key_prefix,
               FREESWITCH_NODES=f"127.0.0.1:{sim.port}:ClueCon:10000:5000", IVR_LISTEN=f"127.0.0.1:{ivr_port}",
               DIALER_GATEWAY_CPS="0", DATA_DIR=str(tmp_path), RECORDINGS_DIR=str(tmp_path / "rec"))
    client = redis.Redis.from_url(redis_url)
    acd = Acd(client, key_prefix)
    monitor = Monitor(sim.port, key_prefix)
    runtime = _runtime(env, ivr_port)
    workers = [_worker(env) for _ in range(3)]
    born = [time.monotonic()] * len(workers)
    rng = random.Random(11)
    kills = 0
    orphaned: dict[str, str] = {}  # agent -> the call it held when its runtime was SIGKILLed
    restarted = None
    try:
        for a in AGENTS:
            acd.login(a, account, [camp], f"user/{a}")
        time.sleep(1.5)  # let the workers connect
        submit.start_campaign(camp, cfg=cfg)
        started = time.monotonic()
        deadline = started + 90
        while time.monotonic() < deadline:
            progress = submit.campaign_progress(camp, cfg=cfg)
            print(round(time.monotonic() - started, 1), progress["attempts"], kills, flush=True)
            if progress["status"] == "completed" or not progress["attempts"].get("queued"):
                break
            # Once, when agents are on calls, the runtime carrying those calls dies; a fresh one takes the
            # next calls. Nobody will release those agents but the dialer, on each call's hangup.
            if not orphaned and kills >= 1:
                held = {s.agent_id: s.call for s in acd.agents(camp) if s.state == "on_call" and s.call}
                if held:
                    runtime.send_signal(signal.SIGKILL)
                    runtime.wait()
                    orphaned = held
                    runtime = _runtime(env, ivr_port)
                    restarted = utcnow()
                    continue
            ready = [i for i in range(len(workers)) if time.monotonic() - born[i] > WORKER_MIN_AGE]
            if ready and kills < 5:
                i = rng.choice(ready)
                workers[i].send_signal(signal.SIGKILL)
                workers[i].wait()
                kills += 1
                workers[i] = _worker(env)
                born[i] = time.monotonic()
            time.sleep(rng.uniform(0.5, 2.5))
        wait_for(lambda: submit.campaign_progress(camp, cfg=cfg)["status"] == "completed", timeout=90, every=0.2)
        with db.session_scope(db_url) as s:
            wait_for(lambda: s.execute(sa.select(sa.func.count()).select_from(Cdr)
                                       .where(Cdr.campaign_id == camp)).scalar() == CONTACTS, timeout=15)
        # The last hangups' agents are released right after their records commit (the listener's side
        # effects): a moment, never more. An agent still on a call after that is stuck.
        until = time.monotonic() + 5
        while any(a.on_a_call for a in acd.agents(camp)) and time.monotonic() < until:
            time.sleep(0.1)
        agents = acd.agents(camp)
        run_queue(cfg, "records")
        print("runtime killed with agents on calls:", orphaned, "worker kills:", kills, flush=True)
    finally:
        for w in workers:
            _stop(w)
        _stop(runtime)
        monitor.stop()
        sim.stop()
        client.close()
        config.settings.cache_clear()
    assert kills >= 3 and orphaned

    # No agent is left stuck: every one of them ready or wrapping up, none holding a call, those whose
    # runtime died included.
    assert sorted(a.agent_id for a in agents) == AGENTS
    assert {a.state for a in agents} <= {"ready", "wrap_up"}, [(a.agent_id, a.state, a.call) for a in agents]
    assert all(a.call is None for a in agents)

    with db.session_scope(db_url) as s:
        rows = s.execute(sa.select(Attempt.id, Attempt.contact_id, Attempt.state)
                         .where(Attempt.campaign_id == camp)).all()
        cdrs = s.scalars(sa.select(Cdr).where(Cdr.campaign_id == camp)).all()
        on_call = s.scalars(sa.select(AgentEvent.call_uuid).where(AgentEvent.state == "on_call")).all()
        s.expunge_all()
    # Every contact has exactly one final attempt (no retries configured) and one CDR.
    assert len(rows) == CONTACTS and len({r.contact_id for r in rows}) == CONTACTS
    assert {r.state for r in rows} <= {"completed", "failed"}
    assert len(cdrs) == CONTACTS and len({c.uniqueid for c in cdrs}) == CONTACTS
    assert {c.attempt_id for c in cdrs} == {r.id for r in rows}
    # Nobody dialed twice: at most one originate per attempt, exactly one for every answered call.
    assert max(monitor.jobs.values()) == 1 and set(monitor.jobs) <= {r.id for r in rows}
    assert all(monitor.jobs.get(r.id) == 1 for r in rows if r.state == "completed")
    # One on_call per connected call. A call connected by the runtime that was killed has no facts (they died
    # with it), so neither an agent in its CDR nor an on_call row: connected calls are the CDRs naming an agent.
    connected = sorted(c.uniqueid for c in cdrs if c.agent_id)
    print("connected", len(connected), "answered", sum(r.state == "completed" for r in rows), flush=True)
    assert len(connected) >= 10, connected
    assert sorted(on_call) == connected
    assert {c.agent_id for c in cdrs if c.agent_id} <= set(AGENTS)
    assert not set(orphaned.values()) & set(connected)
    # The restarted runtime connected calls of its own.
    assert any(c.agent_id and c.started_at and c.started_at > restarted for c in cdrs)

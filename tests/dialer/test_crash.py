"""SIGKILL dialer workers at random moments during a 1,000-contact campaign: every contact dialed exactly once."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from dialer import submit
from dialer.store import db
from dialer.store.models import Attempt, Cdr
from tests.conftest import free_port

from .engine_helpers import Monitor, Sim, make_campaign, numbers, settings_for, wait_for

CONTACTS = 1000


def _spawn(env):
    return subprocess.Popen([sys.executable, "-m", "dialer", "worker", "--no-jobs", "--log-level", "ERROR"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.timeout(300)
def test_sigkilled_workers_lose_and_repeat_nothing(tmp_path, key_prefix, redis_url):
    # SQLite: the default store, and the one where several processes contend hardest (one writer at a time).
    db_url = f"sqlite:///{tmp_path / 'vaani.db'}"
    sim = Sim(free_port(), speed=50)
    ivr = free_port()
    cfg = settings_for(db_url, key_prefix, sim.port, ivr)
    _, camp = make_campaign(db_url, numbers(CONTACTS), calls_per_minute=3000)
    env = dict(os.environ, DATABASE_URL=db_url, REDIS_URL=redis_url, REDIS_KEY_PREFIX=key_prefix,
               FREESWITCH_NODES=f"127.0.0.1:{sim.port}:ClueCon:10000:5000", IVR_LISTEN=f"127.0.0.1:{ivr}",
               DIALER_GATEWAY_CPS="0")
    monitor = Monitor(sim.port, key_prefix)
    workers = [_spawn(env) for _ in range(3)]
    born = [time.monotonic()] * 3
    rng = random.Random(5)
    kills = 0
    try:
        wait_for(lambda: len(submit.campaign_progress(camp, cfg=cfg)["attempts"]) == 0 and
                 all(w.poll() is None for w in workers), timeout=10)
        time.sleep(1.0)  # let the workers connect
        submit.start_campaign(camp, cfg=cfg)
        deadline = time.monotonic() + 90
        # While the campaign runs, SIGKILL a random worker (one that has been up long enough to be dialing:
        # a fresh process needs a few seconds to import and connect) at random moments, and start a new one.
        while time.monotonic() < deadline:
            progress = submit.campaign_progress(camp, cfg=cfg)
            print(round(time.monotonic() - deadline + 90, 1), progress["attempts"], kills, flush=True)
            if progress["status"] == "completed" or not progress["attempts"].get("queued"):
                break
            ready = [i for i in range(len(workers)) if time.monotonic() - born[i] > 8]
            if ready and kills < 6:
                i = rng.choice(ready)
                workers[i].send_signal(signal.SIGKILL)
                workers[i].wait()
                kills += 1
                workers[i] = _spawn(env)
                born[i] = time.monotonic()
            time.sleep(rng.uniform(1.0, 3.0))
        wait_for(lambda: submit.campaign_progress(camp, cfg=cfg)["status"] == "completed", timeout=120)
        with db.session_scope(db_url) as s:
            wait_for(lambda: s.execute(sa.select(sa.func.count()).select_from(Cdr)
                                       .where(Cdr.campaign_id == camp)).scalar() == CONTACTS, timeout=15)
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(10)
            except subprocess.TimeoutExpired:
                w.kill()
        monitor.stop()
        sim.stop()
    assert kills >= 3
    with db.session_scope(db_url) as s:
        rows = s.execute(sa.select(Attempt.id, Attempt.contact_id, Attempt.state, Attempt.dial_status)
                         .where(Attempt.campaign_id == camp)).all()
        cdrs = s.execute(sa.select(Cdr.uniqueid, Cdr.attempt_id).where(Cdr.campaign_id == camp)).all()
    # Nobody forgotten: one attempt per contact (no retries configured), every one finished.
    assert len(rows) == CONTACTS and len({r.contact_id for r in rows}) == CONTACTS
    assert {r.state for r in rows} <= {"completed", "failed"}
    # Calls whose events died with their worker (and reached no other one) are settled as failed from
    # what was known (reconciled with FreeSWITCH: no channel), never dialed again.
    print("answered", sum(r.state == "completed" for r in rows), "settled as failed",
          sum(r.state == "failed" for r in rows), "kills", kills)
    # Nobody dialed twice: FreeSWITCH received at most one originate per attempt, and exactly one for every
    # answered one. (A worker killed between its launch gate and the socket write leaves an attempt that is
    # settled as failed without a call: "never twice" wins over "always once".)
    assert max(monitor.jobs.values()) == 1 and set(monitor.jobs) <= {r.id for r in rows}
    assert all(monitor.jobs.get(r.id) == 1 for r in rows if r.state == "completed")
    assert sum(monitor.jobs.values()) >= CONTACTS * 0.95
    # One CDR per call, none duplicated.
    assert len(cdrs) == CONTACTS and len({c.uniqueid for c in cdrs}) == CONTACTS
    assert {c.attempt_id for c in cdrs} == {r.id for r in rows}

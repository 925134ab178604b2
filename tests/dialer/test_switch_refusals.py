"""Originates the switch refuses before making a channel (over its sps or max-sessions) are dialled again.

The dialer is told more capacity than the switch has (FREESWITCH_NODES says sps 500; the simulator, like
a FreeSWITCH with a lower ``sessions-per-second``, takes 6 a second and answers the rest
``-ERR DESTINATION_OUT_OF_ORDER``, as FreeSWITCH 1.10 does). Every contact must still be reached, once
answered, and none recorded as failed.
"""

from __future__ import annotations

import sqlalchemy as sa

from dialer import submit
from dialer.engine import Dialer, EngineOptions
from dialer.store import db
from dialer.store.models import Attempt, Cdr
from tests.conftest import free_port

from .engine_helpers import Monitor, Sim, make_campaign, numbers, settings_for, wait_for


def test_refused_originates_are_paced_around_not_failed(db_url, key_prefix):
    sim = Sim(free_port(), speed=50, sps=6)
    port = sim.port
    cfg = settings_for(db_url, key_prefix, port, free_port(), FREESWITCH_NODES=f"127.0.0.1:{port}:ClueCon:10000:500")
    nums = numbers(12)
    _, camp = make_campaign(db_url, nums, calls_per_minute=6000, max_retries=0)
    monitor = Monitor(port, key_prefix)
    d = Dialer(cfg, options=EngineOptions(foreign_delay=0.3, recovery_grace=1.0)).start()
    refusals = []
    monitor.client.on_event = lambda e: (refusals.append(e) if e.body.startswith("-ERR") else None,
                                         monitor._on(e))
    try:
        submit.start_campaign(camp, cfg=cfg)
        wait_for(lambda: submit.campaign_progress(camp, cfg=cfg)["status"] == "completed", 60)
    finally:
        d.stop()
        monitor.stop()
        sim.stop()
    assert refusals and all("DESTINATION_OUT_OF_ORDER" in e.body for e in refusals)
    with db.session_scope(db_url) as s:
        cdrs = s.execute(sa.select(Cdr).where(Cdr.campaign_id == camp)).scalars().all()
        attempts = s.execute(sa.select(Attempt).where(Attempt.campaign_id == camp)).scalars().all()
        assert sorted(c.dialed_number for c in cdrs) == sorted(nums)
        assert {c.dial_status for c in cdrs} == {"ANSWER"}
        assert len(attempts) == len(nums) and {a.state for a in attempts} == {"completed"}
    # Each refused originate was sent again; each number was answered once.
    assert len(monitor.numbers) == len(nums) + len(refusals)

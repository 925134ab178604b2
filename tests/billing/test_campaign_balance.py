"""A campaign on a prepaid account, end to end on real parts: the API's CLI, the dialer engine, the FreeSWITCH
simulator over TCP, the IVR runtime, the records and callbacks queues on Redis, a real HTTP app and callback
receiver.

The balance pays 16 calls of their 60-second reservation: those 16 go out (each cut by FreeSWITCH's
sched_hangup when its 60 s are up, while the app would have waited five minutes), the campaign is *paused* —
not failed — with its other 8 contacts still queued, and the balance never goes below zero. ``vaani balance
topup`` resumes it and the rest are called. Every status callback carries the call's price and balance.
"""

from __future__ import annotations

import json

import gevent
import pytest
import redis as redislib
import sqlalchemy as sa
from rq import Queue, SimpleWorker

from dialer.engine import Dialer, EngineOptions
from dialer.store import db
from dialer.store.billing_models import BillingHold, BillingReservation
from dialer.store.models import Attempt, Campaign, Cdr
from ivr.runtime import build_runtime
from ivr.server import IvrServer
from tests.billing.helpers import balance, set_rates, topup
from tests.conftest import free_port
from tests.dialer.engine_helpers import Sim, make_campaign, numbers, settings_for, wait_for
from tests.ivr.appserver import AppServer

CARD = "service,prefix,rate,pulse\nvoice,1,0.60,1/1\n"
WAIT_A_MINUTE = '<response><collectdtmf l="1" o="300000"><playtext>Press a key</playtext></collectdtmf></response>'


def _app(params):
    return WAIT_A_MINUTE if params.get("event") == "NewCall" else "<response><hangup/></response>"


# SQLite, the default store, only: PostgreSQL's row locks are what the concurrency test runs on (test time budget).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_campaign_pauses_when_the_balance_runs_out_and_resumes_on_topup(store, redis_url, key_prefix, monkeypatch):
    app = AppServer().start()
    app.route("/ivr", _app)
    app.route("/cb", lambda p: "ok")
    env = {"DATABASE_URL": store, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": key_prefix,
           "BILLING_RESERVE_SECONDS": "60", "CALLBACK_BACKOFF": "0"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import config

    config.settings.cache_clear()
    # A call the balance cannot pay yet retries sooner than in production (the test waits for it).
    monkeypatch.setattr("dialer.engine.BILLING_WAIT_SECONDS", 0.3)
    ivr_port, port = free_port(), free_port()
    sim = Sim(port, speed=50)
    cfg = settings_for(store, key_prefix, port, ivr_port, REDIS_URL=redis_url, BILLING_RESERVE_SECONDS=60)
    runtime = build_runtime(cfg)
    server = IvrServer(runtime, f"127.0.0.1:{ivr_port}").start()
    account_id, campaign_id = make_campaign(store, numbers(24), campaign_type=1, doc_url=app.url("/ivr"),
                                            dialect="kookoo", callback_url=app.url("/cb"), calls_per_minute=6000)
    set_rates(store, account_id, CARD)
    topup(store, account_id, "9.60")  # 16 reservations of 60 s at 0.60/min (0.60 each)
    conn = redislib.Redis.from_url(redis_url)
    queues = [Queue(f"{key_prefix}-records", connection=conn), Queue(f"{key_prefix}-callbacks", connection=conn)]
    lowest = []
    running = [True]

    def work():
        while running[0]:
            SimpleWorker(queues, connection=conn).work(burst=True)
            lowest.append(balance(store, account_id).available)
            gevent.sleep(0.1)

    worker = gevent.spawn(work)
    dialer = Dialer(cfg, options=EngineOptions(foreign_delay=0.1)).start()
    try:
        from dialer import submit

        submit.start_campaign(campaign_id, cfg=cfg)
        def status():
            with db.session_scope(store) as s:
                return s.get(Campaign, campaign_id).status

        wait_for(lambda: status() == "paused", 30)

        def settled(n):
            with db.session_scope(store) as s:
                done = s.scalar(sa.select(sa.func.count()).select_from(BillingReservation)
                                .where(BillingReservation.state == "settled"))
                return done == n and s.scalar(sa.select(sa.func.count()).select_from(Cdr)
                                              .where(Cdr.callback_queued.is_(True))) == n

        wait_for(lambda: settled(16), 30)
        def states():
            with db.session_scope(store) as s:
                return dict(s.execute(sa.select(Attempt.state, sa.func.count()).where(
                    Attempt.campaign_id == campaign_id).group_by(Attempt.state)).all())

        # Paused, not failed: nobody was given up (lanes that had claimed give theirs back).
        wait_for(lambda: states() == {"completed": 16, "queued": 8}, 10)
        with db.session_scope(store) as s:
            assert s.get(BillingHold, campaign_id) is not None
        assert balance(store, account_id).balance == 0

        from api import cli

        assert cli.main(["balance", "topup", account_id, "4.80", "--note", "second tranche", "--by", "ops"]) == 0
        wait_for(lambda: status() == "completed", 40)
        wait_for(lambda: settled(24), 20)
        wait_for(lambda: len([r for r in app.requests_to("/cb") if r["body"]]) >= 24, 20)
    finally:
        dialer.stop()
        running[0] = False
        worker.join(10)
        sim.stop()
        server.stop(timeout=1)
        app.stop()
        config.settings.cache_clear()
    bal = balance(store, account_id)
    assert bal.balance == 0 and bal.reserved == 0
    assert min(lowest) >= 0
    with db.session_scope(store) as s:
        rows = s.execute(sa.select(Cdr.billsec, Cdr.hangup_cause).where(Cdr.campaign_id == campaign_id)).all()
        assert s.get(BillingHold, campaign_id) is None
    assert len(rows) == 24
    # FreeSWITCH cut every call when its 60 reserved seconds were up (the app would have waited 300 s).
    assert {cause for _, cause in rows} == {"ALLOTTED_TIMEOUT"}
    # The simulator runs 100x: a few ms of scheduling jitter are seconds of billsec; the price stays capped at
    # what the call held (0.60 below).
    assert all(59.5 <= b <= 80 for b, _ in rows), sorted(b for b, _ in rows)
    payloads = [json.loads(r["body"]) for r in app.requests_to("/cb") if r["body"]]
    assert {p["price"] for p in payloads} == {"0.60"}
    assert all(p["status"] == "delivered" for p in payloads)
    assert "0.00" in {p["balance"] for p in payloads}

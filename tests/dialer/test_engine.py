"""The dialing engine end to end: real simulator over TCP, real Redis, SQLite and PostgreSQL."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from dialer import submit
from dialer.engine import Dialer, EngineOptions
from dialer.store import db
from dialer.store.models import Attempt, CallRequest, Cdr, Contact, utcnow
from tests.conftest import free_port

from .engine_helpers import Monitor, Sim, make_campaign, numbers, settings_for, wait_for


@pytest.fixture
def sim():
    s = Sim(free_port(), speed=50)
    yield s
    s.stop()


def dialled(e164: str) -> str:
    """An E.164 number as the originate writes it with the default DIALER_NUMBER_FORMAT (e164: no ``+``)."""
    return e164[1:]


def _dialer(cfg, **opts):
    o = EngineOptions(foreign_delay=0.3, recovery_grace=1.0, **opts)
    return Dialer(cfg, options=o).start()


def _cdrs(url, **where):
    with db.session_scope(url) as s:
        q = sa.select(Cdr)
        for k, v in where.items():
            q = q.where(getattr(Cdr, k) == v)
        return s.execute(q).scalars().all()


def _attempts(url, **where):
    with db.session_scope(url) as s:
        q = sa.select(Attempt)
        for k, v in where.items():
            q = q.where(getattr(Attempt, k) == v)
        return s.execute(q).scalars().all()


def test_campaign_dnd_retries_alternates_exactly_once(db_url, key_prefix, sim):
    cfg = settings_for(db_url, key_prefix, sim.port, free_port())
    nums = numbers(20)
    busy = "+15559999486"  # the simulator's default scenario: ...486 is busy
    account, camp = make_campaign(db_url, nums + [busy], dnd=[nums[3]], account_dnd=[nums[4]],
                                  calls_per_minute=6000, max_retries=1, retry_time=0, retry_on_statuses=["BUSY"])
    # One contact whose main number is busy and whose alternate answers.
    with db.session_scope(db_url) as s:
        c = s.execute(sa.select(Contact).where(Contact.number == nums[5])).scalar_one()
        c.number = "+15558888486"
        c.alt_numbers = ["+15557777000"]
    monitor = Monitor(sim.port, key_prefix)
    d = _dialer(cfg)
    try:
        assert submit.start_campaign(camp, cfg=cfg) in ("scheduled", "running")
        wait_for(lambda: submit.campaign_progress(camp, cfg=cfg)["status"] == "completed")
        wait_for(lambda: len(_cdrs(db_url, campaign_id=camp)) == 23)  # 19 + 2 busy + 2 alternate legs
    finally:
        d.stop()
        monitor.stop()
    cdrs = _cdrs(db_url, campaign_id=camp)
    by_status = {}
    for r in cdrs:
        by_status.setdefault(r.dial_status, []).append(r.dialed_number)
    # DND contacts (campaign list and account list) were never dialed, and recorded as DND.
    assert sorted(by_status["DND"]) == sorted([nums[3], nums[4]])
    assert dialled(nums[3]) not in monitor.numbers and dialled(nums[4]) not in monitor.numbers
    # The busy number: first attempt and one retry, both BUSY.
    assert monitor.numbers.count(dialled(busy)) == 2 and by_status["BUSY"].count(busy) == 2
    # The contact with an alternate: main number busy, alternate tried in the same attempt and answered.
    assert monitor.numbers.count(dialled("+15558888486")) == 1 and monitor.numbers.count(dialled("+15557777000")) == 1
    alt = [a for a in _attempts(db_url, campaign_id=camp) if a.number == "+15557777000"][0]
    assert alt.attempt_no == 1 and alt.number_index == 1 and alt.dial_status == "ANSWER"
    # Every attempt that was dialed was dialed exactly once, and has exactly one CDR.
    dialed = [a for a in _attempts(db_url, campaign_id=camp) if a.state != "cancelled"]
    assert all(monitor.jobs.get(a.id) == 1 for a in dialed)
    assert sum(monitor.jobs.values()) == len(dialed)
    assert len({r.uniqueid for r in cdrs if r.uniqueid}) == len(dialed)
    assert all(a.state in ("completed", "failed") for a in dialed)


def test_pause_and_stop_take_effect_before_returning(db_url, key_prefix, sim):
    cfg = settings_for(db_url, key_prefix, sim.port, free_port())
    _, camp = make_campaign(db_url, numbers(400), calls_per_minute=1200)
    monitor = Monitor(sim.port, key_prefix)
    d = _dialer(cfg)
    try:
        submit.start_campaign(camp, cfg=cfg)
        wait_for(lambda: monitor.count >= 5)
        assert submit.pause_campaign(camp, cfg=cfg) == "paused"
        sent = d.originates_sent
        import gevent

        gevent.sleep(1.0)
        assert d.originates_sent == sent  # nothing sent after pause returned...
        assert monitor.count == sent  # ...and FreeSWITCH got exactly the originates sent before it
        at_pause = monitor.count
        assert submit.resume_campaign(camp, cfg=cfg) == "running"
        wait_for(lambda: monitor.count >= at_pause + 5)
        assert submit.stop_campaign(camp, cfg=cfg) == "stopped"
        sent = d.originates_sent
        gevent.sleep(1.0)
        assert d.originates_sent == sent and monitor.count == sent
        progress = submit.campaign_progress(camp, cfg=cfg)
        assert progress["status"] == "stopped" and progress["attempts"].get("queued", 0) == 0
        assert progress["attempts"]["cancelled"] > 300
        with pytest.raises(submit.SubmitError):
            submit.resume_campaign(camp, cfg=cfg)
    finally:
        d.stop()
        monitor.stop()


def test_date_window_and_calling_hours(db_url, key_prefix, sim):
    cfg = settings_for(db_url, key_prefix, sim.port, free_port())
    _, later = make_campaign(db_url, numbers(3), start_at=utcnow() + timedelta(seconds=2))
    # Calling hours that are closed right now in the campaign's zone: nothing is dialed, attempts wait.
    now = utcnow()
    closed_from = (now + timedelta(hours=2)).strftime("%H:%M")
    closed_to = (now + timedelta(hours=3)).strftime("%H:%M")
    acc, closed = make_campaign(db_url, numbers(3, 100), calling_hours_start=closed_from,
                                calling_hours_end=closed_to, time_zone="UTC")
    monitor = Monitor(sim.port, key_prefix)
    d = _dialer(cfg)
    try:
        submit.start_campaign(later, cfg=cfg)
        submit.start_campaign(closed, cfg=cfg)
        assert submit.campaign_progress(later, cfg=cfg)["status"] == "scheduled"
        wait_for(lambda: submit.campaign_progress(later, cfg=cfg)["status"] == "completed", timeout=20)
        assert len(monitor.numbers) == 3
        waiting = _attempts(db_url, campaign_id=closed)
        assert {a.state for a in waiting} == {"queued"}
        assert all(a.next_try_at > utcnow() + timedelta(hours=1) for a in waiting)
    finally:
        d.stop()
        monitor.stop()
    assert not set(monitor.numbers) & {dialled(n) for n in numbers(3, 100)}
    assert all(r.call_date >= r.created_at - timedelta(seconds=5) for r in _cdrs(db_url, campaign_id=later))


def _request(url, account, kind, params, **cols):
    from dialer.store.models import new_id

    rid = new_id()
    with db.session_scope(url) as s:
        s.add(CallRequest(id=rid, account_id=account, kind=kind, parameters=params, **cols))
    return rid


def test_single_call_requests(db_url, key_prefix, sim):
    cfg = settings_for(db_url, key_prefix, sim.port, free_port())
    account, _ = make_campaign(db_url, [])
    otp = _request(db_url, account, "otp", {"numbers": ["+15550001000"], "text": "1 2 3 4", "repeat": 2})
    kairos = _request(db_url, account, "kairos", {"numbers": ["+15550002486", "+15550002000"], "alternates": True,
                                                 "app_url": "http://app.example/flow.xml", "fields": {"k": "v"}})
    later = _request(db_url, account, "callback", {"numbers": ["+15550003000"], "destination_number": "+15550004000"},
                     scheduled_at=utcnow() + timedelta(seconds=2), status="scheduled")
    cancelled = _request(db_url, account, "callback", {"numbers": ["+15550005000"],
                                                       "destination_number": "+15550006000"},
                         scheduled_at=utcnow() + timedelta(seconds=2), status="scheduled")
    monitor = Monitor(sim.port, key_prefix)
    d = _dialer(cfg)
    try:
        ids = submit.submit_call_request(otp, cfg=cfg)
        assert submit.submit_call_request(otp, cfg=cfg) == ids  # idempotent
        submit.submit_call_request(kairos, cfg=cfg)
        submit.submit_call_request(later, cfg=cfg)
        submit.submit_call_request(cancelled, cfg=cfg)
        assert submit.cancel_call_request(cancelled, cfg=cfg) == 1
        wait_for(lambda: len(monitor.numbers) >= 3)
        assert dialled("+15550003000") not in monitor.numbers  # the callback is not due yet
        wait_for(lambda: dialled("+15550003000") in monitor.numbers, timeout=15)
        wait_for(lambda: len(_cdrs(db_url, request_id=later)) == 1)
        wait_for(lambda: len(_cdrs(db_url, request_id=kairos)) == 2)
    finally:
        d.stop()
        monitor.stop()
    # Kairos alternates in order: the busy main number, then the next one, which answered.
    assert [n for n in monitor.numbers if n in ("15550002486", "15550002000")] == ["15550002486", "15550002000"]
    assert dialled("+15550005000") not in monitor.numbers
    assert monitor.numbers.count(dialled("+15550001000")) == 1
    with pytest.raises(submit.SubmitError):
        submit.submit_call_request("nope", cfg=cfg)

"""The listener's application of channel events, driven directly (no switch): real store and Redis.

Each event is applied once however often it is delivered and however events are batched together,
and the side effects outside the database (slots, live counters, learning) happen once per call.
"""

from __future__ import annotations

import time
import uuid

import pytest
import sqlalchemy as sa

from dialer import attempts as _attempts
from dialer import live, submit
from dialer.engine import Dialer
from dialer.pacing import load_stats
from dialer.store import db
from dialer.store.models import Attempt, Cdr

from .engine_helpers import make_campaign, numbers, settings_for
from .store_helpers import hangup_headers

T0 = 1795329082.0


@pytest.fixture
def calls(db_url, key_prefix):
    """A dialer (not started: no switch needed) and three claimed campaign attempts holding their slots."""
    cfg = settings_for(db_url, key_prefix, 1, 2)
    account_id, campaign_id = make_campaign(db_url, numbers(3), max_retries=1, retry_time=0,
                                            retry_on_statuses=["NOANSWER", "BUSY"])
    submit.start_campaign(campaign_id, cfg=cfg)
    d = Dialer(cfg)
    node = next(iter(d.nodes.nodes.values()))
    with db.session_scope(d.db_url) as s:
        claimed = _attempts.claim_batch(s, d.worker_id, [str(uuid.uuid4()) for _ in range(3)], node.name,
                                        campaign_id=campaign_id)
    assert len(claimed) == 3
    slot_keys = [d.pacer.slots_key("account", account_id), d.nodes.slots_key(node),
                 d.pacer.slots_key("campaign", campaign_id)]
    for a in claimed:
        for key in slot_keys:
            d.redis.zadd(key, {a.origination_uuid: time.time() + 60})
        d.launched.add(a.origination_uuid)
    yield d, campaign_id, account_id, claimed, slot_keys
    db.dispose(d.db_url)


def _channel(name: str, a: Attempt, d: Dialer, **extra) -> tuple[str, str, dict, str]:
    h = {"Event-Name": name, "Unique-ID": a.origination_uuid, "variable_vaani_prefix": d.key_prefix,
         "variable_vaani_worker": d.worker_id, "variable_vaani_attempt_id": a.id, **extra}
    return name, a.origination_uuid, h, ""


def _answer(a, d):
    return _channel("CHANNEL_ANSWER", a, d, **{"Caller-Channel-Answered-Time": str(int((T0 + 3) * 1e6))})


def _hangup(a, d, *, answered: bool, cause: str):
    h = hangup_headers(a.origination_uuid, answered=answered, cause=cause, start=T0, attempt_id=a.id)
    h.update({"variable_vaani_prefix": d.key_prefix, "variable_vaani_worker": d.worker_id})
    if answered:
        h["Caller-Channel-Answered-Time"] = str(int((T0 + 3) * 1e6))
        h["Caller-Channel-Hangup-Time"] = h["variable_end_uepoch"]
    return "CHANNEL_HANGUP_COMPLETE", a.origination_uuid, h, ""


def _job(a, d, body: str):
    h = {"Event-Name": "BACKGROUND_JOB", "Job-UUID": a.origination_uuid,
         "Job-Command-Arg": f"{{origination_uuid={a.origination_uuid},vaani_prefix={d.key_prefix},"
                            f"vaani_worker={d.worker_id}}}sofia/gateway/g/{a.number} &park()"}
    return "BACKGROUND_JOB", a.origination_uuid, h, body


def _rows(url, model, **where):
    with db.session_scope(url) as s:
        q = sa.select(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return s.execute(q).scalars().all()


def test_events_apply_once_and_their_side_effects_happen_once(calls):
    d, campaign_id, account_id, (a, b, c), slot_keys = calls
    # a answers (counted live), then everything else arrives in one batch: a talks and hangs up,
    # b rings and is not answered, c's originate fails without a channel.
    d.listener.apply_many([_channel("CHANNEL_PROGRESS", a, d), _answer(a, d)])
    assert {x.state for x in _rows(d.db_url, Attempt, id=a.id)} == {"answered"}
    assert live.live_call_statistics(d.redis, d.key_prefix, account_id)["live_calls_campaign"] == 1
    rest = [_job(a, d, f"+OK {a.origination_uuid}\n"), _channel("CHANNEL_PROGRESS", b, d),
            _hangup(a, d, answered=True, cause="NORMAL_CLEARING"), _hangup(b, d, answered=False, cause="NO_ANSWER"),
            _job(c, d, "-ERR USER_BUSY\n")]
    d.listener.apply_many(rest)
    # Delivered again, together and one by one: nothing changes.
    d.listener.apply_many([_channel("CHANNEL_PROGRESS", a, d), _answer(a, d)] + rest)
    for item in rest:
        d.listener.apply(*item)

    states = {x.id: (x.state, x.dial_status) for x in _rows(d.db_url, Attempt, campaign_id=campaign_id)}
    assert states[a.id] == ("completed", "ANSWER")
    assert states[b.id] == ("failed", "NOANSWER")
    assert states[c.id] == ("failed", "BUSY")
    retries = [x for x in _rows(d.db_url, Attempt, campaign_id=campaign_id) if x.id not in (a.id, b.id, c.id)]
    assert sorted((x.number, x.attempt_no, x.state) for x in retries) == [(b.number, 2, "queued"),
                                                                          (c.number, 2, "queued")]
    cdrs = {x.uniqueid: x for x in _rows(d.db_url, Cdr, campaign_id=campaign_id)}
    assert set(cdrs) == {a.origination_uuid, b.origination_uuid, c.origination_uuid}
    assert (cdrs[a.origination_uuid].dial_status, cdrs[b.origination_uuid].dial_status,
            cdrs[c.origination_uuid].dial_status) == ("ANSWER", "NOANSWER", "BUSY")
    assert cdrs[a.origination_uuid].billsec == pytest.approx(4.12)

    # Side effects: counted once and uncounted, every slot free, one learned sample per finished call.
    assert live.live_call_statistics(d.redis, d.key_prefix, account_id)["live_calls_campaign"] == 0
    assert not live.live_channels(d.redis, d.key_prefix)
    for key in slot_keys:
        assert d.redis.zcard(key) == 0
    stats = load_stats(d.redis, d.key_prefix, campaign_id)
    assert stats.samples == 3
    assert stats.answer_rate == pytest.approx(0.81)  # 1 (a), then two unanswered calls weighted 0.1 each
    assert not d.launched


def test_a_hangup_after_an_originate_failure_merges_into_its_record(calls):
    d, campaign_id, account_id, (a, _b, _c), slot_keys = calls
    d.listener.apply_many([_job(a, d, "-ERR USER_BUSY\n")])
    assert _rows(d.db_url, Cdr, uniqueid=a.origination_uuid)[0].dial_status == "BUSY"
    d.launched.add(a.origination_uuid)  # the launcher merges the late hangup of a call it placed
    d.listener.apply_many([_hangup(a, d, answered=False, cause="NO_ANSWER")])
    (cdr,) = _rows(d.db_url, Cdr, uniqueid=a.origination_uuid)
    assert cdr.dial_status == "NOANSWER" and cdr.hangup_cause == "NO_ANSWER"
    # The attempt was final already: one follow-up (from the failure), one learned sample.
    assert [x.state for x in _rows(d.db_url, Attempt, id=a.id)] == ["failed"]
    assert len([x for x in _rows(d.db_url, Attempt, campaign_id=campaign_id) if x.attempt_no == 2]) == 1
    assert load_stats(d.redis, d.key_prefix, campaign_id).samples == 1


def test_a_whole_call_in_one_batch_with_duplicates(calls):
    d, campaign_id, account_id, (a, _b, _c), slot_keys = calls
    ok = _job(a, d, f"+OK {a.origination_uuid}\n")
    hangup = _hangup(a, d, answered=True, cause="NORMAL_CLEARING")
    d.listener.apply_many([_channel("CHANNEL_PROGRESS", a, d), _answer(a, d), ok, _answer(a, d),
                           _channel("CHANNEL_PROGRESS", a, d), hangup, ok, hangup])
    (row,) = _rows(d.db_url, Attempt, id=a.id)
    assert (row.state, row.dial_status) == ("completed", "ANSWER")
    assert [x.dial_status for x in _rows(d.db_url, Cdr, uniqueid=a.origination_uuid)] == ["ANSWER"]
    assert load_stats(d.redis, d.key_prefix, campaign_id).samples == 1
    assert live.live_call_statistics(d.redis, d.key_prefix, account_id)["live_calls_campaign"] == 0
    assert all(d.redis.zscore(key, a.origination_uuid) is None for key in slot_keys)


def _state(d, a) -> str:
    with db.session_scope(d.db_url) as s:
        return s.execute(sa.select(Attempt.state).where(Attempt.id == a.id)).scalar()


def test_events_wait_while_the_lanes_dial_but_never_longer_than_max_defer(calls):
    import gevent

    from freeswitch.wire import Event

    d, _, _, claimed, _ = calls
    d.listener.max_defer = 0.6
    d.listener.start()
    try:
        dialing = gevent.spawn(_keep_dialing, d, 5.0)
        gevent.sleep(0.02)  # a lane has sent: the calls' events come after their originates
        name, _, headers, body = _answer(claimed[0], d)
        t0 = time.monotonic()
        d.listener.on_event(Event(headers, body))
        gevent.sleep(0.3)
        assert _state(d, claimed[0]) == "dialing"  # held back while originates are going out
        while _state(d, claimed[0]) != "answered" and time.monotonic() - t0 < 5:
            gevent.sleep(0.02)
        assert _state(d, claimed[0]) == "answered"  # ...but not past max_defer while dialing goes on
        dialing.kill()
        # Not dialing: the next event is applied without waiting for the bound.
        d.listener.max_defer = 30.0
        name, _, headers, body = _answer(claimed[1], d)
        d.listener.on_event(Event(headers, body))
        deadline = time.monotonic() + 5
        while _state(d, claimed[1]) != "answered" and time.monotonic() < deadline:
            gevent.sleep(0.02)
        assert _state(d, claimed[1]) == "answered"
        # A full backlog is applied even while dialing.
        d.listener.max_backlog = 1
        dialing = gevent.spawn(_keep_dialing, d, 30.0)
        gevent.sleep(0.02)
        for ev in (_answer(claimed[2], d), _hangup(claimed[2], d, answered=True, cause="NORMAL_CLEARING")):
            d.listener.on_event(Event(ev[2], ev[3]))
        deadline = time.monotonic() + 5
        while _state(d, claimed[2]) != "completed" and time.monotonic() < deadline:
            gevent.sleep(0.02)
        assert _state(d, claimed[2]) == "completed"
        dialing.kill()
    finally:
        d.listener.stop()


def _keep_dialing(d, seconds: float) -> None:
    """Stand in for a lane sending originates back to back (what dialing_now() watches)."""
    import gevent

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        d._last_send = time.monotonic()
        gevent.sleep(0.005)


def test_a_batch_holding_whole_calls_applies_only_what_their_hangups_leave(calls):
    from dialer.listener import coalesce

    d, campaign_id, account_id, (a, b, c), slot_keys = calls
    ok = _job(a, d, f"+OK {a.origination_uuid}\n")
    hang_a = _hangup(a, d, answered=True, cause="NORMAL_CLEARING")
    hang_b = _hangup(b, d, answered=False, cause="NO_ANSWER")
    no_time = _hangup(c, d, answered=True, cause="NORMAL_CLEARING")
    del no_time[2]["Caller-Channel-Answered-Time"]
    batch = [_channel("CHANNEL_PROGRESS", a, d), _channel("CHANNEL_PROGRESS", b, d), _answer(a, d), ok,
             _answer(c, d), hang_a, hang_b, no_time]
    kept = coalesce(batch)
    # a: only its hangup; b: only its hangup; c: its answer stays (its hangup carries no answer time).
    assert [(n, u) for n, u, _, _ in kept] == [("CHANNEL_ANSWER", c.origination_uuid),
                                               ("CHANNEL_HANGUP_COMPLETE", a.origination_uuid),
                                               ("CHANNEL_HANGUP_COMPLETE", b.origination_uuid),
                                               ("CHANNEL_HANGUP_COMPLETE", c.origination_uuid)]
    d.listener.apply_many(batch)
    rows = {r.id: r for r in _rows(d.db_url, Attempt, campaign_id=campaign_id)}
    assert (rows[a.id].state, rows[a.id].dial_status) == ("completed", "ANSWER")
    assert rows[a.id].answered_at is not None and abs(
        (rows[a.id].answered_at - __import__("datetime").datetime.utcfromtimestamp(T0 + 3)).total_seconds()) < 0.01
    assert (rows[b.id].state, rows[b.id].dial_status) == ("failed", "NOANSWER")
    assert (rows[c.id].state, rows[c.id].dial_status) == ("completed", "ANSWER")
    assert len([x for x in rows.values() if x.attempt_no == 2]) == 1  # b's retry
    assert sorted(x.dial_status for x in _rows(d.db_url, Cdr)) == ["ANSWER", "ANSWER", "NOANSWER"]
    assert live.live_call_statistics(d.redis, d.key_prefix, account_id)["live_calls_campaign"] == 0
    assert all(d.redis.zscore(key, x.origination_uuid) is None for key in slot_keys for x in (a, b, c))


@pytest.mark.parametrize("cause", ["DESTINATION_OUT_OF_ORDER", "CHAN_NOT_IMPLEMENTED", "INVALID_GATEWAY",
                                   "SYSTEM_SHUTDOWN"])
def test_an_originate_the_switch_could_not_place_goes_back_to_the_queue(calls, cause):
    """Over its limits, starting up (no mod_sofia yet, no gateway yet) or shutting down: no channel was made,
    nothing is known of the number; the attempt is queued again (a later time, a new uuid), its slots freed."""
    d, campaign_id, account_id, (a, _b, _c), slot_keys = calls
    d.listener.apply_many([_job(a, d, f"-ERR {cause}\n")])
    (row,) = _rows(d.db_url, Attempt, id=a.id)
    assert (row.state, row.origination_uuid, row.attempt_no) == ("queued", None, a.attempt_no)
    assert row.next_try_at is not None
    assert _rows(d.db_url, Cdr, uniqueid=a.origination_uuid) == []
    assert all(d.redis.zscore(key, a.origination_uuid) is None for key in slot_keys)


def test_a_number_the_switch_refuses_for_ever_is_failed_in_the_end(calls):
    from dialer.listener import MAX_REFUSALS

    d, campaign_id, account_id, (a, _b, _c), slot_keys = calls
    d.redis.set(f"{d.key_prefix}:refused:{a.id}", MAX_REFUSALS)
    d.listener.apply_many([_job(a, d, "-ERR DESTINATION_OUT_OF_ORDER\n")])
    assert [x.state for x in _rows(d.db_url, Attempt, id=a.id)] == ["failed"]

"""Status callbacks delivered over real HTTP by a real RQ worker: retries, backoff, timeouts, every try logged."""

from __future__ import annotations

from datetime import datetime, timedelta

import redis
from rq import Queue
from sqlalchemy import select

from dialer import callbacks
from dialer.store import db
from dialer.store.models import CallbackDelivery, CallbackTry, Cdr, utcnow
from tests.conftest import free_port
from tests.dialer.store_helpers import cfg, make_account, receiver, run_queue, store  # noqa: F401


def _delivery(url, target, payload=None, key=None):
    with db.session_scope(url) as s:
        return callbacks.create_delivery(s, url=target, payload=payload or {"ref_id": "R1", "status": "delivered"},
                                         account_id="account_1", dedupe_key=key)


def _report(url, delivery_id):
    with db.session_scope(url) as s:
        return callbacks.delivery_report(s, delivery_id)


def test_konnect_time_format():
    t = datetime(2018, 11, 22, 12, 37, 12)  # naive UTC
    assert callbacks.konnect_time(t, "Asia/Kolkata") == "Nov 22, 2018 6:07:12 PM IST"
    assert callbacks.konnect_time(t, None) == "Nov 22, 2018 12:37:12 PM UTC"
    assert callbacks.konnect_time(t, "Not/AZone") == "Nov 22, 2018 12:37:12 PM UTC"
    assert callbacks.konnect_time(None, "UTC") == ""


def test_status_callback_reaches_a_real_receiver(store, cfg, receiver):
    make_account(store)
    with db.session_scope(store) as s:
        row = Cdr(account_id="account_1", uniqueid="u1", call_type="otp", dialed_number="+919979270001",
                  caller_id="+15168148111", dial_status="ANSWER", started_at=datetime(2018, 11, 22, 12, 37, 0),
                  answer=datetime(2018, 11, 22, 12, 37, 12), end=datetime(2018, 11, 22, 12, 37, 40),
                  dtmf_inputs="1,2", media_duration=12.5, final_status="end",
                  recordings=[{"name": "a.wav", "url": "http://h/a.wav"}])
        s.add(row)
        s.flush()
        payload = callbacks.status_payload(row, ref_id="AC5ef8732a", tz_name="Asia/Kolkata")
        delivery_id = callbacks.create_delivery(s, url=receiver.url("/status"), payload=payload, cdr_id=row.id,
                                                dedupe_key=f"status:{row.id}")
    callbacks.enqueue([delivery_id], cfg=cfg)
    run_queue(cfg, "callbacks")
    [body] = receiver.bodies("/status")
    assert body == {
        "ref_id": "AC5ef8732a", "recipient": "919979270001", "caller_id": "15168148111", "status": "delivered",
        "price": "", "balance": "", "error_code": "", "error_reason": "",
        "call_start_time": "Nov 22, 2018 6:07:00 PM IST", "call_end_time": "Nov 22, 2018 6:07:40 PM IST",
        "call_connect_time": "Nov 22, 2018 6:07:12 PM IST", "media_duration": "12.5", "key_pressed": "1,2",
        "media_url": "http://h/a.wav",
    }
    report = _report(store, delivery_id)
    assert (report["status"], report["attempts"], report["last_status_code"]) == ("delivered", 1, 200)
    assert report["tries"] == [{"try": 1, "status_code": 200, "error": None}]


def test_failing_receiver_is_retried_until_it_answers(store, cfg, receiver):
    make_account(store)
    receiver.plan["/flaky"] = [500, 503, 200]
    delivery_id = _delivery(store, receiver.url("/flaky"))
    callbacks.enqueue([delivery_id], cfg=cfg)
    run_queue(cfg, "callbacks")
    assert len(receiver.bodies("/flaky")) == 3
    report = _report(store, delivery_id)
    assert report["status"] == "delivered" and report["attempts"] == 3
    assert [t["error"] for t in report["tries"]] == ["HTTP 500", "HTTP 503", None]


def test_refusal_is_not_retried_and_dead_receiver_gives_up(store, cfg, receiver):
    make_account(store)
    receiver.plan["/gone"] = [404]
    refused = _delivery(store, receiver.url("/gone"))
    dead = _delivery(store, f"http://127.0.0.1:{free_port()}/nobody")
    callbacks.enqueue([refused, dead], cfg=cfg)
    run_queue(cfg, "callbacks")
    report = _report(store, refused)
    assert (report["status"], report["attempts"], report["last_error"]) == ("failed", 1, "HTTP 404")
    report = _report(store, dead)
    assert (report["status"], report["attempts"]) == ("failed", cfg.callback_max_tries)
    assert all(t["error"].startswith("connection failed") for t in report["tries"])


def test_slow_receiver_times_out_without_holding_others(store, cfg, receiver):
    make_account(store)
    receiver.plan["/slow"] = [("sleep", 3)]
    slow = _delivery(store, receiver.url("/slow"))
    fast = _delivery(store, receiver.url("/fast"))
    one_try = cfg.replace(callback_max_tries=1)
    callbacks.enqueue([slow, fast], cfg=one_try)
    run_queue(one_try, "callbacks")
    assert _report(store, fast)["status"] == "delivered"
    report = _report(store, slow)
    assert report["status"] == "failed" and {t["error"] for t in report["tries"]} == {"timed out"}
    with db.session_scope(store) as s:
        slow_try = s.scalars(select(CallbackTry).where(CallbackTry.delivery_id == slow)).one()
        fast_done = s.get(CallbackDelivery, fast).delivered_at
    assert fast_done < slow_try.at  # the fast receiver's callback went out while the slow one was still pending


def test_retry_waits_for_its_backoff(store, cfg, receiver):
    make_account(store)
    receiver.plan["/later"] = [500, 200]
    delivery_id = _delivery(store, receiver.url("/later"))
    slow_cfg = cfg.replace(callback_backoff=30.0)
    callbacks.deliver(delivery_id, cfg=slow_cfg, wait=True)
    with db.session_scope(store) as s:
        row = s.get(CallbackDelivery, delivery_id)
        assert row.status == "pending" and row.next_try_at > utcnow() + timedelta(seconds=25)
    # the retry is scheduled in RQ, not runnable now
    conn = redis.Redis.from_url(cfg.redis_url)
    queue = Queue(f"{cfg.key_prefix}-callbacks", connection=conn)
    assert queue.count == 0 and len(queue.scheduled_job_registry) == 1
    assert callbacks.deliver(delivery_id, cfg=slow_cfg)["skipped"]  # too early: does nothing
    conn.close()
    assert len(receiver.bodies("/later")) == 1


def test_duplicate_jobs_deliver_once_and_lost_jobs_are_requeued(store, cfg, receiver):
    make_account(store)
    delivery_id = _delivery(store, receiver.url("/once"), key="status:42")
    assert _delivery(store, receiver.url("/once"), key="status:42") == delivery_id
    callbacks.enqueue([delivery_id, delivery_id], cfg=cfg)
    run_queue(cfg, "callbacks")
    assert len(receiver.bodies("/once")) == 1

    lost = _delivery(store, receiver.url("/lost"))  # written, but its job never reached Redis
    assert callbacks.requeue_due(cfg, grace=60) == 0  # not overdue yet
    with db.session_scope(store) as s:
        s.get(CallbackDelivery, lost).next_try_at = utcnow() - timedelta(seconds=120)
    assert callbacks.requeue_due(cfg, grace=60) == 1
    run_queue(cfg, "callbacks")
    assert len(receiver.bodies("/lost")) == 1 and _report(store, lost)["status"] == "delivered"


def test_accepted_callback(store, cfg, receiver):
    make_account(store)
    with db.session_scope(store) as s:
        delivery_id = callbacks.queue_accepted(
            s, url=receiver.url("/acc"), account_id="account_1", request_id="r1", konnect_id="A10579090909090",
            ref_ids=[("+919886038842", "AC5e"), ("+919886038843", "BD6e")])
        assert callbacks.queue_accepted(s, url=receiver.url("/acc"), account_id="account_1", request_id="r1",
                                        ref_ids=[]) == delivery_id
    callbacks.enqueue([delivery_id], cfg=cfg)
    run_queue(cfg, "callbacks")
    assert receiver.bodies("/acc") == [{
        "id": "A10579090909090", "status": "accepted",
        "ref_ids": [{"phone_number": "919886038842", "ref_id": "AC5e"},
                    {"phone_number": "919886038843", "ref_id": "BD6e"}],
    }]
    with db.session_scope(store) as s:
        assert s.scalars(select(CallbackDelivery)).one().kind == "accepted"


def test_a_lone_job_makes_its_try_before_it_ends(store, cfg, receiver):
    """With nothing queued behind it the job tries inline: "job done" means "try made"."""
    from rq import SimpleWorker

    make_account(store)
    delivery_id = _delivery(store, receiver.url("/lone"))
    callbacks.enqueue([delivery_id], cfg=cfg)
    conn = redis.Redis.from_url(cfg.redis_url)
    SimpleWorker([Queue(f"{cfg.key_prefix}-callbacks", connection=conn)], connection=conn).work(burst=True)
    conn.close()
    assert _report(store, delivery_id)["status"] == "delivered"
    assert len(receiver.bodies("/lone")) == 1

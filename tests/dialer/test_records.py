"""CDRs from both halves (hangup event, IVR facts) in any order, duplicates, DND, queries and statistics."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
import redis
from rq import Queue
from sqlalchemy import func, select

from dialer import cdr_reports, dial_status, records
from dialer.store import db
from dialer.store.models import Attempt, CallbackDelivery, CallRequest, Campaign, Cdr, ContactList
from ivr.call_spec import FACTS_JOB, CallFacts, CallSpec, ClickToCall
from tests.dialer.store_helpers import cfg, hangup_headers, make_account, run_queue, store  # noqa: F401


def test_dial_status_table():
    assert dial_status.dial_status_for("NORMAL_CLEARING", True) == "ANSWER"
    assert dial_status.dial_status_for("USER_BUSY", True) == "ANSWER"  # answered wins over the cause
    assert dial_status.dial_status_for("USER_BUSY", False) == "BUSY"
    assert dial_status.dial_status_for("NO_ANSWER", False) == "NOANSWER"
    assert dial_status.dial_status_for("ORIGINATOR_CANCEL", False) == "CANCEL"
    assert dial_status.dial_status_for("UNALLOCATED_NUMBER", False) == "CHANUNAVAIL"
    assert dial_status.dial_status_for("-ERR NORMAL_CIRCUIT_CONGESTION", False) == "CONGESTION"
    assert dial_status.dial_status_for("SOMETHING_NEW", False) == "CHANUNAVAIL"
    assert set(dial_status.DIAL_STATUS_BY_CAUSE.values()) <= set(dial_status.DIAL_STATUSES)


def test_every_table_entry_is_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "cdr.md").read_text()
    for cause, status in dial_status.DIAL_STATUS_BY_CAUSE.items():
        assert f"| `{cause}` | {status} |" in doc


def _otp_call(url, *, callback_url=None, request_id="ae63e9576e"):
    make_account(url)
    with db.session_scope(url) as s:
        s.add(CallRequest(id=request_id, account_id="account_1", kind="otp", callback_url=callback_url,
                          time_zone="Asia/Kolkata", parameters={"otp": "1987"}))
        s.flush()
        a = Attempt(account_id="account_1", request_id=request_id, call_type="otp", number="+919979270001",
                    origination_uuid=str(uuid.uuid4()), ref_id="REF1")
        s.add(a)
        s.flush()
        spec = CallSpec(call_type="otp", request_id=request_id, attempt_id=a.id, account_id="account_1",
                        caller_id="+15168148111", called_number="+919979270001")
        return a.id, a.origination_uuid, spec


def _facts(uuid_, attempt_id, request_id="ae63e9576e"):
    return CallFacts(uuid=uuid_, call_type="otp", request_id=request_id, attempt_id=attempt_id,
                     account_id="account_1", called_number="+919979270001", answered_at=1795329085.0,
                     ended_at=1795329089.12, dtmf_inputs=["1", "2"], media_duration=3.5,
                     recordings=[{"name": "r1.wav", "url": "http://x/r1.wav", "duration_ms": 1200}])


def _snapshot(url):
    with db.session_scope(url) as s:
        rows = s.scalars(select(Cdr)).all()
        deliveries = s.scalar(select(func.count()).select_from(CallbackDelivery))
        out = []
        for r in rows:
            d = cdr_reports.to_seed(r)
            d.pop("id")
            out.append((d, r.recordings, r.media_duration, r.hangup_recorded, r.ivr_recorded, r.callback_queued))
        return out, deliveries


@pytest.mark.parametrize("order", ["hangup-first", "facts-first", "duplicates"])
def test_both_halves_in_any_order_give_one_record(store, cfg, order):
    attempt_id, call_uuid, spec = _otp_call(store, callback_url="http://127.0.0.1:9/cb")
    headers = hangup_headers(call_uuid, spec=spec, attempt_id=attempt_id, request_id=spec.request_id)
    facts = _facts(call_uuid, attempt_id).to_dict()

    def hangup():
        return records.handle_channel_hangup(headers, cfg=cfg)

    def ivr():
        return records.ivr_call_finished(facts, cfg=cfg)

    steps = {"hangup-first": [hangup, ivr], "facts-first": [ivr, hangup],
             "duplicates": [ivr, hangup, ivr, hangup, hangup, ivr]}[order]
    results = [step() for step in steps]
    completed = [r for r in results if (r.completed if isinstance(r, records.Recorded) else r["completed"])]
    assert len(completed) == 1  # exactly one write completes the record and queues the callback

    rows, deliveries = _snapshot(store)
    assert deliveries == 1
    assert len(rows) == 1
    seed, recordings, media, h, i, queued = rows[0]
    assert (h, i, queued) == (True, True, True)
    assert seed == {
        "account_id": "account_1",
        "agent_number": "",
        "answer": "Sun, 22 Nov 2026 06:31:25 GMT",
        "billsec": 4.12,
        "call_date": "Sun, 22 Nov 2026 06:31:29 GMT",  # seed 002: call_date is when the call ended
        "call_direction": "outbound-api",
        "call_duration": 7.12,
        "call_status": "ANSWERED",
        "caller_id": "15168148111",
        "customer_number": "919979270001",
        "destination_context": "local_call",
        "dial_status": "ANSWER",
        "dialed_number": "919979270001",
        "dtmf_inputs": "1,2",
        "end": "Sun, 22 Nov 2026 06:31:29 GMT",
        "recording_name": "r1.wav",
        "request_id": "ae63e9576e",
        "uniqueid": call_uuid,
    }
    assert media == 3.5 and recordings[0]["url"] == "http://x/r1.wav"
    # the status callback job is on the callbacks queue
    conn = redis.Redis.from_url(cfg.redis_url)
    assert Queue(f"{cfg.key_prefix}-callbacks", connection=conn).count == 1
    conn.close()


def test_unanswered_call_completes_on_hangup_alone(store, cfg):
    attempt_id, call_uuid, spec = _otp_call(store, callback_url="http://127.0.0.1:9/cb")
    result = records.handle_channel_hangup(
        hangup_headers(call_uuid, answered=False, cause="USER_BUSY", spec=spec, attempt_id=attempt_id), cfg=cfg)
    assert result.completed and len(result.deliveries) == 1
    with db.session_scope(store) as s:
        row = s.scalars(select(Cdr)).one()
        assert (row.dial_status, row.call_status, row.billsec, row.answer) == ("BUSY", "BUSY", 0.0, None)
        payload = s.get(CallbackDelivery, result.deliveries[0]).payload
    assert payload["status"] == "failed" and payload["error_code"] == "BUSY"
    assert payload["ref_id"] == "REF1" and payload["recipient"] == "919979270001"
    assert payload["call_start_time"] == "Nov 22, 2026 12:01:22 PM IST"  # the request's time zone
    assert payload["call_connect_time"] == ""


def test_originate_failure_then_hangup_of_the_same_channel(store, cfg):
    attempt_id, call_uuid, spec = _otp_call(store)
    first = records.handle_originate_failure(attempt_id, "-ERR NO_ANSWER", cfg=cfg)
    assert first.completed
    records.handle_channel_hangup(
        hangup_headers(call_uuid, answered=False, cause="NO_ANSWER", spec=spec, attempt_id=attempt_id), cfg=cfg)
    records.handle_originate_failure(attempt_id, "-ERR NO_ANSWER", cfg=cfg)  # a duplicate BACKGROUND_JOB
    with db.session_scope(store) as s:
        row = s.scalars(select(Cdr)).one()
        assert (row.uniqueid, row.attempt_id, row.dial_status, row.hangup_cause) == (
            call_uuid, attempt_id, "NOANSWER", "NO_ANSWER")
        assert row.started_at.year == 2026 and row.fs_node == "fs1"  # the hangup event's facts won


def test_originate_refused_without_channel(store, cfg):
    attempt_id, _, _ = _otp_call(store)
    with db.session_scope(store) as s:
        s.get(Attempt, attempt_id).origination_uuid = None
    records.handle_originate_failure(attempt_id, "-ERR GATEWAY_DOWN", cfg=cfg)
    records.handle_originate_failure(attempt_id, "-ERR GATEWAY_DOWN", cfg=cfg)
    with db.session_scope(store) as s:
        row = s.scalars(select(Cdr)).one()
        assert (row.uniqueid, row.dial_status, row.call_status) == (None, "CHANUNAVAIL", "FAILED")
        assert cdr_reports.to_seed(row)["uniqueid"] == ""
    with pytest.raises(ValueError, match="unknown attempt"):
        records.handle_originate_failure("nope", "-ERR X", cfg=cfg)


def test_click2call_record_names_agent_and_customer(store, cfg):
    make_account(store)
    spec = CallSpec(call_type="click2call", request_id="57362de4f0", account_id="account_1",
                    caller_id="+15168148111", called_number="+919979270001",
                    click2call=ClickToCall(destination="+918000680001"))
    u = str(uuid.uuid4())
    records.handle_channel_hangup(hangup_headers(u, spec=spec), cfg=cfg)
    with db.session_scope(store) as s:
        seed = cdr_reports.to_seed(s.scalars(select(Cdr)).one())
    assert (seed["agent_number"], seed["customer_number"], seed["destination_context"]) == (
        "919979270001", "918000680001", "click2call")


def _campaign(url):
    make_account(url)
    make_account(url, "account_2")
    with db.session_scope(url) as s:
        s.add(ContactList(id="LS50f6ec70b7", account_id="account_1", name="l"))
        s.flush()
        s.add(Campaign(id="CM39139118b8", account_id="account_1", name="c", list_id="LS50f6ec70b7",
                       caller_id="+15168148720", campaign_type=0))


def test_campaign_records_dnd_and_statistics(store, cfg):
    _campaign(store)
    with db.session_scope(store, immediate=True) as s:
        for _ in range(2):  # loading the campaign twice records the DND contact once
            records.record_dnd(s, account_id="account_1", number="+918000680001", campaign_id="CM39139118b8")
        records.record_dnd(s, account_id="account_1", number="+918000680002", campaign_id="CM39139118b8")
    outcomes = [("NORMAL_CLEARING", True), ("USER_BUSY", False), ("NO_ANSWER", False), ("NO_ANSWER", False),
                ("ORIGINATOR_CANCEL", False), ("UNALLOCATED_NUMBER", False), ("SWITCH_CONGESTION", False)]
    for cause, answered in outcomes:
        spec = CallSpec(call_type="campaign", account_id="account_1", campaign_id="CM39139118b8",
                        called_number="+919979270001")
        records.handle_channel_hangup(hangup_headers(str(uuid.uuid4()), spec=spec, answered=answered, cause=cause),
                                      cfg=cfg)
    # another account's call on the same day is never counted or shown
    records.handle_channel_hangup(hangup_headers(str(uuid.uuid4()), spec=CallSpec(
        call_type="otp", account_id="account_2", called_number="+919979270009")), cfg=cfg)

    with db.session_scope(store) as s:
        stats = cdr_reports.get_campaign_cdr_statistics(s, "account_1", "CM39139118b8")
        assert stats == {"answer_calls": [1], "busy_calls": [1], "cancel_calls": [1], "chanunavail_calls": [1],
                         "congestion_calls": [1], "dnd_calls": [2], "noanswer_calls": [2], "total_calls": [9]}
        assert list(stats) == ["answer_calls", "busy_calls", "cancel_calls", "chanunavail_calls",
                               "congestion_calls", "dnd_calls", "noanswer_calls", "total_calls"]
        account = cdr_reports.get_cdr_statistics(s, "account_1")
        assert "dnd_calls" not in account and account["total_calls"] == [9]
        assert cdr_reports.get_cdr_statistics(s, "account_2")["total_calls"] == [1]
        assert cdr_reports.get_campaign_cdr_statistics(s, "account_2", "CM39139118b8")["total_calls"] == [0]

        cdrs = cdr_reports.get_cdr_by_campaign_id(s, "account_1", "CM39139118b8")
        assert len(cdrs) == 9
        dnd = cdrs[0]
        assert dnd["dial_status"] == "DND" and dnd["is_dnd"] == "1" and dnd["list_id"] == "LS50f6ec70b7"
        assert (dnd["answer"], dnd["end"], dnd["billsec"], dnd["call_status"], dnd["uniqueid"]) == (
            "Thu, 01 Jan 1970 00:00:00 GMT", "Thu, 01 Jan 1970 00:00:00 GMT", None, None, "")
        assert (dnd["call_direction"], dnd["destination_context"], dnd["caller_id"]) == (
            "outbound-campaign", "local_call_campaign_type_0", "15168148720")
        assert cdrs[2]["is_dnd"] == "0" and cdrs[2]["dial_status"] == "ANSWER"
        assert cdr_reports.get_cdr_by_campaign_id(s, "account_2", "CM39139118b8") == []


def test_cdr_by_date_with_count_and_offset(store, cfg):
    make_account(store)
    make_account(store, "account_2")
    day = 86400.0
    base = 1795329082.0  # 2026-11-22 06:31:22 UTC
    for i, start in enumerate([base - 2 * day, base - day, base, base + 10, base + 20, base + day]):
        spec = CallSpec(call_type="otp", account_id="account_1", request_id=f"r{i}", called_number="+919979270001")
        records.handle_channel_hangup(hangup_headers(str(uuid.uuid4()), spec=spec, start=start), cfg=cfg)
    records.handle_channel_hangup(hangup_headers(str(uuid.uuid4()), spec=CallSpec(
        call_type="otp", account_id="account_2", request_id="x", called_number="+919979270001")), cfg=cfg)
    with db.session_scope(store) as s:
        got = cdr_reports.get_cdr_by_date(s, "account_1", "2026-11-21", "2026-11-22")
        assert [c["request_id"] for c in got] == ["r1", "r2", "r3", "r4"]
        got = cdr_reports.get_cdr_by_date(s, "account_1", date(2026, 11, 21), "2026-11-22", record_count=2, offset=1)
        assert [c["request_id"] for c in got] == ["r2", "r3"]
        assert cdr_reports.get_cdr_by_date(s, "account_1", "2026-11-22", "2026-11-22", "5", "0")[0]["request_id"] == "r2"
        assert [c["request_id"] for c in cdr_reports.get_cdr_by_request_id(s, "account_1", "r3")] == ["r3"]
        assert cdr_reports.get_cdr_by_request_id(s, "account_2", "r3") == []
        with pytest.raises(ValueError, match="start_call_date"):
            cdr_reports.get_cdr_by_date(s, "account_1", "13/06/2023", "2026-11-22")
        with pytest.raises(ValueError, match="record_count must be a whole number"):
            cdr_reports.get_cdr_by_date(s, "account_1", "2026-11-22", "2026-11-22", record_count="ten")
        with pytest.raises(ValueError, match="offset must not be negative"):
            cdr_reports.get_cdr_by_date(s, "account_1", "2026-11-22", "2026-11-22", offset="-1")
        with pytest.raises(ValueError, match="before"):
            cdr_reports.get_cdr_by_date(s, "account_1", "2026-11-22", "2026-11-21")


@pytest.mark.parametrize("facts_first", [False, True])
def test_inbound_call_is_matched_to_its_number(store, cfg, facts_first):
    from dialer.store.models import InboundNumber

    make_account(store)
    with db.session_scope(store) as s:
        s.add(InboundNumber(number="+918000680000", account_id="account_1", app_url="http://x/app",
                            callback_url="http://127.0.0.1:9/in"))
    u = str(uuid.uuid4())
    facts = CallFacts(uuid=u, call_type="inbound", direction="inbound", account_id="account_1",
                      caller_id="+919979270001", called_number="+918000680000", dtmf_inputs=["5"]).to_dict()
    if facts_first:
        assert not records.ivr_call_finished(facts, cfg=cfg)["completed"]
    result = records.handle_channel_hangup(
        hangup_headers(u, destination="918000680000", caller="919979270001", direction="inbound"), cfg=cfg)
    assert result.completed == facts_first  # answered: complete only with the IVR half
    if not facts_first:
        assert records.ivr_call_finished(facts, cfg=cfg)["completed"]
    with db.session_scope(store) as s:
        row = s.scalars(select(Cdr)).one()
        assert (row.account_id, row.call_type, row.call_direction, row.dialed_number, row.customer_number,
                row.dtmf_inputs) == ("account_1", "inbound", "inbound", "+918000680000", "+919979270001", "5")
        d = s.scalars(select(CallbackDelivery)).one()
        assert d.url == "http://127.0.0.1:9/in" and d.payload["recipient"] == "919979270001"


def test_ivr_facts_job_through_a_real_rq_worker(store, cfg):
    """Contract 3: the runtime enqueues by dotted name on <prefix>-records; a real worker runs it."""
    attempt_id, call_uuid, spec = _otp_call(store, callback_url="http://127.0.0.1:9/cb")
    conn = redis.Redis.from_url(cfg.redis_url)
    q = Queue(f"{cfg.key_prefix}-records", connection=conn)
    q.enqueue(FACTS_JOB, _facts(call_uuid, attempt_id).to_dict(), cfg=cfg)
    run_queue(cfg, "records")
    records.handle_channel_hangup(hangup_headers(call_uuid, spec=spec, attempt_id=attempt_id), cfg=cfg)
    with db.session_scope(store) as s:
        row = s.scalars(select(Cdr)).one()
        assert row.ivr_recorded and row.hangup_recorded and row.dtmf_inputs == "1,2"
    assert Queue(f"{cfg.key_prefix}-callbacks", connection=conn).count == 1
    conn.close()


def test_stale_halves_are_completed(store, cfg):
    attempt_id, call_uuid, spec = _otp_call(store, callback_url="http://127.0.0.1:9/cb")
    records.handle_channel_hangup(hangup_headers(call_uuid, spec=spec, attempt_id=attempt_id), cfg=cfg)
    assert records.complete_stale(cfg, older_than=60) == 0  # still young
    assert records.complete_stale(cfg, older_than=-1) == 1
    assert records.complete_stale(cfg, older_than=-1) == 0
    with db.session_scope(store) as s:
        assert s.scalar(select(func.count()).select_from(CallbackDelivery)) == 1


def test_facts_without_a_hangup_are_completed_from_the_facts(store, cfg):
    attempt_id, call_uuid, _ = _otp_call(store, callback_url="http://127.0.0.1:9/cb")
    records.ivr_call_finished(_facts(call_uuid, attempt_id).to_dict(), cfg=cfg)  # the hangup event was lost
    assert records.complete_stale(cfg, older_than=-1) == 1
    with db.session_scope(store) as s:
        row = s.scalars(select(Cdr)).one()
        assert (row.dial_status, row.call_status, row.billsec) == ("ANSWER", "ANSWERED", 4.12)
        assert row.callback_queued and s.scalar(select(func.count()).select_from(CallbackDelivery)) == 1


def test_bad_input_is_refused_clearly(store, cfg):
    with pytest.raises(ValueError, match="Unique-ID"):
        records.handle_channel_hangup({"Event-Name": "CHANNEL_HANGUP_COMPLETE"}, cfg=cfg)
    with pytest.raises(ValueError, match="uuid"):
        records.ivr_call_finished({"uuid": "", "call_type": "otp"}, cfg=cfg)
    # a damaged call spec still gives a record (of unknown account) instead of losing the call
    h = hangup_headers(str(uuid.uuid4()))
    h["variable_vaani_call"] = "%%%not-base64"
    records.handle_channel_hangup(h, cfg=cfg)
    with db.session_scope(store) as s:
        assert s.scalars(select(Cdr)).one().account_id == ""

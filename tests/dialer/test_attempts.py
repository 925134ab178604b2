"""Atomic claims on SQLite and PostgreSQL: concurrent processes never take the same attempt."""

import json
import subprocess
import sys

import sqlalchemy as sa

from dialer import attempts
from dialer.store import db
from dialer.store.models import Attempt

from .engine_helpers import make_campaign, numbers

_CLAIMER = r"""
import json, sys, uuid
from dialer import attempts
from dialer.store import db
url, camp, worker = sys.argv[1], sys.argv[2], sys.argv[3]
got = []
while True:
    with db.session_scope(url) as s:
        a = attempts.claim_next(s, worker, str(uuid.uuid4()), "n1", campaign_id=camp)
    if a is None:
        break
    got.append(a.id)
print(json.dumps(got))
"""


def _queue(url, camp, account, nums):
    with db.session_scope(url) as s:
        for i, n in enumerate(nums):
            attempts.add_attempt(s, account_id=account, call_type="campaign", number=n, campaign_id=camp,
                                 contact_id=i)


def test_concurrent_claims_take_each_attempt_once(db_url):
    account, camp = make_campaign(db_url, [])
    _queue(db_url, camp, account, numbers(200))
    procs = [subprocess.Popen([sys.executable, "-c", _CLAIMER, db_url, camp, f"w{i}"], stdout=subprocess.PIPE,
                              text=True) for i in range(4)]
    claimed = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        claimed += json.loads(out)
    assert len(claimed) == 200 and len(set(claimed)) == 200
    with db.session_scope(db_url) as s:
        rows = s.execute(sa.select(Attempt.state, Attempt.origination_uuid, Attempt.claimed_by)).all()
    assert {r.state for r in rows} == {"dialing"}
    assert len({r.origination_uuid for r in rows}) == 200


def test_release_transition_retry_and_recovery(db_url):
    account, camp = make_campaign(db_url, [])
    _queue(db_url, camp, account, ["+15550000001"])
    with db.session_scope(db_url) as s:
        a = attempts.claim_next(s, "w1", "11111111-1111-4111-8111-111111111111", "n1", campaign_id=camp)
        assert a is not None and a.state == "dialing"
        assert attempts.claim_next(s, "w2", "22222222-2222-4222-8222-222222222222", "n1", campaign_id=camp) is None
    with db.session_scope(db_url) as s:
        assert not attempts.release(s, a.id, "someone-else")
        assert attempts.release(s, a.id, "w1")
    with db.session_scope(db_url) as s:
        a = attempts.claim_next(s, "w2", "33333333-3333-4333-8333-333333333333", "n1", campaign_id=camp)
        assert a.claimed_by == "w2"
    uuid3 = "33333333-3333-4333-8333-333333333333"
    with db.session_scope(db_url) as s:
        assert attempts.transition(s, uuid3, ["dialing"], "ringing") is not None
        # The same event again changes nothing.
        assert attempts.transition(s, uuid3, ["dialing"], "ringing") is None
        done = attempts.transition(s, uuid3, ["dialing", "ringing", "answered"], "failed", dial_status="NOANSWER")
        nxt = attempts.next_attempt(s, done, "NOANSWER", ["+15550000001", "+15550000002"], max_retries=1,
                                    retry_time=0, retry_on=["NOANSWER"])
        assert nxt.number == "+15550000002" and nxt.attempt_no == 1 and nxt.number_index == 1
    with db.session_scope(db_url) as s:
        b = attempts.claim_next(s, "w2", "44444444-4444-4444-8444-444444444444", "n1", campaign_id=camp)
        last = attempts.transition(s, b.origination_uuid, ["dialing"], "failed", dial_status="BUSY")
        retry = attempts.next_attempt(s, last, "BUSY", ["+15550000001", "+15550000002"], max_retries=1,
                                      retry_time=0, retry_on=["NOANSWER"])
        assert retry is None  # BUSY is not a retry status here
        retry = attempts.next_attempt(s, last, "NOANSWER", ["+15550000001", "+15550000002"], max_retries=1,
                                      retry_time=0, retry_on=["NOANSWER"])
        assert retry.attempt_no == 2 and retry.number == "+15550000001"
    # A dead worker's unlaunched claim goes back to the queue; a live worker's is left alone.
    with db.session_scope(db_url) as s:
        c = attempts.claim_next(s, "dead", "55555555-5555-4555-8555-555555555555", "n1", campaign_id=camp)
    with db.session_scope(db_url) as s:
        from dialer.store.models import utcnow
        stale = attempts.stale_claims(s, {"w2"}, utcnow())
        assert [x.id for x in stale] == [c.id]
        assert attempts.requeue_unlaunched(s, c.id, "dead")
        assert attempts.counts(s, camp) == {"queued": 1, "failed": 2}


def test_a_transition_returns_the_row_as_stored(db_url):
    from datetime import datetime

    account, camp = make_campaign(db_url, [])
    _queue(db_url, camp, account, ["+15550000001"])
    uuid1 = "66666666-6666-4666-8666-666666666666"
    with db.session_scope(db_url) as s:
        attempts.claim_next(s, "w1", uuid1, "n1", campaign_id=camp)
    with db.session_scope(db_url) as s:
        a = attempts.transition(s, uuid1, ("dialing", "ringing"), "answered", answered_at=datetime(2026, 1, 2, 3, 4, 5))
        assert sa.inspect(a).transient  # not attached: the caller's session flushes nothing for it
    with db.session_scope(db_url) as s:
        stored = s.get(Attempt, a.id)
        for column in Attempt.__table__.columns:
            assert getattr(a, column.key) == getattr(stored, column.key), column.key
        assert stored.state == "answered" and stored.answered_at == datetime(2026, 1, 2, 3, 4, 5)


def _live(db_url, state, answered_at=None):
    """A claimed attempt moved to ``state``; returns its channel uuid."""
    import uuid

    account, camp = make_campaign(db_url, [])
    _queue(db_url, camp, account, ["+15550000009"])
    call = str(uuid.uuid4())
    with db.session_scope(db_url) as s:
        attempts.claim_next(s, "w1", call, "n1", campaign_id=camp)
        if state != "dialing":
            assert attempts.transition(s, call, ["dialing"], state, answered_at=answered_at)
    return call


def test_finish_live_decides_the_outcome_from_the_row_and_the_event(db_url):
    from datetime import datetime

    t1, t2, end = datetime(2026, 1, 1, 0, 0, 1), datetime(2026, 1, 1, 0, 0, 2), datetime(2026, 1, 1, 0, 1)
    cases = [
        # (state before, answer time in the event) -> (state, dial status, answered_at)
        (("ringing", None, None), ("failed", "NOANSWER", None)),
        (("dialing", None, None), ("failed", "NOANSWER", None)),
        (("answered", t1, None), ("completed", "ANSWER", t1)),
        (("ringing", None, t2), ("completed", "ANSWER", t2)),
        (("answered", t1, t2), ("completed", "ANSWER", t1)),  # the answer time already known is kept
    ]
    for (state, answered_at, event_answer), expected in cases:
        call = _live(db_url, state, answered_at)
        with db.session_scope(db_url) as s:
            a = attempts.finish_live(s, call, hangup_cause="NO_ANSWER", unanswered_status="NOANSWER",
                                     answered_at=event_answer, ended_at=end)
            assert (a.state, a.dial_status, a.answered_at) == expected, state
            assert (a.hangup_cause, a.ended_at) == ("NO_ANSWER", end)
            # Final now: a duplicate hangup changes nothing.
            assert attempts.finish_live(s, call, hangup_cause="X", unanswered_status="BUSY") is None
        with db.session_scope(db_url) as s:
            assert (attempts.by_uuid(s, call).state, attempts.by_uuid(s, call).dial_status) == expected[:2]
    with db.session_scope(db_url) as s:
        assert attempts.finish_live(s, "no-such-channel", hangup_cause="X", unanswered_status="BUSY") is None

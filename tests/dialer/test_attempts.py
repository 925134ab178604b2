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

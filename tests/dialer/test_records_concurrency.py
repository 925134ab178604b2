"""Both halves of many calls, each delivered three times, from three processes at once: one record per call."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import func, select

from dialer.store import db
from dialer.store.models import CallbackDelivery, CallRequest, Cdr
from ivr.call_spec import CallFacts, CallSpec
from tests.dialer.store_helpers import cfg, hangup_headers, make_account, store  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


def test_concurrent_duplicated_halves_give_one_complete_record_each(store, cfg):
    make_account(store)
    with db.session_scope(store) as s:
        s.add(CallRequest(id="req1", account_id="account_1", kind="konnect", callback_url="http://127.0.0.1:9/cb"))
    items = []
    calls = 9
    for i in range(calls):
        u = str(uuid.uuid4())
        answered = i % 3 != 0
        spec = CallSpec(call_type="konnect", request_id="req1", account_id="account_1",
                        called_number=f"+9199792700{i:02d}", caller_id="+15168148111")
        items.append(["hangup", hangup_headers(u, spec=spec, answered=answered,
                                               cause="NORMAL_CLEARING" if answered else "NO_ANSWER")])
        if answered:
            items.append(["facts", CallFacts(uuid=u, call_type="konnect", request_id="req1", account_id="account_1",
                                             dtmf_inputs=[str(i % 10)], media_duration=1.5).to_dict()])
    env = {"DATABASE_URL": store, "REDIS_URL": cfg.redis_url, "REDIS_KEY_PREFIX": cfg.key_prefix}
    procs = []
    for seed in range(3):
        mine = list(items)
        random.Random(seed).shuffle(mine)
        p = subprocess.Popen(
            [sys.executable, "-m", "tests.dialer.store_race"],
            stdin=subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        p.stdin.write(json.dumps({"env": env, "items": mine}).encode())
        p.stdin.close()
        procs.append(p)
    for p in procs:
        assert p.wait(timeout=90) == 0, p.stderr.read().decode()[-3000:]

    with db.session_scope(store) as s:
        rows = s.scalars(select(Cdr)).all()
        assert len(rows) == calls
        assert all(r.hangup_recorded and r.callback_queued for r in rows)
        answered = [r for r in rows if r.dial_status == "ANSWER"]
        assert len(answered) == calls - len(range(0, calls, 3))
        assert all(r.ivr_recorded and r.media_duration == 1.5 and r.dtmf_inputs for r in answered)
        assert {r.dial_status for r in rows if r not in answered} == {"NOANSWER"}
        assert s.scalar(select(func.count()).select_from(CallbackDelivery)) == calls

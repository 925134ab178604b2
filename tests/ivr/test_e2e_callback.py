"""The whole way from a call to the customer's status callback: runtime facts → RQ → the dialer's records
job (a real RQ SimpleWorker) → the CDR → the callbacks job → a real HTTP receiver."""

from __future__ import annotations

import json

import pytest

import config
from dialer import records
from dialer.store import db
from dialer.store.models import Attempt, CallRequest
from ivr.call_spec import CallSpec, Otp
from tests.dialer.store_helpers import make_account, run_queue
from tests.ivr.harness import Rig


@pytest.fixture
def rig(tmp_path, redis_url, key_prefix):
    r = Rig(tmp_path, redis_url, key_prefix)
    yield r
    r.stop()


def test_otp_call_status_callback_reaches_a_real_receiver(rig, tmp_path, redis_url, key_prefix, monkeypatch):
    store = f"sqlite:///{tmp_path / 'vaani.db'}"
    db.init_db(store)
    env = {"DATABASE_URL": store, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": key_prefix,
           "CALLBACK_BACKOFF": "0", "CALLBACK_CONNECT_TIMEOUT": "1", "CALLBACK_READ_TIMEOUT": "2"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The RQ jobs read the process configuration, as they do in a worker process.
    config.settings.cache_clear()
    try:
        cfg = config.settings()
        rig.app.route("/status", lambda p: "ok")
        make_account(store)
        with db.session_scope(store) as s:
            s.add(CallRequest(id="req0001", account_id="account_1", kind="otp",
                              callback_url=rig.app.url("/status"), time_zone="Asia/Kolkata",
                              parameters={"otp": "1987"}))
            s.flush()
            attempt = Attempt(account_id="account_1", request_id="req0001", call_type="otp",
                              number="+919979270001", origination_uuid=rig.esl.api("create_uuid").strip(),
                              ref_id="REF1")
            s.add(attempt)
            s.flush()
            attempt_id, call_uuid = attempt.id, attempt.origination_uuid
        spec = CallSpec(call_type="otp", request_id="req0001", attempt_id=attempt_id, account_id="account_1",
                        caller_id="+15168148111", called_number="+919979270001",
                        otp=Otp(text="Your OTP is 1 9 8 7", repeat=2))
        rig.call(spec, number="919979270001", uuid=call_uuid)
        call = rig.wait(call_uuid)
        assert call.job_id  # the runtime enqueued its facts
        # The other half of the CDR: the dialer's ESL listener hands CHANNEL_HANGUP_COMPLETE to the store.
        # Here the very headers the simulator sent to the runtime go to the same function.
        records.handle_channel_hangup(call.session.hangup_complete.to_dict(), cfg=cfg)
        run_queue(cfg, "records")
        run_queue(cfg, "callbacks")
        [delivery] = rig.app.requests_to("/status")
        body = json.loads(delivery["body"])
        assert body["ref_id"] == "REF1" and body["status"] == "delivered"
        assert body["recipient"] == "919979270001" and body["caller_id"] == "15168148111"
        assert body["call_connect_time"] and body["call_end_time"]
    finally:
        config.settings.cache_clear()

"""seed 002 modify_call on a live call: ESL commands reach the call's node (the FreeSWITCH simulator)."""

from __future__ import annotations

import os
import uuid

import redis

from dialer.store.models import Attempt
from tests.api.conftest import _cleanup_redis, _start


def test_record_and_hangup_a_live_call_and_refuse_another_accounts(simulator, tmp_path):
    from freeswitch.inbound import InboundClient

    prefix = f"test-{uuid.uuid4().hex[:12]}"
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    node = f"{simulator.host}:{simulator.port}"
    stack, server = _start(f"sqlite:///{tmp_path / 'vaani.db'}", str(tmp_path), redis_url, prefix,
                           {"FREESWITCH_NODES": f"{node}:{simulator.password}"})
    esl = InboundClient(simulator.host, simulator.port, simulator.password).start()
    try:
        assert esl.wait_connected(10)
        call_uuid = str(uuid.uuid4())
        reply = esl.api(f"originate {{origination_uuid={call_uuid}}}sofia/gateway/gw/919979271234 &park()",
                        timeout=10)
        assert reply.startswith("+OK"), reply
        acct, other = stack.account(), stack.account()
        with stack.session() as s:
            s.add(Attempt(account_id=acct.account_id, call_type="click2call", number="+919979271234",
                          state="answered", origination_uuid=call_uuid, fs_node=node))

        r = stack.cpaas("POST", "/api/modify_call", other, json={"channel": call_uuid, "modify_type": "2"})
        assert r.status_code == 404  # another account's live call does not exist for it
        assert esl.uuid_exists(call_uuid)

        r = stack.cpaas("POST", "/api/modify_call", acct, json={"channel": call_uuid, "modify_type": "3"})
        assert r.status_code == 200, r.text
        body = r.json()["response"]
        assert body["message"] == "call recording started successfully"
        assert body["recording_name"] == f"{call_uuid}.wav" and body["recording_url"].endswith(f"/{call_uuid}.wav")

        r = stack.cpaas("POST", "/api/modify_call", acct, json={"channel": call_uuid, "modify_type": "2"})
        assert r.json() == {"response": {"message": "call hangup successfully", "success": "true"}}
        assert not esl.uuid_exists(call_uuid)
    finally:
        esl.stop()
        server.stop(timeout=1)
        from dialer.store import db

        db.dispose(stack.cfg.sqlalchemy_url)
        _cleanup_redis(redis_url, prefix)


def test_a_node_that_does_not_answer_is_a_503(api_stack):
    acct = api_stack.account()
    call_uuid = str(uuid.uuid4())
    node = api_stack.cfg.freeswitch_nodes.split(",")[0].rsplit(":", 1)[0]
    with api_stack.session() as s:
        s.add(Attempt(account_id=acct.account_id, call_type="otp", number="+919979271234", state="answered",
                      origination_uuid=call_uuid, fs_node=node))
    r = api_stack.cpaas("POST", "/api/modify_call", acct, json={"channel": call_uuid, "modify_type": "2"})
    assert r.status_code == 503, r.text
    assert r.json()["response"]["success"] == "false"

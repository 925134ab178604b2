"""A call the switch transfers away from the runtime's socket: the runtime lets it go — no further
instruction, no hangup — tells the app the call ended, and reports what the app did."""

from __future__ import annotations

import pytest

from ivr.call_spec import CallSpec
from tests.dialer.engine_helpers import wait_for
from tests.ivr.harness import Rig

TARGET = "sofia/gateway/vaani_trunk/919900000909"


@pytest.fixture
def rig(tmp_path, redis_url, key_prefix):
    r = Rig(tmp_path, redis_url, key_prefix)
    yield r
    r.stop()


def partner(rig, uuid: str) -> str | None:
    value = rig.esl.api(f"uuid_getvar {uuid} bridge_to").strip()
    return None if value in ("_undef_", "") or value.startswith("-ERR") else value


def test_transferred_in_the_middle_of_a_dial(rig):
    app = rig.app
    app.route("/ivr", lambda p: '<response><dial timeout="20000">919900000901</dial></response>'
              if p["event"] == "NewCall" else "<response><playtext>after the dial</playtext><hangup/></response>")
    uuid = rig.call(CallSpec(call_type="campaign", app_url=app.url("/ivr")))
    agent = wait_for(lambda: partner(rig, uuid))
    assert rig.esl.api(f"uuid_transfer {uuid} 'bridge:{TARGET}' inline").strip() == "+OK"
    call = rig.wait(uuid)
    assert call.session.transferred and call.facts.hangup_cause is None  # the call goes on
    # The switch has the customer with the target; the app's next document was never asked for.
    target = wait_for(lambda: (p := partner(rig, uuid)) not in (None, agent) and p)
    assert rig.esl.api(f"uuid_getvar {target} destination_number").strip() == "919900000909"
    assert [r["params"]["event"] for r in app.requests_to("/ivr")] == ["NewCall", "Hangup"]
    assert "speech (Joanna): after the dial" not in rig.lines(uuid)
    assert [d["status"] for d in call.facts.dial_results] == ["answered"]
    assert call.facts.app_errors == [] and call.facts.final_status == "end"
    rig.esl.api(f"uuid_kill {target}")


def test_transferred_while_the_app_is_asked_what_next(rig):
    app = rig.app
    app.route("/slow", lambda p: ("<response><playtext>too late</playtext></response>", 200, 1.0)
              if p["event"] == "NewCall" else "<response/>")
    uuid = rig.call(CallSpec(call_type="campaign", app_url=app.url("/slow")))
    wait_for(lambda: app.requests_to("/slow"))
    # The call is parked in the socket application: the transfer ends that application itself.
    assert rig.esl.api(f"uuid_transfer {uuid} 'bridge:{TARGET}' inline").strip() == "+OK"
    call = rig.wait(uuid)
    assert call.session.transferred
    wait_for(lambda: partner(rig, uuid))
    assert not [line for line in rig.lines(uuid) if "too late" in line and line.startswith("heard")]
    assert [r["params"]["event"] for r in app.requests_to("/slow")] == ["NewCall", "Hangup"]
    assert rig.esl.api(f"uuid_exists {uuid}").strip() == "true"
    rig.esl.api(f"uuid_kill {uuid}")

"""Which parameters an app receives when nobody said its dialect, end to end.

The number or the call is configured through the real Konnect API (HTTP, SQL,
the Redis inbound-number table), the call runs through the FreeSWITCH simulator
and the IVR runtime, and the app is a real HTTP server. Rule (docs/ivr.md):
the first request carries KooKoo's and KML's parameters together; the first
document parsed decides the dialect for every later request. The caller id is
what FreeSWITCH gave (``Caller-Caller-ID-Number``), whatever its form.
"""

from __future__ import annotations

import json

import pytest
import redis
from sqlalchemy import select

from dialer.store import db
from dialer.store.models import Attempt, CallRequest
from dialer.submit import request_spec
from ivr.inbound import table_key
from tests.api.conftest import _start
from tests.ivr.harness import Rig

KML_ONLY = ("call_id", "campaign_id", "phone_number", "key_pressed", "call_status")


@pytest.fixture
def rig(tmp_path, redis_url, key_prefix):
    r = Rig(tmp_path, redis_url, key_prefix)
    yield r
    r.stop()


@pytest.fixture
def konnect(tmp_path, redis_url, key_prefix):
    """The API on SQLite, sharing the rig's Redis prefix (its inbound-number table is the runtime's)."""
    db_url = f"sqlite:///{tmp_path / 'vaani.db'}"
    stack, server = _start(db_url, str(tmp_path / "api"), redis_url, key_prefix)
    stack.acct = stack.account()
    yield stack
    server.stop(timeout=1)
    db.dispose(db_url)


def _configure_inbound(konnect, number: str, doc_url: str) -> None:
    r = konnect.konnect("POST", "/InboundPhoneNumbers", konnect.acct,
                        json={"id": f"in-{number}", "phone_number": number, "doc_url": doc_url})
    assert r.json()["status"] == "accepted", r.text


def _kookoo_menu(app, path: str):
    """A KooKoo app that branches on ``event``, as KooKoo apps do; returns the requests it saw."""
    seen = []

    def ivr(p):
        seen.append(p)
        if p.get("event") == "NewCall":
            return ('<response><collectdtmf l="2" t="#" o="5000"><playtext>Enter your pin</playtext>'
                    '</collectdtmf></response>')
        if p.get("event") == "GotDTMF":
            return f'<response><playtext>You entered {p["data"]}</playtext><hangup/></response>'
        if p.get("event") in ("Hangup", "Disconnect"):
            return "<response/>"
        return "<response><playtext>I did not understand</playtext><hangup/></response>"

    app.route(path, ivr)
    return seen


def test_kookoo_app_on_an_inbound_number_without_dialect_gets_kookoo_events(rig, konnect):
    seen = _kookoo_menu(rig.app, "/kk")
    _configure_inbound(konnect, "918000000011", rig.app.url("/kk"))
    uuid = rig.inbound("anonymous", "+918000000011", dtmf="42@1")
    call = rig.wait(uuid)
    first, got, last = seen
    assert first["event"] == "NewCall" and first["sid"] == uuid
    assert first["cid"] == "anonymous" and first["called_number"] == "+918000000011"
    # The same first request serves a KML app: the two sets do not collide.
    assert first["call_id"] == uuid and first["phone_number"] == "anonymous" and first["call_status"] == "continue"
    assert got["event"] == "GotDTMF" and got["data"] == "42" and got["sid"] == uuid
    # The document was KooKoo XML: from then on only KooKoo's parameters.
    assert not set(KML_ONLY) & set(got) and not set(KML_ONLY) & set(last)
    assert last["event"] == "Disconnect" and last["process"] == "GotDTMF" and last["data"] == "42"
    assert ("heard", "speech (Joanna): You entered 42") in [(k, t) for u, k, t in rig.transcript if u == uuid]
    assert call.facts.app_errors == [] and call.facts.dtmf_inputs == ["42"]


def test_kookoo_app_behind_a_konnect_doc_url_gets_kookoo_events(rig, konnect):
    seen = _kookoo_menu(rig.app, "/doc")
    r = konnect.konnect("POST", "/Calls", konnect.acct, json={
        "id": "doc-kookoo", "recipient": ["919900000007"], "caller_id": "918000000000",
        "doc_url": rig.app.url("/doc")})
    assert r.json() == {"status": "ok"}, r.text
    with konnect.session() as s:
        req = s.scalars(select(CallRequest).where(CallRequest.idempotency_key == "doc-kookoo")).one()
        attempt = s.scalars(select(Attempt).where(Attempt.request_id == req.id)).one()
        spec = request_spec(req, attempt)  # what the dialer puts on the channel for this attempt
    uuid = rig.call(spec, number="919900000007", dtmf="7#@1")
    call = rig.wait(uuid)
    first, got, last = seen
    assert first["event"] == "NewCall" and first["cid"] == "+919900000007" and first["outbound_sid"] == req.id
    assert got["event"] == "GotDTMF" and got["data"] == "7" and not set(KML_ONLY) & set(got)
    assert last["event"] == "Disconnect"
    assert call.facts.app_errors == []


@pytest.mark.parametrize("configured", ["konnect_doc_url", "table_entry_without_dialect"])
def test_kml_app_on_an_inbound_number_without_dialect_keeps_konnect_parameters(rig, konnect, configured, key_prefix):
    app = rig.app
    app.route("/kml", lambda p: ('<Response><Gather action="/menu" numDigits="1" timeout="5">'
                                 '<Say>Press a key</Say></Gather></Response>'))
    app.route("/menu", lambda p: "<Response><Say>Goodbye</Say><Hangup/></Response>"
              if p.get("call_status") == "continue" else "")
    if configured == "konnect_doc_url":
        _configure_inbound(konnect, "918000000012", app.url("/kml"))
    else:  # an entry written by hand or by an older store: contract 2 with no "dialect" at all
        redis.Redis.from_url(konnect.cfg.redis_url).hset(
            table_key(key_prefix), "+918000000012", json.dumps({"account_id": konnect.acct.account_id,
                                                                "app_url": app.url("/kml")}))
    uuid = rig.inbound("'+91 (80) 123'", "+918000000012", dtmf="2@1")
    call = rig.wait(uuid)
    [first] = app.requests_to("/kml")
    first = first["params"]
    assert first["call_id"] == uuid and first["phone_number"] == "+91 (80) 123"
    assert first["call_status"] == "continue" and first["key_pressed"] == ""
    menu, final = [r["params"] for r in app.requests_to("/menu")]
    assert menu == {"call_id": uuid, "campaign_id": "", "phone_number": "+91 (80) 123", "key_pressed": "2",
                    "call_status": "continue"}
    assert final["call_status"] == "end" and "event" not in final
    assert call.facts.dtmf_inputs == ["2"] and call.facts.app_errors == []


def test_an_app_that_never_answers_gets_both_final_events(rig, konnect):
    rig.app.route("/down", lambda p: (500, "down") if p.get("call_status") == "continue" else "")
    _configure_inbound(konnect, "918000000013", rig.app.url("/down"))
    uuid = rig.inbound("919812345678", "+918000000013")
    call = rig.wait(uuid)
    *_, final = [r["params"] for r in rig.app.requests_to("/down")]
    # No document ever said the dialect: the last request tells either kind of app the call failed.
    assert final["event"] == "Disconnect" and final["call_status"] == "error" and final["cid"] == "919812345678"
    assert call.facts.final_status == "error"

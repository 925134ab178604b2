"""Konnect voice endpoints (seed 000) over HTTP: Calls (POST/GET), the accepted callback, InboundPhoneNumbers."""

from __future__ import annotations

import json

import pytest
import redis
from sqlalchemy import select

from dialer.store.models import Attempt, CallbackDelivery, CallRequest, InboundNumber
from tests.conftest import free_port


def _requests_of(api_stack, account_id, key):
    with api_stack.session() as s:
        return s.scalars(select(CallRequest).where(CallRequest.account_id == account_id,
                                                   CallRequest.idempotency_key == key)).all()


def test_outbound_calls_answer_ok_and_store_one_request(api_stack):
    acct = api_stack.account()
    body = {"id": "A10579090909090", "recipient": ["919886038842", "919886038843"], "caller_id": "919886000085",
            "media_url": "http://somewebsite.com/audio.wav", "callback_url": "http://127.0.0.1:9/notify"}
    r = api_stack.konnect("POST", "/Calls", acct, json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok"}
    (req,) = _requests_of(api_stack, acct.account_id, "A10579090909090")
    assert req.kind == "konnect" and req.parameters["numbers"] == ["+919886038842", "+919886038843"]
    with api_stack.session() as s:
        attempts = s.scalars(select(Attempt).where(Attempt.request_id == req.id).order_by(Attempt.number)).all()
        assert [a.number for a in attempts] == ["+919886038842", "+919886038843"]
        assert [a.ref_id for a in attempts] == req.parameters["ref_ids"]
        delivery = s.scalars(select(CallbackDelivery).where(CallbackDelivery.request_id == req.id)).one()
    assert delivery.kind == "accepted" and delivery.url == body["callback_url"]
    assert delivery.payload == {"id": "A10579090909090", "status": "accepted", "ref_ids": [
        {"phone_number": "919886038842", "ref_id": req.parameters["ref_ids"][0]},
        {"phone_number": "919886038843", "ref_id": req.parameters["ref_ids"][1]}]}


def test_a_retried_id_returns_the_first_answer_and_dials_nothing_again(api_stack):
    acct = api_stack.account()
    body = {"id": "retry-1", "recipient": "919886038842,919886038843", "doc_url": "http://127.0.0.1:9/app.kml",
            "alt_doc_url": "http://127.0.0.1:9/alt.kml"}
    for _ in range(3):
        r = api_stack.konnect("POST", "/Calls", acct, json=body)
        assert r.json() == {"status": "ok"}
    (req,) = _requests_of(api_stack, acct.account_id, "retry-1")
    # A doc_url may serve KML or KooKoo XML: unless the request says, the runtime detects it.
    assert req.parameters["app_url"] == "http://127.0.0.1:9/app.kml" and req.parameters["dialect"] == "auto"
    with api_stack.session() as s:
        assert len(s.scalars(select(Attempt.id).where(Attempt.request_id == req.id)).all()) == 2
    # Another account may use the same id: idempotency is per account.
    other = api_stack.account()
    assert api_stack.konnect("POST", "/Calls", other, json=body).json() == {"status": "ok"}
    assert len(_requests_of(api_stack, other.account_id, "retry-1")) == 1


def test_the_seed_sample_with_numbers_joined_in_one_array_item(api_stack):
    acct = api_stack.account()
    payload = ("{\n\"id\":\"your_unique_id_for_request\",\n\"caller_id\":\"919221001234\",\n\"recipient\":"
               "[\"918881221234,918881225678\"],\n\"media_url\":\"http://x.example/a.wav\",\n\"direction\":\"outbound\"\n}")
    r = api_stack.konnect("POST", "/Calls", acct, data=payload, headers={"Content-Type": "application/json"})
    assert r.json() == {"status": "ok"}, r.text
    (req,) = _requests_of(api_stack, acct.account_id, "your_unique_id_for_request")
    assert req.parameters["numbers"] == ["+918881221234", "+918881225678"]


def test_get_form_of_calls(api_stack):
    acct = api_stack.account()
    r = api_stack.konnect("GET", "/Calls", acct, params={
        "id": "get-1", "caller_id": "919221001234", "media_url": "http://x.example/a.wav",
        "recipient": "918881221234,918881225678", "direction": "outbound"})
    assert r.json() == {"status": "ok"}, r.text
    (req,) = _requests_of(api_stack, acct.account_id, "get-1")
    assert len(req.parameters["numbers"]) == 2


def test_inbound_and_2way_configure_the_ivr_number(api_stack):
    acct = api_stack.account()
    r = api_stack.konnect("POST", "/Calls", acct, json={
        "id": "A10579090909091", "media_url": "http://somewebsite.com/audio.wav",
        "callback_url": "http://myapp.com/notify", "ivr_number": "919977000043", "direction": "inbound"})
    assert r.json() == {"status": "ok"}, r.text
    client = redis.Redis.from_url(api_stack.cfg.redis_url)
    entry = json.loads(client.hget(f"{api_stack.cfg.key_prefix}:inbound_numbers", "+919977000043"))
    assert entry["account_id"] == acct.account_id and entry["dialect"] == "kookoo"
    assert "/apps/play?media_url=" in entry["app_url"]
    # The built-in app plays the media and hangs up.
    xml = api_stack.http.get(entry["app_url"].replace(api_stack.cfg.base_url, api_stack.base), timeout=5).text
    assert "<playaudio>http://somewebsite.com/audio.wav</playaudio>" in xml
    r = api_stack.konnect("POST", "/Calls", acct, json={
        "Id": "A10579090909092", "caller_id": "919886000085", "ivr_number": "919977000042",
        "recipient": ["919886038842", "919886038848"], "doc_url": "http://127.0.0.1:9/app.kml", "direction": "2way"})
    assert r.json() == {"status": "ok"}, r.text
    entry = json.loads(client.hget(f"{api_stack.cfg.key_prefix}:inbound_numbers", "+919977000042"))
    assert entry["app_url"] == "http://127.0.0.1:9/app.kml" and entry["dialect"] == "auto"
    assert len(_requests_of(api_stack, acct.account_id, "A10579090909092")) == 1


@pytest.mark.parametrize("body,field", [
    ({"recipient": ["919886038842"], "media_url": "http://x/a.wav"}, "id"),
    ({"id": "v1", "media_url": "http://x/a.wav"}, "recipient"),
    ({"id": "v2", "recipient": ["919886038842"]}, "media_url"),
    ({"id": "v3", "recipient": ["12"], "media_url": "http://x/a.wav"}, "recipient[0]"),
    ({"id": "v4", "recipient": ["919886038842"], "media_url": "ftp://x/a.wav"}, "media_url"),
    ({"id": "v5", "recipient": ["919886038842"], "media_url": "http://x/a.wav", "direction": "sideways"},
     "direction"),
    ({"id": "v6", "media_url": "http://x/a.wav", "direction": "inbound"}, "ivr_number"),
    ({"id": "v7", "recipient": ["919886038842"], "ref_id": "FLnope", "media_url": "http://x/a.wav"}, "media_url"),
    ({"id": "v8", "recipient": ["919886038842"], "ref_id": "FLnope"}, "ref_id"),
    ({"id": "v9", "recipient": ["919886038842"], "doc_url": "http://x/a", "callback_url": "notaurl"},
     "callback_url"),
])
def test_calls_validation_in_konnect_shape(api_stack, body, field):
    acct = api_stack.account()
    r = api_stack.konnect("POST", "/Calls", acct, json=body)
    assert r.status_code in (400, 404), r.text
    out = r.json()
    assert out["status"] == "error" and out["field"] == field
    assert out["error_code"] in ("3050", "3004")


def test_ref_id_runs_a_stored_flow_of_the_same_account_only(api_stack):
    acct, other = api_stack.account(), api_stack.account()
    flow_id, _ = api_stack.flow(acct.account_id, "http://127.0.0.1:9/flow.xml")
    r = api_stack.konnect("POST", "/Calls", acct, json={"id": "f1", "recipient": ["919886038842"], "ref_id": flow_id})
    assert r.json() == {"status": "ok"}
    (req,) = _requests_of(api_stack, acct.account_id, "f1")
    assert req.parameters["app_url"] == "http://127.0.0.1:9/flow.xml"
    r = api_stack.konnect("POST", "/Calls", other, json={"id": "f1", "recipient": ["919886038842"],
                                                         "ref_id": flow_id})
    assert r.status_code == 404 and r.json()["field"] == "ref_id"


def test_inbound_phone_numbers_create_get_delete(api_stack):
    acct, other = api_stack.account(), api_stack.account()
    r = api_stack.konnect("POST", "/InboundPhoneNumbers", acct, json={
        "id": "A1", "phone_number": "919888300123", "callback_url": "http://myapp.com/notify",
        "doc_url": "http://127.0.0.1:9/ivr.xml"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted" and r.json()["ref_id"]
    with api_stack.session() as s:
        row = s.get(InboundNumber, "+919888300123")
        assert row.account_id == acct.account_id and row.app_url == "http://127.0.0.1:9/ivr.xml"
    r = api_stack.konnect("POST", "/InboundPhoneNumbers", other, json={"id": "B1", "phone_number": "919888300123"})
    assert r.status_code == 409 and r.json()["status"] == "rejected" and r.json()["error_code"] == "3050"
    r = api_stack.konnect("GET", "/InboundPhoneNumbers", acct, params={"id": "A2", "phone_number": "919888300124"})
    assert r.json()["status"] == "accepted"
    r = api_stack.konnect("POST", "/InboundPhoneNumbers", acct, json={"id": "A3", "phone_number": "abc"})
    assert r.status_code == 400 and r.json()["status"] == "rejected" and r.json()["ref_id"]
    # DELETE: another account cannot; the owner can, at both paths the seed shows.
    r = api_stack.http.delete(api_stack.url(f"/admin/api/v1/Accounts/{other.account_id}/InboundPhoneNumbers/919888300123"),
                              headers={"Authorization": other.api_token}, timeout=10)
    assert r.status_code == 404 and r.json()["status"] == "rejected"
    r = api_stack.http.delete(api_stack.url(f"/admin/api/v1/Accounts/{acct.account_id}/InboundPhoneNumbers/919888300123"),
                              headers={"Authorization": acct.api_token}, timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    r = api_stack.konnect("DELETE", "/InboundPhoneNumbers/919888300124", acct)
    assert r.json()["status"] == "accepted"
    client = redis.Redis.from_url(api_stack.cfg.redis_url)
    assert client.hget(f"{api_stack.cfg.key_prefix}:inbound_numbers", "+919888300123") is None
    with api_stack.session() as s:
        assert s.get(InboundNumber, "+919888300123") is None


def test_doc_url_dialect_auto_unless_the_request_says(api_stack):
    """Inbound numbers and Calls: doc_url's dialect is auto (detected by the runtime) unless ``dialect`` says it."""
    acct = api_stack.account()
    client = redis.Redis.from_url(api_stack.cfg.redis_url)

    def entry(number):
        return json.loads(client.hget(f"{api_stack.cfg.key_prefix}:inbound_numbers", number))

    r = api_stack.konnect("POST", "/InboundPhoneNumbers", acct, json={
        "id": "D1", "phone_number": "919888300131", "doc_url": "http://127.0.0.1:9/ivr.xml"})
    assert r.json()["status"] == "accepted", r.text
    assert entry("+919888300131")["dialect"] == "auto"
    r = api_stack.konnect("POST", "/InboundPhoneNumbers", acct, json={
        "id": "D2", "phone_number": "919888300132", "doc_url": "http://127.0.0.1:9/ivr.xml", "dialect": "KooKoo"})
    assert r.json()["status"] == "accepted", r.text
    assert entry("+919888300132")["dialect"] == "kookoo"
    r = api_stack.konnect("POST", "/Calls", acct, json={
        "id": "D3", "recipient": ["919886038842"], "doc_url": "http://127.0.0.1:9/app.kml", "dialect": "kml"})
    assert r.json() == {"status": "ok"}, r.text
    (req,) = _requests_of(api_stack, acct.account_id, "D3")
    assert req.parameters["dialect"] == "kml"
    r = api_stack.konnect("POST", "/InboundPhoneNumbers", acct, json={
        "id": "D4", "phone_number": "919888300134", "doc_url": "http://127.0.0.1:9/ivr.xml", "dialect": "vxml"})
    assert r.status_code == 400 and r.json()["field"] == "dialect" and r.json()["error_code"] == "3050"
    assert "auto, kml, kookoo" in r.json()["error_reason"]


def test_accepted_callback_is_delivered_to_the_callback_url(sqlite_stack):
    """The RQ job the API queued really posts the accepted callback (run by a burst worker here)."""
    from gevent.pywsgi import WSGIServer
    from rq import SimpleWorker

    from dialer.callbacks import queue_for

    received = []

    def receiver(environ, start_response):
        received.append(json.loads(environ["wsgi.input"].read()))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    port = free_port()
    server = WSGIServer(("127.0.0.1", port), receiver, log=None)
    server.start()
    try:
        acct = sqlite_stack.account()
        r = sqlite_stack.konnect("POST", "/Calls", acct, json={
            "id": "cb-1", "recipient": ["919886038842"], "media_url": "http://x.example/a.wav",
            "callback_url": f"http://127.0.0.1:{port}/notify"})
        assert r.json() == {"status": "ok"}
        queue = queue_for(sqlite_stack.cfg)
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    finally:
        server.stop()
    assert len(received) == 1
    assert received[0]["id"] == "cb-1" and received[0]["status"] == "accepted"
    assert received[0]["ref_ids"][0]["phone_number"] == "919886038842"


def test_concurrent_retries_of_one_id_store_one_request(api_stack):
    """Ten simultaneous submissions of the same id: one request, one set of attempts, every answer ok."""
    import gevent

    acct = api_stack.account()
    body = {"id": "race-1", "recipient": ["919886038842"], "media_url": "http://x.example/a.wav"}
    jobs = [gevent.spawn(api_stack.konnect, "POST", "/Calls", acct, json=body) for _ in range(10)]
    gevent.joinall(jobs, timeout=30)
    assert [j.value.json() for j in jobs] == [{"status": "ok"}] * 10
    (req,) = _requests_of(api_stack, acct.account_id, "race-1")
    with api_stack.session() as s:
        assert len(s.scalars(select(Attempt.id).where(Attempt.request_id == req.id)).all()) == 1

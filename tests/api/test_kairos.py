"""Kairos outbound flows (seed 001) over HTTP: every applicable status of the seed's table."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from dialer.store.models import Attempt, CallRequest

URL = "/kairos-apis/outbound/create"


def _start(days: int = 1) -> str:
    return (dt.datetime.now(dt.timezone(dt.timedelta(hours=5, minutes=30))) + dt.timedelta(days=days)).isoformat(
        timespec="milliseconds")


def _call(ident: str, numbers=("918000123456", "918100123456"), **kw) -> dict:
    return {"client-identifier": ident, "start-time": _start(), "contact-numbers": list(numbers),
            "keys": [{"name": "$flow.key.Name", "value": "Abhinandan"},
                     {"name": "$flow.key.Language", "value": "English"}], **kw}


@pytest.fixture
def flow(api_stack):
    acct = api_stack.account(ip_allowlist=["127.0.0.0/8"])
    flow_id, security_id = api_stack.flow(acct.account_id, "http://127.0.0.1:9/flow.xml")
    return acct, flow_id, security_id


def _post(api_stack, body, raw: bytes | None = None):
    data = raw if raw is not None else json.dumps(body).encode()
    return api_stack.http.post(api_stack.url(URL), data=data, headers={"Content-Type": "application/json"},
                               timeout=30)


def _body(flow_id, security_id, calls, version="1.0"):
    return {"api-version": version, "security-id": security_id, "flow-id": flow_id, "calls": calls}


def test_success_stores_one_request_per_call_with_alternates_and_keys(api_stack, flow):
    acct, flow_id, security_id = flow
    r = _post(api_stack, _body(flow_id, security_id, [_call("c-1"), _call("c-2", ["919979271234"])]))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status-code"] == 200 and out["status-name"] == "SUCCESS" and out["status-message"] == "Success"
    assert [x["client-identifier"] for x in out["results"]] == ["c-1", "c-2"]
    with api_stack.session() as s:
        req = s.get(CallRequest, out["results"][0]["request-id"])
        assert req.account_id == acct.account_id and req.kind == "kairos"
        assert req.parameters["numbers"] == ["+918000123456", "+918100123456"] and req.parameters["alternates"]
        assert req.parameters["fields"] == {"$flow.key.Name": "Abhinandan", "$flow.key.Language": "English"}
        assert req.parameters["app_url"] == "http://127.0.0.1:9/flow.xml"
        assert req.scheduled_at is not None
        attempts = s.scalars(select(Attempt).where(Attempt.request_id == req.id)).all()
        assert [a.number for a in attempts] == ["+918000123456"]  # alternates are tried one after another


def test_checksum_repeated_for_byte_identical_payload(api_stack, flow):
    _, flow_id, security_id = flow
    raw = json.dumps(_body(flow_id, security_id, [_call("dup-1")])).encode()
    assert _post(api_stack, None, raw).json()["status-name"] == "SUCCESS"
    r = _post(api_stack, None, raw)
    assert r.status_code == 409
    assert r.json()["status-code"] == 201 and r.json()["status-name"] == "CHECKSUM_REPEATED"
    # One byte more is another payload: the call is known by its client-identifier and not dialed twice.
    r = _post(api_stack, None, raw + b" ")
    assert r.status_code == 200 and r.json()["results"][0]["duplicate"] is True
    with api_stack.session() as s:
        assert len(s.scalars(select(CallRequest.id).where(CallRequest.idempotency_key == f"{flow_id}:dup-1")).all()) == 1


def test_a_refused_payload_can_be_retried_as_is(api_stack, flow):
    _, flow_id, security_id = flow
    raw = json.dumps(_body(flow_id, security_id, [_call("bad", ["12"])])).encode()
    assert _post(api_stack, None, raw).json()["status-name"] == "INVALID_CONTACT_NUMBER"
    assert _post(api_stack, None, raw).json()["status-name"] == "INVALID_CONTACT_NUMBER"


def test_partial_success_reports_each_call(api_stack, flow):
    _, flow_id, security_id = flow
    calls = [_call("p-1"), _call("p-2", ["abc"]), {**_call("p-3"), "start-time": "2001-01-01T00:00:00+05:30"},
             {"start-time": _start(), "contact-numbers": ["918000123456"]}, _call("p-5"), _call("p-5")]
    r = _post(api_stack, _body(flow_id, security_id, calls))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status-code"] == 209 and out["status-name"] == "PARTIAL_SUCCESS"
    names = [x["status-name"] for x in out["results"]]
    assert names == ["SUCCESS", "INVALID_CONTACT_NUMBER", "VALIDITY_EXPIRED", "INVALID_MANDATORY_PARAMETERS",
                     "SUCCESS", "INVALID_MANDATORY_PARAMETERS"]
    assert "calls[1].contact-numbers[0]" in out["results"][1]["message"]


@pytest.mark.parametrize("mutate,name,http", [
    (lambda b: b.pop("api-version"), "INVALID_MANDATORY_PARAMETERS", 400),
    (lambda b: b.update({"api-version": "2.0"}), "INVALID_API_VERSION", 400),
    (lambda b: b.pop("security-id"), "INVALID_MANDATORY_PARAMETERS", 400),
    (lambda b: b.update({"security-id": "x" * 64}), "INVALID_SECURITY_ID", 401),
    (lambda b: b.update({"flow-id": "nope1234"}), "INVALID_FLOW_ID", 404),
    (lambda b: b.pop("flow-id"), "INVALID_MANDATORY_PARAMETERS", 400),
    (lambda b: b.update({"calls": []}), "EMPTY_CALL_LIST", 400),
    (lambda b: b.pop("calls"), "EMPTY_CALL_LIST", 400),
    (lambda b: b.update({"calls": {"a": 1}}), "INVALID_FORMAT", 400),
    (lambda b: b.update({"calls": [_call(f"m-{i}") for i in range(501)]}), "MAX_DATA_LIST_SIZE_EXCEEDED", 413),
    (lambda b: b.update({"calls": [_call("v", ["+1"])]}), "INVALID_CONTACT_NUMBER", 400),
    (lambda b: b.update({"calls": [{**_call("v"), "start-time": "2001-01-01T00:00:00Z"}]}), "VALIDITY_EXPIRED", 400),
    (lambda b: b.update({"calls": [{**_call("v"), "start-time": "next tuesday"}]}), "INVALID_FORMAT", 400),
    (lambda b: b.update({"calls": [{**_call("v"), "contact-numbers": []}]}), "INVALID_CONTACT_NUMBER", 400),
    (lambda b: b.update({"calls": ["not an object"]}), "INVALID_FORMAT", 400),
])
def test_error_statuses(api_stack, flow, mutate, name, http):
    _, flow_id, security_id = flow
    body = _body(flow_id, security_id, [_call("e-1")])
    mutate(body)
    r = _post(api_stack, body)
    assert r.status_code == http, r.text
    from api.errors import KAIROS_STATUS

    assert r.json()["status-name"] == name
    assert r.json()["status-code"] == KAIROS_STATUS[name][0]


def test_invalid_format_for_a_body_that_is_not_json(api_stack):
    for raw in (b"", b"not json", b"[1,2]", b"\xff\xfe"):
        r = _post(api_stack, None, raw)
        assert r.status_code == 400 and r.json()["status-name"] == "INVALID_FORMAT", raw


def test_ip_not_whitelisted(api_stack):
    acct = api_stack.account(ip_allowlist=["10.1.2.0/24"])
    flow_id, security_id = api_stack.flow(acct.account_id)
    r = _post(api_stack, _body(flow_id, security_id, [_call("ip-1")]))
    assert r.status_code == 401
    assert r.json()["status-code"] == 401 and r.json()["status-name"] == "IP_NOT_WHITELISTED"


def test_security_id_of_another_flow_is_refused(api_stack, flow):
    _, flow_id, _ = flow
    other = api_stack.account()
    _, other_security = api_stack.flow(other.account_id)
    r = _post(api_stack, _body(flow_id, other_security, [_call("x-1")]))
    assert r.json()["status-name"] == "INVALID_SECURITY_ID"


def test_test_version_checks_everything_but_dials_nothing(api_stack, flow):
    _, flow_id, security_id = flow
    r = _post(api_stack, _body(flow_id, security_id, [_call("t-1")], version="TEST"))
    assert r.status_code == 200 and r.json()["status-name"] == "SUCCESS" and r.json()["test"] is True
    with api_stack.session() as s:
        assert s.scalars(select(CallRequest.id).where(CallRequest.idempotency_key == f"{flow_id}:t-1")).all() == []


def test_seed_start_time_with_its_typo_is_read(api_stack, flow):
    _, flow_id, security_id = flow
    start = (dt.date.today() + dt.timedelta(days=2)).isoformat() + "T03:48:07.111Z111+05:30"
    r = _post(api_stack, _body(flow_id, security_id, [{**_call("typo"), "start-time": start}]))
    assert r.json()["status-name"] == "SUCCESS", r.text


def test_flows_managed_by_api(api_stack):
    acct = api_stack.account()
    r = api_stack.cpaas("POST", "/api/create_flow", acct, json={"flow_name": "f", "app_url": "http://127.0.0.1:9/x"})
    assert r.status_code == 200, r.text
    flow_id, security_id = r.json()["response"]["flow_id"], r.json()["response"]["security_id"]
    assert len(flow_id) == 8 and len(security_id) == 64
    listed = api_stack.cpaas("GET", "/api/get_flows", acct).json()["response"]["result"]
    assert [f["flow_id"] for f in listed] == [flow_id] and "security_id" not in listed[0]
    r = api_stack.cpaas("POST", "/api/set_ip_whitelist", acct, json={"ips": ["127.0.0.1"]})
    assert r.json()["response"]["ips"] == ["127.0.0.1/32"]
    r = api_stack.cpaas("POST", "/api/set_ip_whitelist", acct, json={"ips": ["not-an-ip"]})
    assert r.status_code == 400 and r.json()["response"]["field"] == "ips"
    r = _post(api_stack, _body(flow_id, security_id, [_call("api-flow")]))
    assert r.json()["status-name"] == "SUCCESS"
    other = api_stack.account()
    r = api_stack.cpaas("POST", "/api/delete_flow", other, json={"flow_id": flow_id})
    assert r.status_code == 404
    r = api_stack.cpaas("POST", "/api/delete_flow", acct, json={"flow_id": flow_id})
    assert r.status_code == 200
    assert _post(api_stack, _body(flow_id, security_id, [_call("gone")])).json()["status-name"] == "INVALID_FLOW_ID"


def test_concurrent_submissions_of_one_client_identifier_dial_once(api_stack, flow):
    """Different bytes, same client-identifier, at the same time: one request; the others answer duplicate."""
    import gevent

    _, flow_id, security_id = flow
    bodies = [_body(flow_id, security_id, [_call("same", [f"91800012345{i}"])]) for i in range(8)]
    jobs = [gevent.spawn(_post, api_stack, b) for b in bodies]
    gevent.joinall(jobs, timeout=30)
    outs = [j.value.json() for j in jobs]
    assert all(o["status-name"] == "SUCCESS" for o in outs), outs
    request_ids = {o["results"][0]["request-id"] for o in outs}
    assert len(request_ids) == 1
    assert sum(1 for o in outs if not o["results"][0].get("duplicate")) == 1
    with api_stack.session() as s:
        (rid,) = request_ids
        assert len(s.scalars(select(Attempt.id).where(Attempt.request_id == rid)).all()) == 1


def test_a_past_time_today_starts_at_once(api_stack, flow):
    _, flow_id, security_id = flow
    now = dt.datetime.now(dt.timezone.utc)
    earlier = now - dt.timedelta(minutes=1) if now.minute or now.hour else now
    r = _post(api_stack, _body(flow_id, security_id, [{**_call("today"), "start-time": earlier.isoformat()}]))
    assert r.json()["status-name"] == "SUCCESS", r.text
    with api_stack.session() as s:
        req = s.get(CallRequest, r.json()["results"][0]["request-id"])
        assert req.scheduled_at is None and req.status == "queued"

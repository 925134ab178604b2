"""Property-based fuzzing of every documented operation, driven by the served /openapi.json.

For each operation, hypothesis builds request bodies (or query strings) from
the operation's published schema, mixing well-typed values (enum members,
phone-like digits, dates) with arbitrary JSON, and sends them over HTTP with
valid credentials. Whatever the input, the answer must be JSON in the seed's
shape with a status below 500, and must never contain a traceback.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import agents, cpaas, cpaas_admin, cpaas_records, kairos, konnect  # noqa: F401  (fill the registry)
from api.endpoints import REGISTRY

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**12, max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
PHONE = st.from_regex(r"\+?(91|1)?[6-9][0-9]{9}", fullmatch=True)
DATE = st.dates().map(lambda d: d.isoformat())
DATETIME = st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S"))
ISO = st.datetimes().map(lambda d: d.isoformat() + "+05:30")


def value_for(schema: dict) -> st.SearchStrategy:
    """Values for one published property schema: mostly plausible, sometimes anything."""
    options = [JSON]
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
    kind = schema.get("type")
    if "oneOf" in schema:
        options.append(st.integers(min_value=-5, max_value=20000).map(str))
        options.append(st.integers(min_value=-5, max_value=20000))
    if kind == "string":
        options += [st.text(max_size=40), PHONE, DATE, DATETIME, ISO, st.sampled_from(
            ["http://127.0.0.1:9/app.xml", "Asia/Kolkata", "US/Eastern", "../../etc/passwd", ""])]
    if kind == "array":
        options.append(st.lists(value_for(schema.get("items", {})), max_size=4))
    if kind == "object" and "properties" in schema:
        options.append(body_for(schema))
    return st.one_of(*options)


def body_for(schema: dict) -> st.SearchStrategy:
    """Objects with the schema's required properties (usually) and some optional ones."""
    props = schema.get("properties", {})
    required = [k for k in schema.get("required", []) if k in props]
    optional = {k: value_for(v) for k, v in props.items() if k not in required}
    return st.fixed_dictionaries({k: value_for(props[k]) for k in required}, optional=optional)


def _operations():
    return [(ep.method, ep.path, ep.dialect) for ep in REGISTRY if ep.dialect in ("cpaas", "konnect", "kairos")]


@pytest.fixture(scope="module")
def fuzz_ctx(sqlite_stack):
    acct = sqlite_stack.account(ip_allowlist=["127.0.0.0/8"])
    flow_id, security_id = sqlite_stack.flow(acct.account_id)
    doc = sqlite_stack.http.get(sqlite_stack.url("/openapi.json"), timeout=10).json()
    from dialer.agents import create_agent

    agent_id = create_agent(acct.account_id, endpoint="user/1001", cfg=sqlite_stack.cfg).id
    return sqlite_stack, acct, flow_id, security_id, doc, agent_id


def _check(resp, dialect: str) -> None:
    assert resp.status_code < 500, (resp.status_code, resp.text[:500])
    assert "Traceback" not in resp.text
    assert resp.headers["Content-Type"].startswith("application/json"), resp.text[:200]
    body = resp.json()
    if dialect == "cpaas":
        assert body["response"]["success"] in ("true", "false")
    elif dialect == "konnect":
        assert body["status"] in ("ok", "accepted", "error", "rejected")
    else:
        assert isinstance(body["status-code"], int) and body["status-name"]


@pytest.mark.parametrize("method,path,dialect", _operations(), ids=lambda x: str(x))
def test_no_input_makes_a_5xx_or_a_traceback(fuzz_ctx, method, path, dialect):
    stack, acct, flow_id, security_id, doc, agent_id = fuzz_ctx
    op = doc["paths"][path][method.lower()]
    body_schema = (op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema"))
    query_params = [p for p in op.get("parameters", []) if p["in"] == "query"]
    query_schema = {"type": "object", "properties": {p["name"]: p["schema"] for p in query_params},
                    "required": [p["name"] for p in query_params if p.get("required")]}
    url_path = path.replace("{account_id}", acct.account_id).replace("{inbound_phone_number}", "919888300999")
    url_path = url_path.replace("{agent_id}", agent_id)
    headers = {"account": acct.account_id, "auth": acct.auth, "Authorization": acct.api_token}

    @settings(max_examples=6, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(payload=(body_for(body_schema) if body_schema else st.just({})) | JSON,
           query=body_for(query_schema) if query_params else st.just({}))
    def run(payload, query):
        if dialect == "kairos" and isinstance(payload, dict) and payload.get("flow-id") is not None:
            payload = {**payload, "flow-id": flow_id, "security-id": security_id}
        params = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in query.items()} if query else None
        resp = stack.http.request(method, stack.url(url_path), headers=headers, params=params,
                                  data=json.dumps(payload), timeout=30)
        _check(resp, dialect)

    run()


@given(raw=st.binary(max_size=200))
@settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_raw_bytes_never_break_the_kairos_parser(fuzz_ctx, raw):
    stack = fuzz_ctx[0]
    resp = stack.http.post(stack.url("/kairos-apis/outbound/create"), data=raw, timeout=30)
    _check(resp, "kairos")

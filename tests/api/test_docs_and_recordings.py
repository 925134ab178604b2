"""/openapi.json describes every endpoint from the validating schemas; recordings are served safely."""

from __future__ import annotations

import os

import pytest


def test_openapi_lists_every_seed_endpoint_with_its_fields(sqlite_stack):
    doc = sqlite_stack.http.get(sqlite_stack.url("/openapi.json"), timeout=10).json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path in ("/api/click2call", "/api/callback", "/api/outbound_call", "/api/create_campaign",
                 "/api/get_cdr_by_date", "/api/modify_call", "/api/v1/Accounts/{account_id}/Calls",
                 "/api/v1/Accounts/{account_id}/InboundPhoneNumbers/{inbound_phone_number}",
                 "/kairos-apis/outbound/create"):
        assert path in paths, path
    assert set(paths["/api/callback"]) == {"post", "patch", "delete"}
    body = paths["/api/outbound_call"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["volume"]["enum"] == ["silent", "x-soft", "soft", "medium", "loud", "x-loud"]
    assert set(body["required"]) == {"customer_number", "otp", "caller_id"}
    kairos = paths["/kairos-apis/outbound/create"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert kairos["properties"]["calls"]["maxItems"] == 500
    query = {p["name"] for p in paths["/api/v1/Accounts/{account_id}/Calls"]["get"]["parameters"]}
    assert {"account_id", "id", "recipient", "doc_url", "alt_doc_url", "ivr_number"} <= query
    assert paths["/api/click2call"]["post"]["security"] == [{"account": [], "auth": []}]


def test_recordings_are_served_and_paths_cannot_escape(sqlite_stack):
    rec_dir = sqlite_stack.cfg.path(sqlite_stack.cfg.recordings_dir)
    os.makedirs(os.path.join(rec_dir, "2030-01-01"), exist_ok=True)
    with open(os.path.join(rec_dir, "call-1.wav"), "wb") as fh:
        fh.write(b"RIFF....WAVEfmt ")
    with open(os.path.join(rec_dir, "2030-01-01", "call-2.wav"), "wb") as fh:
        fh.write(b"RIFF2")
    with open(os.path.join(sqlite_stack.data_dir, "secret.txt"), "w") as fh:
        fh.write("TOP-SECRET-CONTENT")
    os.symlink(os.path.join(sqlite_stack.data_dir, "secret.txt"), os.path.join(rec_dir, "link.wav"))
    r = sqlite_stack.http.get(sqlite_stack.url("/recordings/call-1.wav"), timeout=10)
    assert r.status_code == 200 and r.content == b"RIFF....WAVEfmt " and r.headers["Content-Type"] == "audio/wav"
    assert sqlite_stack.http.get(sqlite_stack.url("/recordings/2030-01-01/call-2.wav"), timeout=10).content == b"RIFF2"
    for bad in ("../secret.txt", "..%2Fsecret.txt", "%2e%2e/secret.txt", "link.wav", ".hidden", "nope.wav",
                "a/b/c.wav", "%2Fetc%2Fpasswd"):
        r = sqlite_stack.http.get(sqlite_stack.url("/recordings/") + bad, timeout=10)
        assert r.status_code == 404, bad
        assert "TOP-SECRET-CONTENT" not in r.text and r.json()["response"]["success"] == "false"


@pytest.mark.parametrize("media_url,expect", [
    ("http://example.com/a.wav", "<playaudio>http://example.com/a.wav</playaudio>"),
    ("http://example.com/a.wav?x=1&y=<2>", "<playaudio>http://example.com/a.wav?x=1&amp;y=&lt;2&gt;</playaudio>"),
    ("javascript:alert(1)", "<playtext>"),
])
def test_builtin_play_app(sqlite_stack, media_url, expect):
    r = sqlite_stack.http.get(sqlite_stack.url("/apps/play"), params={"media_url": media_url}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/xml")
    assert expect in r.text and r.text.rstrip().endswith("</response>")

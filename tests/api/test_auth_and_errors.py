"""Authentication per seed and error shapes: 401s, 404/405/413 in each seed's JSON, never HTML or a traceback."""

from __future__ import annotations

import pytest

CPAAS_POSTS = ["/api/click2call", "/api/callback", "/api/outbound_call", "/api/create_campaign_list",
               "/api/add_contact_to_list", "/api/import_broadcast_contacts_csv", "/api/create_campaign_dnd_list",
               "/api/add_dnd_contact_to_list", "/api/import_dnd_contacts_csv", "/api/create_campaign",
               "/api/stop_campaign", "/stop_campaign", "/api/get_cdr_by_date", "/api/get_cdr_by_request_id",
               "/api/get_cdr_by_campaign_id", "/api/get_campaign_cdr_statistics", "/api/modify_call"]
CPAAS_GETS = ["/api/get_campaign_details", "/api/get_cdr_statistics", "/api/get_live_call_statistics"]


def test_cpaas_endpoints_refuse_missing_and_wrong_credentials(api_stack):
    acct = api_stack.account()
    for path in CPAAS_POSTS + CPAAS_GETS:
        method = "GET" if path in CPAAS_GETS else "POST"
        for headers in ({}, {"account": acct.account_id}, {"account": acct.account_id, "auth": "wrong"},
                        {"account": "nobody", "auth": acct.auth}):
            r = api_stack.http.request(method, api_stack.url(path), headers=headers, json={}, timeout=10)
            assert r.status_code == 401, (path, headers, r.text)
            body = r.json()
            assert body["response"]["success"] == "false"
            assert body["response"]["message"]


def test_cpaas_auth_of_one_account_does_not_open_another(api_stack):
    a, b = api_stack.account(), api_stack.account()
    r = api_stack.http.get(api_stack.url("/api/get_cdr_statistics"),
                           headers={"account": b.account_id, "auth": a.auth}, timeout=10)
    assert r.status_code == 401


def test_konnect_refuses_wrong_token_and_other_accounts_path(api_stack):
    a, b = api_stack.account(), api_stack.account()
    body = {"id": "x1", "recipient": ["919979271234"], "media_url": "http://example.com/a.wav"}
    for headers, account_id in (({}, a.account_id), ({"Authorization": "nope"}, a.account_id),
                                ({"Authorization": a.api_token}, b.account_id),
                                ({"Authorization": a.auth}, a.account_id)):
        r = api_stack.http.post(api_stack.url(f"/api/v1/Accounts/{account_id}/Calls"), json=body, headers=headers,
                                timeout=10)
        assert r.status_code == 401, r.text
        assert r.json()["status"] == "error"
        assert r.json()["error_code"] == "3001"
    r = api_stack.http.delete(api_stack.url(f"/admin/api/v1/Accounts/{a.account_id}/InboundPhoneNumbers/919979271234"),
                              timeout=10)
    assert r.status_code == 401 and r.json()["error_code"] == "3001"


def test_validation_comes_after_authentication(api_stack):
    r = api_stack.http.post(api_stack.url("/api/click2call"), json={"agent_number": "bad"}, timeout=10)
    assert r.status_code == 401
    assert "agent_number" not in r.text


@pytest.mark.parametrize("path,shape", [
    ("/api/no_such_thing", "cpaas"), ("/nothing/here", "cpaas"),
    ("/api/v1/Accounts/x/Nothing", "konnect"), ("/kairos-apis/nothing", "kairos"),
])
def test_unknown_paths_answer_404_in_the_prefix_dialect(api_stack, path, shape):
    r = api_stack.http.get(api_stack.url(path), timeout=10)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    if shape == "cpaas":
        assert body["response"]["success"] == "false"
    elif shape == "konnect":
        assert body["status"] == "error" and body["error_code"] == "3004"
    else:
        assert body["status-name"] == "INVALID_FORMAT"


def test_wrong_method_answers_405_json_with_allow(api_stack):
    r = api_stack.http.get(api_stack.url("/api/click2call"), timeout=10)
    assert r.status_code == 405
    assert "POST" in r.headers["Allow"]
    assert r.json()["response"]["success"] == "false"
    r = api_stack.http.get(api_stack.url("/kairos-apis/outbound/create"), timeout=10)
    assert r.status_code == 405 and r.json()["status-name"]


def test_too_large_body_answers_413_json(api_stack):
    from api.app import MAX_CONTENT_LENGTH

    acct = api_stack.account()
    r = api_stack.cpaas("POST", "/api/create_campaign_list", acct, data=b"x" * (MAX_CONTENT_LENGTH + 10),
                        headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["response"]["message"] == "request body too large"


def test_invalid_json_names_the_body_and_where(api_stack):
    acct = api_stack.account()
    r = api_stack.cpaas("POST", "/api/create_campaign_list", acct, data=b'{"list_name": ',
                        headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["response"]["field"] == "body"
    assert "not valid JSON" in r.json()["response"]["message"]


def test_curly_quotes_from_the_seed_documents_are_understood(api_stack):
    acct = api_stack.account()
    r = api_stack.cpaas("POST", "/api/create_campaign_list", acct,
                        data="{\u201clist_name\u201d:\u201dmy_campaign_list\u2033}".encode(),
                        headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["response"]["list_id"].startswith("LS")


def test_health_and_docs(api_stack):
    assert api_stack.http.get(api_stack.url("/health"), timeout=10).json() == {"status": "ok"}
    page = api_stack.http.get(api_stack.url("/docs"), timeout=10)
    assert page.status_code == 200 and "/api/click2call" in page.text

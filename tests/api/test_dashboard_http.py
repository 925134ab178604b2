"""The dashboard over real HTTP (no browser): sign-in and its cookie, isolation between accounts, CSV export, SSE.

The API runs in the test process (tests/api/conftest.py's ``sqlite_stack``, and ``api_stack`` on SQLite and
PostgreSQL for the queries that differ most between them); requests talk to it over a loopback socket. Campaigns are created through the seed-002 API; CDRs are written with the store's own
models (the browser tests, tests/api/test_dashboard_browser.py, export the CDRs of a real simulated run).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import re

import pytest
import requests

from api.dashboard import data as dash_data
from dialer.store.models import Attempt, Campaign, Cdr


def _campaign(stack, acct, name: str, numbers=("919979271234", "918000681234", "917000000001")) -> str:
    list_id = stack.cpaas("POST", "/api/create_campaign_list", acct, json={"list_name": name}).json()[
        "response"]["list_id"]
    stack.cpaas("POST", "/api/add_contact_to_list", acct, json={"list_id": list_id, "contacts": [
        {"contact_name": f"c{i}", "contact_number": n} for i, n in enumerate(numbers)]})
    start = dt.datetime.utcnow() + dt.timedelta(days=1)  # scheduled: no dialer runs here anyway
    r = stack.cpaas("POST", "/api/create_campaign", acct, json={
        "list_id": list_id, "campaign_name": name, "campaign_type": "0", "campaign_caller_id": "15168148111",
        "dynamic_announcement": "1", "recorded_filename": "", "announcement_text": "Hello",
        "campaign_start_date": start.strftime("%Y-%m-%d %H:%M:%S"),
        "campaign_end_date": (start + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"), "time_zone": "UTC",
        "repeat": "1", "max_retries": "0", "retry_time": "60", "calls_per_minute": "30"})
    assert r.status_code == 200, r.text
    return r.json()["response"]["campaign_id"]


def _cdr(stack, acct, campaign_id, number: str, status: str, when: dt.datetime, **kw) -> int:
    with stack.session() as s:
        row = Cdr(account_id=acct.account_id, campaign_id=campaign_id, request_id=campaign_id, call_date=when,
                  customer_number=number, dialed_number=number, caller_id="+15168148111", dial_status=status,
                  call_direction="outbound", is_dnd=status == "DND", billsec=12.5 if status == "ANSWER" else 0,
                  call_duration=15.0, uniqueid=kw.pop("uniqueid", None), **kw)
        s.add(row)
        s.flush()
        return row.id


def _login_form(http, stack) -> str:
    """The sign-in form's CSRF token (the form is fetched first, as a browser does)."""
    page = http.get(stack.url("/dashboard/login"), timeout=10).text
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def _signed_in(stack, acct) -> requests.Session:
    http = requests.Session()
    r = http.post(stack.url("/dashboard/login"), data={"account": acct.account_id, "auth": acct.auth,
                                                       "csrf": _login_form(http, stack)},
                  allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == "/dashboard/", r.text
    return http


def _csrf(http, stack) -> str:
    page = http.get(stack.url("/dashboard/"), timeout=10).text
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_sign_in_sets_a_safe_cookie_and_sign_out_ends_it(sqlite_stack):
    stack, acct = sqlite_stack, sqlite_stack.account()
    http = requests.Session()
    r = http.get(stack.url("/dashboard/campaigns/CM1?x=1"), allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == "/dashboard/login?next=/dashboard/campaigns/CM1?x%3D1"
    assert http.get(stack.url("/dashboard/events/campaigns"), timeout=10).status_code == 401

    # Without the form's token (another site posting its own credentials into this browser): refused.
    r = http.post(stack.url("/dashboard/login"), data={"account": acct.account_id, "auth": acct.auth},
                  allow_redirects=False, timeout=10)
    assert r.status_code == 400 and http.get(stack.url("/dashboard/"), allow_redirects=False,
                                             timeout=10).status_code == 302
    token = _login_form(http, stack)
    r = http.post(stack.url("/dashboard/login"), data={"account": acct.account_id, "auth": acct.auth + "x",
                                                       "csrf": token}, timeout=10)
    assert r.status_code == 401 and "Unknown account or wrong auth secret" in r.text
    r = http.post(stack.url("/dashboard/login"), data={"account": "nobody", "auth": acct.auth, "csrf": token},
                  timeout=10)
    assert r.status_code == 401
    assert http.get(stack.url("/dashboard/"), allow_redirects=False, timeout=10).status_code == 302

    r = http.post(stack.url("/dashboard/login?next=//evil.example/x"),
                  data={"account": acct.account_id, "auth": acct.auth, "csrf": token}, allow_redirects=False,
                  timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == "/dashboard/"  # no open redirect
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/dashboard" in cookie
    assert acct.auth not in cookie
    page = http.get(stack.url("/dashboard/"), timeout=10)
    assert page.status_code == 200 and acct.account_id in page.text
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Frame-Options"] == "DENY"

    # The chart library is the vendored uPlot, served as a static file (cacheable, unlike the pages).
    lib = http.get(stack.url("/dashboard/static/vendor/uPlot.iife.min.js"), timeout=10)
    assert lib.status_code == 200 and "uPlot" in lib.text[:200] and "no-store" not in lib.headers.get("Cache-Control", "")
    # A tampered cookie is no session.
    forged = requests.Session()
    value = http.cookies["vaani_dashboard"]
    forged.cookies.set("vaani_dashboard", value[:-3] + ("AAA" if value[-3:] != "AAA" else "BBB"),
                       domain="127.0.0.1", path="/dashboard")
    assert forged.get(stack.url("/dashboard/"), allow_redirects=False, timeout=10).status_code == 302

    # Sign-out is a POST with the form's token: without it, nothing happens.
    assert http.post(stack.url("/dashboard/logout"), timeout=10).status_code == 400
    assert http.get(stack.url("/dashboard/"), allow_redirects=False, timeout=10).status_code == 200
    r = http.post(stack.url("/dashboard/logout"), data={"csrf": _csrf(http, stack)}, allow_redirects=False,
                  timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == "/dashboard/login"
    assert http.get(stack.url("/dashboard/"), allow_redirects=False, timeout=10).status_code == 302


def test_a_rotated_secret_signs_the_session_out(sqlite_stack):
    from dialer.store import accounts

    stack, acct = sqlite_stack, sqlite_stack.account()
    http = _signed_in(stack, acct)
    assert http.get(stack.url("/dashboard/"), allow_redirects=False, timeout=10).status_code == 200
    with stack.session() as s:
        accounts.rotate_secrets(s, acct.account_id)  # `vaani account rotate`
    assert http.get(stack.url("/dashboard/"), allow_redirects=False, timeout=10).status_code == 302


def test_one_account_never_sees_anothers_campaigns_calls_or_cdrs(api_stack):
    stack = api_stack
    first, second = stack.account(), stack.account()
    campaign = _campaign(stack, first, "first-campaign")
    own = _campaign(stack, second, "second-campaign")
    now = dt.datetime.utcnow()
    _cdr(stack, first, campaign, "+919979271234", "ANSWER", now)
    channel = "0f0e0d0c-0b0a-4908-8706-050403020100"
    with stack.session() as s:
        s.add(Attempt(account_id=first.account_id, campaign_id=campaign, call_type="campaign",
                      number="+918000681234", state="answered", origination_uuid=channel,
                      fs_node=stack.cfg.freeswitch_nodes.split(",")[0].rsplit(":", 1)[0], claimed_at=now))
    http = _signed_in(stack, second)
    token = _csrf(http, stack)

    page = http.get(stack.url("/dashboard/"), timeout=10).text
    assert own in page and campaign not in page and "first-campaign" not in page
    for path in (f"/dashboard/campaigns/{campaign}", f"/dashboard/events/campaigns/{campaign}"):
        r = http.get(stack.url(path), timeout=10)
        assert r.status_code == 404 and "first-campaign" not in r.text, path
    for action in ("stop", "pause", "start"):
        assert http.post(stack.url(f"/dashboard/campaigns/{campaign}/{action}"), data={"csrf": token},
                         timeout=10).status_code == 404
    with stack.session() as s:
        assert s.get(Campaign, campaign).status == "scheduled"
    calls = http.get(stack.url("/dashboard/calls"), timeout=10).text
    assert channel not in calls and "918000681234" not in calls
    r = http.post(stack.url(f"/dashboard/calls/{channel}/hangup"), data={"csrf": token}, timeout=10)
    assert r.status_code == 404
    r = http.post(stack.url(f"/dashboard/calls/{channel}/transfer"), data={"csrf": token, "transfer_to": "1001"},
                  timeout=10)
    assert r.status_code == 404
    cdrs = http.get(stack.url(f"/dashboard/cdrs?campaign_id={campaign}"), timeout=10).text
    assert "0 CDRs" in cdrs and "919979271234" not in cdrs
    assert http.get(stack.url("/dashboard/cdrs.csv"), timeout=10).text.strip() == ",".join(dash_data.CSV_FIELDS)

    # The first account sees its own, the same way.
    mine = _signed_in(stack, first)
    assert "first-campaign" in mine.get(stack.url(f"/dashboard/campaigns/{campaign}"), timeout=10).text
    assert channel in mine.get(stack.url("/dashboard/calls"), timeout=10).text
    assert "1 CDR" in mine.get(stack.url(f"/dashboard/cdrs?campaign_id={campaign}"), timeout=10).text


def test_csv_export_has_the_searched_cdrs_in_the_seeds_shape(api_stack):
    stack, acct, other = api_stack, api_stack.account(), api_stack.account()
    campaign = _campaign(stack, acct, "export")
    day = dt.datetime(2026, 3, 4, 10, 0, 0)
    ids = {
        "answer": _cdr(stack, acct, campaign, "+919979271234", "ANSWER", day, uniqueid="a1b2c3d4-0000-4000-8000-000000000001",
                       dtmf_inputs="=1+2"),
        "busy": _cdr(stack, acct, campaign, "+918000681234", "BUSY", day + dt.timedelta(minutes=1)),
        "dnd": _cdr(stack, acct, campaign, "+917000000001", "DND", day + dt.timedelta(minutes=2)),
        "next_day": _cdr(stack, acct, campaign, "+919979271234", "ANSWER", day + dt.timedelta(days=1)),
    }
    _cdr(stack, other, None, "+919979271234", "ANSWER", day)  # another account's: never exported
    http = _signed_in(stack, acct)

    r = http.get(stack.url("/dashboard/cdrs.csv"), params={"start": "2026-03-04", "end": "2026-03-04"}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert r.headers["Content-Disposition"] == f'attachment; filename="cdrs-{acct.account_id}.csv"'
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == list(dash_data.CSV_FIELDS)
    assert [int(x["id"]) for x in rows] == [ids["answer"], ids["busy"], ids["dnd"]]
    answer, busy, dnd = rows
    assert answer["call_date"] == "Wed, 04 Mar 2026 10:00:00 GMT" and answer["customer_number"] == "919979271234"
    assert answer["dial_status"] == "ANSWER" and float(answer["billsec"]) == 12.5 and answer["is_dnd"] == "0"
    assert answer["request_id"] == campaign and answer["uniqueid"] == "a1b2c3d4-0000-4000-8000-000000000001"
    assert answer["dtmf_inputs"] == "'=1+2"  # a spreadsheet must not run it as a formula
    assert busy["dial_status"] == "BUSY" and dnd["is_dnd"] == "1" and dnd["billsec"] == ""

    by_status = http.get(stack.url("/dashboard/cdrs.csv"), params={"dial_status": "answer"}, timeout=10)
    assert [int(x["id"]) for x in csv.DictReader(io.StringIO(by_status.text))] == [ids["answer"], ids["next_day"]]
    by_number = http.get(stack.url("/dashboard/cdrs.csv"), params={"number": "+91 80006"}, timeout=10)
    assert [int(x["id"]) for x in csv.DictReader(io.StringIO(by_number.text))] == [ids["busy"]]
    # The page shows the same search, and links the export of exactly that search.
    page = http.get(stack.url("/dashboard/cdrs"), params={"dial_status": "ANSWER"}, timeout=10).text
    assert "2 CDRs" in page and "/dashboard/cdrs.csv?dial_status=ANSWER" in page
    bad = http.get(stack.url("/dashboard/cdrs.csv"), params={"start": "yesterday"}, timeout=10)
    assert bad.status_code == 400 and "not a date as YYYY-MM-DD" in bad.text
    assert "not a date" in http.get(stack.url("/dashboard/cdrs"), params={"start": "x"}, timeout=10).text


def _events(lines):
    """The events of an SSE stream's lines as (name, data), as they arrive."""
    name = None
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            yield name, json.loads(line[6:])


def test_the_campaign_stream_sends_what_changed(sqlite_stack):
    stack, acct = sqlite_stack, sqlite_stack.account()
    campaign = _campaign(stack, acct, "streamed", numbers=[f"9199792712{i:02d}" for i in range(10)])
    http = _signed_in(stack, acct)
    with http.get(stack.url(f"/dashboard/events/campaigns/{campaign}"), stream=True, timeout=10) as r:
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/event-stream")
        assert r.headers["Cache-Control"] == "no-store"
        lines = r.iter_lines(chunk_size=None, decode_unicode=True)
        assert next(lines) == "retry: 1000"  # the browser reconnects after a second when a stream ends
        events = _events(lines)
        name, first = next(events)
        assert name == "update"
        assert first["data"]["status"] == "scheduled" and first["data"]["calls_per_minute"] == 30
        assert first["data"]["progress"]["remaining"] == 10 and first["data"]["progress"]["answered"] == 0
        assert set(first["html"]) == {"campaign-summary", "campaign-actions", "outcome-rows", "call-rows",
                                      "agent-view"}
        assert 'data-count="remaining">10<' in first["html"]["campaign-summary"]
        assert len(first["data"]["rate"]["t"]) == dash_data.RATE_MINUTES * 60 // dash_data.RATE_STEP + 1

        # Three calls finish and one is on the air: the next event says so.
        with stack.session() as s:
            queued = s.query(Attempt).filter_by(campaign_id=campaign, state="queued").order_by(Attempt.id).all()
            now = dt.datetime.utcnow()
            for a, status in zip(queued[:3], ("ANSWER", "BUSY", "ANSWER")):
                a.state, a.claimed_at, a.dial_status = "completed", now, status
            queued[3].state, queued[3].claimed_at = "answered", now
            queued[3].origination_uuid = "11111111-2222-4333-8444-555555555555"
        for number, status in (("+919979271200", "ANSWER"), ("+919979271201", "BUSY"), ("+919979271202", "ANSWER")):
            _cdr(stack, acct, campaign, number, status, now)
        # A tick may fall between the two writes above; the one after it cannot.
        later = next(p for _, p in itertools.islice(events, 5) if p["data"]["progress"]["answered"] == 2)
        p = later["data"]["progress"]
        assert (p["answered"], p["failed"], p["live"], p["remaining"], p["dialed"]) == (2, 1, 1, 6, 4)
        assert p["answer_rate"] == pytest.approx(2 / 3, abs=1e-3)
        assert later["data"]["rate"]["now"] == 4 and later["data"]["live_calls"] == 1
        assert "11111111-2222-4333-8444-555555555555" in later["html"]["call-rows"]
        assert 'data-status="BUSY"><td>BUSY</td><td class="num" data-field="count">1<' in later["html"]["outcome-rows"]

    # The list page's stream carries every campaign's bar.
    with http.get(stack.url("/dashboard/events/campaigns"), stream=True, timeout=10) as r:
        _, listing = next(_events(r.iter_lines(chunk_size=None, decode_unicode=True)))
        [row] = [c for c in listing["data"]["campaigns"] if c["campaign_id"] == campaign]
        assert row["progress"]["answered"] == 2 and f'data-campaign="{campaign}"' in listing["html"]["campaign-rows"]


def test_hangup_and_transfer_buttons_act_on_the_calls_node(simulator, tmp_path):
    """The buttons go through modify_call's ESL logic to the call's node (the simulator), and say what happened."""
    import os
    import uuid

    from freeswitch.inbound import InboundClient
    from tests.api.conftest import _cleanup_redis, _start
    from tests.dialer.engine_helpers import wait_for

    prefix, redis_url = f"test-{uuid.uuid4().hex[:12]}", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    node = f"{simulator.host}:{simulator.port}"
    stack, server = _start(f"sqlite:///{tmp_path / 'vaani.db'}", str(tmp_path), redis_url, prefix,
                           {"FREESWITCH_NODES": f"{node}:{simulator.password}"})
    esl = InboundClient(simulator.host, simulator.port, simulator.password).start()
    try:
        assert esl.wait_connected(10)
        acct = stack.account()
        calls = {}
        for name in ("moved", "ended"):
            calls[name] = str(uuid.uuid4())
            reply = esl.api(f"originate {{origination_uuid={calls[name]}}}sofia/gateway/gw/91997927{len(calls):04d} "
                            f"&park()", timeout=10)
            assert reply.startswith("+OK"), reply
            with stack.session() as s:
                s.add(Attempt(account_id=acct.account_id, call_type="campaign", number=f"+91997927{len(calls):04d}",
                              state="answered", origination_uuid=calls[name], fs_node=node,
                              claimed_at=dt.datetime.utcnow()))
        http = _signed_in(stack, acct)
        token = _csrf(http, stack)
        page = http.get(stack.url("/dashboard/calls"), timeout=10).text
        assert calls["moved"] in page and calls["ended"] in page

        r = http.post(stack.url(f"/dashboard/calls/{calls['moved']}/transfer"),
                      data={"csrf": token, "transfer_to": "1001", "kind": "blind"}, timeout=10)
        assert "Transfer: blind transferred successfully." in r.text
        target = wait_for(lambda: esl.api(f"uuid_getvar {calls['moved']} bridge_to").strip() not in ("", "_undef_")
                          and esl.api(f"uuid_getvar {calls['moved']} bridge_to").strip(), timeout=5)
        assert esl.uuid_exists(target)
        r = http.post(stack.url(f"/dashboard/calls/{calls['moved']}/transfer"),
                      data={"csrf": token, "transfer_to": "10 01; rm"}, timeout=10)
        assert "give a number or a SIP user" in r.text

        r = http.post(stack.url(f"/dashboard/calls/{calls['ended']}/hangup"), data={"csrf": token,
                      "next": "/dashboard/calls"}, timeout=10)
        assert r.url.endswith("/dashboard/calls") and "Hangup: call hangup successfully." in r.text
        assert not esl.uuid_exists(calls["ended"])
        # No dialer here marks it ended: the switch says it has no such channel.
        r = http.post(stack.url(f"/dashboard/calls/{calls['ended']}/hangup"), data={"csrf": token}, timeout=10)
        assert "Hangup failed" in r.text and "no such channel" in r.text
        with stack.session() as s:
            s.query(Attempt).filter_by(origination_uuid=calls["ended"]).update({"state": "completed"})
        r = http.post(stack.url(f"/dashboard/calls/{calls['ended']}/hangup"), data={"csrf": token}, timeout=10)
        assert "the call has ended already" in r.text
        assert http.post(stack.url(f"/dashboard/calls/{calls['moved']}/hangup"), timeout=10).status_code == 400  # CSRF
    finally:
        esl.stop()
        server.stop(timeout=1)
        from dialer.store import db

        db.dispose(stack.cfg.sqlalchemy_url)
        _cleanup_redis(redis_url, prefix)


def test_an_agent_campaign_shows_what_agent_statistics_computes(sqlite_stack):
    from tests.api.test_agents import _agent
    from tests.api.test_agents import _campaign as agent_campaign

    stack, acct = sqlite_stack, sqlite_stack.account()
    cid = agent_campaign(stack, acct, dial_mode="predictive", abandon_target=0.02)
    a, b, c = (_agent(stack, acct, endpoint=f"user/10{i:02d}") for i in range(3))
    for agent in (a, b, c):
        stack.cpaas("POST", f"/api/agents/{agent}/login", acct, json={"campaign_ids": [cid]})
    stack.cpaas("POST", f"/api/agents/{c}/pause", acct, json={"reason": "coffee"})
    with stack.session() as s:
        for i in range(40):
            s.add(Cdr(uniqueid=f"00000000-0000-4000-8000-{i:012d}", account_id=acct.account_id, campaign_id=cid,
                      call_type="campaign", dial_status="ANSWER", customer_number=f"+91999{i:07d}",
                      answer=dt.datetime.utcnow(), call_date=dt.datetime.utcnow(), abandoned=i < 2))
    api = stack.cpaas("GET", f"/api/campaigns/{cid}/agent_statistics", acct).json()["response"]
    assert api["agents"]["ready"] == 2 and api["agents"]["paused"] == 1
    http = _signed_in(stack, acct)
    page = http.get(stack.url(f"/dashboard/campaigns/{cid}"), timeout=10).text
    assert '<b id="agents-ready">2</b>' in page and '<b id="agents-paused">1</b>' in page
    assert '<b id="agents-logged_in">3</b>' in page and '<b id="agents-on_call">0</b>' in page
    assert f'<b id="agents-abandon-24h">{100 * api["abandonment"]["last_24h"]:.2f} %</b>' in page
    assert "target 2.0 %" in page
    with http.get(stack.url(f"/dashboard/events/campaigns/{cid}"), stream=True, timeout=10) as r:
        _, first = next(_events(r.iter_lines(chunk_size=None, decode_unicode=True)))
    assert '<b id="agents-ready">2</b>' in first["html"]["agent-view"]


def test_pause_resume_and_stop_go_through_the_campaign_logic(sqlite_stack):
    stack, acct = sqlite_stack, sqlite_stack.account()
    campaign = _campaign(stack, acct, "controlled")  # scheduled: its start date is tomorrow
    http = _signed_in(stack, acct)
    token = _csrf(http, stack)

    def press(action: str) -> str:
        r = http.post(stack.url(f"/dashboard/campaigns/{campaign}/{action}"), data={"csrf": token}, timeout=10)
        assert r.status_code == 200 and r.url.endswith(f"/dashboard/campaigns/{campaign}")
        with stack.session() as s:
            return s.get(Campaign, campaign).status

    assert press("pause") == "paused"
    assert press("start") == "scheduled"  # resumed: waiting for its start date again
    assert press("stop") == "stopped"
    with stack.session() as s:  # stop_campaign cancelled every queued attempt
        assert {a.state for a in s.query(Attempt).filter_by(campaign_id=campaign)} == {"cancelled"}
    r = http.post(stack.url(f"/dashboard/campaigns/{campaign}/start"), data={"csrf": token}, timeout=10)
    assert "The campaign is stopped: it cannot start." in r.text
    assert http.post(stack.url(f"/dashboard/campaigns/{campaign}/launch"), data={"csrf": token},
                     timeout=10).status_code == 404

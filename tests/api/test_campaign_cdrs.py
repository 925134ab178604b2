"""A campaign run end to end — API, dialer engine, FreeSWITCH simulator, IVR runtime — and the CDRs it leaves."""

from __future__ import annotations

import datetime as dt

import pytest

from dialer.engine import Dialer, EngineOptions
from ivr.runtime import build_runtime
from ivr.server import IvrServer
from tests.conftest import free_port
from tests.dialer.engine_helpers import Sim, wait_for
from tests.dialer.store_helpers import run_queue


@pytest.fixture
def switch(api_stack):
    """The simulator, an IVR runtime and a dialer engine on the API's database and Redis prefix."""
    sim = Sim(free_port(), speed=50)
    runtime = build_runtime(api_stack.cfg)
    ivr = IvrServer(runtime, "127.0.0.1:0").start()
    cfg = api_stack.cfg.replace(freeswitch_nodes=f"127.0.0.1:{sim.port}:ClueCon:10000:5000",
                                ivr_listen=ivr.address, dialer_gateway_cps=0)
    dialer = Dialer(cfg, options=EngineOptions(foreign_delay=0.3, recovery_grace=1.0)).start()
    yield cfg
    dialer.stop()
    ivr.stop(timeout=1)
    runtime.fetcher.close()
    sim.stop()


def test_campaign_cdrs_name_the_customer_and_the_campaign(api_stack, switch):
    acct = api_stack.account()
    list_id = api_stack.cpaas("POST", "/api/create_campaign_list", acct,
                              json={"list_name": "calls"}).json()["response"]["list_id"]
    api_stack.cpaas("POST", "/api/add_contact_to_list", acct, json={"list_id": list_id, "contacts": [
        {"contact_name": "ankit", "contact_number": "919979271234", "contact_fields": {"field1": "Ankit"}},
        {"contact_name": "abc", "contact_number": "918000681234", "contact_fields": {"field1": "abc"}},
        {"contact_name": "dnd", "contact_number": "917000000001", "contact_fields": {"field1": "no"}}]})
    dnd_id = api_stack.cpaas("POST", "/api/create_campaign_dnd_list", acct,
                             json={"dnd_list_name": "dnd"}).json()["response"]["dnd_list_id"]
    api_stack.cpaas("POST", "/api/add_dnd_contact_to_list", acct, json={"dnd_list_id": dnd_id, "dnd_contacts": [
        {"dnd_contact_name": "dnd", "dnd_contact_number": "917000000001"}]})
    start = dt.datetime.utcnow() - dt.timedelta(minutes=1)
    r = api_stack.cpaas("POST", "/api/create_campaign", acct, json={
        "list_id": list_id, "dnd_list_id": dnd_id, "campaign_name": "run", "campaign_type": "0",
        "campaign_caller_id": "15168148111", "dynamic_announcement": "1", "recorded_filename": "",
        "announcement_text": "Hello {field1}", "campaign_start_date": start.strftime("%Y-%m-%d %H:%M:%S"),
        "campaign_end_date": (start + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"), "time_zone": "UTC",
        "repeat": "1", "max_retries": "0", "retry_time": "60", "calls_per_minute": "600"})
    assert r.status_code == 200, r.text
    campaign_id = r.json()["response"]["campaign_id"]

    def cdrs():
        reply = api_stack.cpaas("POST", "/api/get_cdr_by_campaign_id", acct, json={"campaign_id": campaign_id})
        return reply.json()["response"]["result"]

    wait_for(lambda: sorted(c["dial_status"] for c in cdrs()) == ["ANSWER", "ANSWER", "DND"], timeout=30)
    run_queue(switch, "records")  # the IVR halves (what the announcement did)
    rows = cdrs()
    by_number = {c["dialed_number"]: c for c in rows}
    assert set(by_number) == {"919979271234", "918000681234", "917000000001"}
    for number, c in by_number.items():
        # The contact called, as the API shows numbers, and the campaign the call belongs to.
        assert c["customer_number"] == number
        assert c["request_id"] == campaign_id
        assert c["destination_context"] == "local_call_campaign_type_0" and c["list_id"] == list_id
    assert by_number["917000000001"]["is_dnd"] == "1" and by_number["919979271234"]["is_dnd"] == "0"
    by_request = api_stack.cpaas("POST", "/api/get_cdr_by_request_id", acct, json={"request_id": campaign_id})
    assert sorted(c["id"] for c in by_request.json()["response"]["result"]) == sorted(c["id"] for c in rows)

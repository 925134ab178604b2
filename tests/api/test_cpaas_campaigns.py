"""Seed 002 campaign manager over HTTP: lists, contacts, CSV imports, DND lists, campaigns, CDRs and statistics."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy import select

from dialer.store.models import Attempt, Campaign, Cdr, Contact, DndNumber, utcnow


def _list(api_stack, acct, name="my_campaign_list"):
    r = api_stack.cpaas("POST", "/api/create_campaign_list", acct, json={"list_name": name})
    assert r.status_code == 200, r.text
    return r.json()["response"]["list_id"]


def _dnd_list(api_stack, acct, name="my_first_DND_list"):
    r = api_stack.cpaas("POST", "/api/create_campaign_dnd_list", acct, json={"dnd_list_name": name})
    assert r.status_code == 200, r.text
    return r.json()["response"]["dnd_list_id"]


CONTACTS = [{"contact_name": "ankit", "contact_number": "919979271234",
             "contact_fields": {"field1": "Ankit", "field2": "Jayswal", "field3": 500}},
            {"contact_name": "abc", "contact_number": "918000681234",
             "contact_fields": {"field1": "abc", "field2": "xyz", "field3": "100"}}]


def test_lists_and_contacts(api_stack):
    acct = api_stack.account()
    list_id = _list(api_stack, acct)
    assert list_id.startswith("LS")
    r = api_stack.cpaas("POST", "/api/create_campaign_list", acct, json={"list_name": "my_campaign_list"})
    assert r.status_code == 409 and r.json()["response"]["field"] == "list_name"
    r = api_stack.cpaas("POST", "/api/add_contact_to_list", acct, json={"list_id": list_id, "contacts": CONTACTS})
    assert r.json() == {"response": {"message": "(2) contacts imported successfully", "success": "true"}}
    # The same number again updates the contact instead of duplicating it.
    r = api_stack.cpaas("POST", "/api/add_contact_to_list", acct, json={
        "list_id": list_id, "contacts": [{"contact_name": "Ankit J", "contact_number": "+91 99792 71234"}]})
    assert r.status_code == 200
    with api_stack.session() as s:
        rows = s.scalars(select(Contact).where(Contact.list_id == list_id).order_by(Contact.number)).all()
        assert [(c.number, c.name) for c in rows] == [("+918000681234", "abc"), ("+919979271234", "Ankit J")]
        assert rows[1].fields == {"field1": "Ankit", "field2": "Jayswal", "field3": "500"}


def test_lists_of_one_account_are_invisible_to_another(api_stack):
    a, b = api_stack.account(), api_stack.account()
    list_id, dnd_id = _list(api_stack, a), _dnd_list(api_stack, a)
    # The same names are free for another account.
    _list(api_stack, b)
    r = api_stack.cpaas("POST", "/api/add_contact_to_list", b, json={"list_id": list_id, "contacts": CONTACTS})
    assert r.status_code == 404 and r.json()["response"]["field"] == "list_id"
    r = api_stack.cpaas("POST", "/api/add_dnd_contact_to_list", b, json={
        "dnd_list_id": dnd_id, "dnd_contacts": [{"dnd_contact_name": "x", "dnd_contact_number": "919979271234"}]})
    assert r.status_code == 404
    r = api_stack.cpaas("POST", "/api/import_broadcast_contacts_csv", b,
                        files={"file": ("c.csv", b"919979271234,a\n")}, data={"list_id": list_id})
    assert r.status_code == 404
    r = api_stack.cpaas("POST", "/api/import_dnd_contacts_csv", b,
                        files={"file": ("c.csv", b"919979271234\n")}, data={"dnd_list_id": dnd_id})
    assert r.status_code == 404


@pytest.mark.parametrize("body,field", [
    ({"list_id": "LSnothing", "contacts": CONTACTS}, "list_id"),
    ({"contacts": CONTACTS}, "list_id"),
    ({"list_id": "x", "contacts": []}, "contacts"),
    ({"list_id": "x", "contacts": "919979271234"}, "contacts"),
    ({"list_id": "x", "contacts": [{"contact_name": "n"}]}, "contacts[0].contact_number"),
    ({"list_id": "x", "contacts": [CONTACTS[0], {"contact_number": "12"}]}, "contacts[1].contact_number"),
    ({"list_id": "x", "contacts": [{"contact_number": "919979271234", "contact_fields": [1]}]},
     "contacts[0].contact_fields"),
])
def test_add_contact_validation(api_stack, body, field):
    acct = api_stack.account()
    r = api_stack.cpaas("POST", "/api/add_contact_to_list", acct, json=body)
    assert r.status_code in (400, 404), r.text
    assert r.json()["response"]["field"] == field


def test_csv_upload_keeps_good_rows_and_reports_bad_ones_by_line(api_stack):
    acct = api_stack.account()
    list_id = _list(api_stack, acct)
    csv = ("contact_number,contact_name,field1,field2\n"
           "919979271234,ankit,Ankit,500\n"
           "not-a-number,bad,x,y\n"
           "\n"
           "918000681234,abc,Abc,100\n"
           ",empty,x,y\n").encode()
    r = api_stack.cpaas("POST", "/api/import_broadcast_contacts_csv", acct,
                        files={"file": ("contacts.csv", csv, "text/csv")}, data={"list_id": list_id})
    assert r.status_code == 200, r.text
    body = r.json()["response"]
    assert body["message"] == "(2) contacts imported successfully"
    assert body["imported"] == 2 and body["rejected"] == 2
    assert [e["line"] for e in body["errors"]] == [3, 6]
    with api_stack.session() as s:
        rows = s.scalars(select(Contact).where(Contact.list_id == list_id).order_by(Contact.number)).all()
        assert [c.fields for c in rows] == [{"field1": "Abc", "field2": "100"}, {"field1": "Ankit", "field2": "500"}]


def test_csv_by_name_from_the_upload_directory_streams_large_files(api_stack):
    acct = api_stack.account()
    list_id = _list(api_stack, acct)
    upload_dir = api_stack.cfg.path(api_stack.cfg.upload_dir)
    os.makedirs(upload_dir, exist_ok=True)
    with open(os.path.join(upload_dir, "big.csv"), "w") as fh:  # no header: number, name, field1...
        for i in range(2500):
            fh.write(f"+9199800{i:05d},name{i},{i}\n")
    r = api_stack.cpaas("POST", "/api/import_broadcast_contacts_csv", acct,
                        json={"list_id": list_id, "csv_name": "big.csv"})
    assert r.status_code == 200, r.text
    assert r.json()["response"]["imported"] == 2500
    with api_stack.session() as s:
        c = s.scalars(select(Contact).where(Contact.list_id == list_id, Contact.number == "+919980002499")).one()
        assert c.name == "name2499" and c.fields == {"field1": "2499"}
    for name in ("../vaani.db", "/etc/passwd", "missing.csv", ".."):
        r = api_stack.cpaas("POST", "/api/import_broadcast_contacts_csv", acct,
                            json={"list_id": list_id, "csv_name": name})
        assert r.status_code in (400, 404), name
        assert r.json()["response"]["field"] == "csv_name"


def test_csv_with_only_bad_rows_is_refused(api_stack):
    acct = api_stack.account()
    dnd_id = _dnd_list(api_stack, acct)
    r = api_stack.cpaas("POST", "/api/import_dnd_contacts_csv", acct,
                        files={"file": ("d.csv", b"dnd_contact_number\nabc\n123\n")}, data={"dnd_list_id": dnd_id})
    assert r.status_code == 400
    assert r.json()["response"]["rejected"] == 2


def test_dnd_lists(api_stack):
    acct = api_stack.account()
    dnd_id = _dnd_list(api_stack, acct)
    assert dnd_id.startswith("DN")
    r = api_stack.cpaas("POST", "/api/add_dnd_contact_to_list", acct, json={"dnd_list_id": dnd_id, "dnd_contacts": [
        {"dnd_contact_name": "ankit", "dnd_contact_number": "919979271234"},
        {"dnd_contact_name": "abc", "dnd_contact_number": "918000681234"}]})
    assert r.json() == {"response": {"message": "(2) DND contacts imported successfully", "success": "true"}}
    r = api_stack.cpaas("POST", "/api/import_dnd_contacts_csv", acct,
                        files={"file": ("d.csv", b"918000681234,abc\n917000000001,new\n")}, data={"dnd_list_id": dnd_id})
    assert r.status_code == 200 and r.json()["response"]["message"] == "(2) DND contacts imported successfully"
    with api_stack.session() as s:
        assert sorted(s.scalars(select(DndNumber.number).where(DndNumber.dnd_list_id == dnd_id))) == [
            "+917000000001", "+918000681234", "+919979271234"]


def _campaign_body(list_id, dnd_id=None, **kw):
    start = dt.datetime.now() + dt.timedelta(days=1)
    body = {"list_id": list_id, "campaign_name": "test_broadcast", "campaign_type": "0",
            "campaign_caller_id": "15168148111", "dynamic_announcement": "1", "recorded_filename": "",
            "announcement_text": "Dear {field1}, your due balance is {field3} INR",
            "campaign_start_date": start.strftime("%Y-%m-%d %H:%M:%S"),
            "campaign_end_date": (start + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"),
            "time_zone": "Asia/Kolkata", "repeat": "2", "max_retries": "1", "retry_time": "60",
            "calls_per_minute": "10", "voice": "Matthew", "volume": "soft", "rate": "slow", "pitch": "medium"}
    if dnd_id:
        body["dnd_list_id"] = dnd_id
    body.update(kw)
    return body


def test_campaign_create_details_stop(api_stack):
    acct = api_stack.account()
    list_id, dnd_id = _list(api_stack, acct), _dnd_list(api_stack, acct)
    api_stack.cpaas("POST", "/api/add_contact_to_list", acct, json={"list_id": list_id, "contacts": CONTACTS})
    r = api_stack.cpaas("POST", "/api/create_campaign", acct, json=_campaign_body(list_id, dnd_id))
    assert r.status_code == 200, r.text
    campaign_id = r.json()["response"]["campaign_id"]
    assert campaign_id.startswith("CM")
    with api_stack.session() as s:
        camp = s.get(Campaign, campaign_id)
        assert camp.repeat == 2 and camp.calls_per_minute == 10 and camp.time_zone == "Asia/Kolkata"
        assert camp.caller_id == "+15168148111" and camp.dynamic_announcement
        assert s.scalar(select(Attempt.id).where(Attempt.campaign_id == campaign_id).limit(1)) is not None
    r = api_stack.cpaas("POST", "/api/create_campaign", acct, json=_campaign_body(list_id, dnd_id))
    assert r.status_code == 409 and r.json()["response"]["field"] == "campaign_name"

    details = api_stack.cpaas("GET", "/api/get_campaign_details", acct,
                              headers={"Content-Type": "application/json"}).json()["response"]
    assert details["message"] == "campaign found" and details["success"] == "true"
    (row,) = details["result"]
    assert row["campaign_id"] == campaign_id and row["campaign_status"] == "0"
    assert row["repeat_announcement_count"] == "2" and row["campaign_caller_id"] == "15168148111"
    assert row["campaign_start_date"].endswith(" GMT")

    other = api_stack.account()
    assert api_stack.cpaas("GET", "/api/get_campaign_details", other).json()["response"]["result"] == []
    for path in ("/api/stop_campaign", "/api/get_campaign_cdr_statistics", "/api/get_cdr_by_campaign_id"):
        r = api_stack.cpaas("POST", path, other, json={"campaign_id": campaign_id})
        assert r.status_code == 404, path
    r = api_stack.cpaas("POST", "/api/create_campaign", other, json=_campaign_body(list_id))
    assert r.status_code == 404 and r.json()["response"]["field"] == "list_id"
    empty = _list(api_stack, acct, "empty")
    r = api_stack.cpaas("POST", "/api/create_campaign", acct, json=_campaign_body(empty, campaign_name="e"))
    assert r.status_code == 400 and r.json()["response"]["field"] == "list_id"

    r = api_stack.cpaas("POST", "/stop_campaign", acct, json={"campaign_id": campaign_id})
    assert r.json() == {"response": {"message": "campaign stopped successfully", "success": "true"}}
    with api_stack.session() as s:
        assert s.get(Campaign, campaign_id).status == "stopped"
        states = set(s.scalars(select(Attempt.state).where(Attempt.campaign_id == campaign_id)))
        assert states == {"cancelled"}
    r = api_stack.cpaas("POST", "/api/stop_campaign", acct, json={"campaign_id": campaign_id})
    assert r.status_code == 409


@pytest.mark.parametrize("change,field", [
    ({"campaign_type": "2"}, "campaign_type"),
    ({"campaign_start_date": "2023-12-18 10:00"}, None),  # a missing seconds field is forgiven
    ({"campaign_end_date": "2001-01-01 00:00:00"}, "campaign_end_date"),
    ({"campaign_end_date": "tomorrow"}, "campaign_end_date"),
    ({"time_zone": "Asia/Nowhere"}, "time_zone"),
    ({"calls_per_minute": "0"}, "calls_per_minute"),
    ({"calls_per_minute": "ten"}, "calls_per_minute"),
    ({"dynamic_announcement": "1", "announcement_text": ""}, "announcement_text"),
    ({"dynamic_announcement": "0", "recorded_filename": ""}, "recorded_filename"),
    ({"dynamic_announcement": "0", "recorded_filename": "../../x.wav"}, "recorded_filename"),
    ({"campaign_caller_id": "caller"}, "campaign_caller_id"),
    ({"retry_on_statuses": "NOANSWER,SLEEPY"}, "retry_on_statuses"),
    ({"voice": "x" * 100}, "voice"),
])
def test_campaign_validation(api_stack, change, field):
    acct = api_stack.account()
    list_id = _list(api_stack, acct)
    api_stack.cpaas("POST", "/api/add_contact_to_list", acct, json={"list_id": list_id, "contacts": CONTACTS})
    body = _campaign_body(list_id, **change)
    if field is None:
        body["campaign_start_date"] = "2030-12-1810:00:00"  # the seed's own typo: no space
        body["campaign_end_date"] = "2030-12-19 10:00:00"
    r = api_stack.cpaas("POST", "/api/create_campaign", acct, json=body)
    if field is None:
        assert r.status_code == 200, r.text
        return
    assert r.status_code == 400, r.text
    assert r.json()["response"]["field"] == field


def _cdr(s, account_id, **kw):
    row = Cdr(account_id=account_id, call_date=kw.pop("call_date", utcnow()), **kw)
    s.add(row)
    s.flush()
    return row.id


def test_cdr_queries_and_statistics(api_stack):
    acct, other = api_stack.account(), api_stack.account()
    with api_stack.session() as s:
        day = dt.datetime(2023, 6, 14, 10, 0)
        for i in range(7):
            _cdr(s, acct.account_id, request_id="req0000001", call_date=day + dt.timedelta(hours=i),
                 dial_status="ANSWER" if i % 2 == 0 else "BUSY", customer_number="+919979271234",
                 dialed_number="+919979271234", caller_id="+15168148111", uniqueid=f"u-{acct.account_id}-{i}")
        _cdr(s, acct.account_id, campaign_id="CMx", list_id="LSx", dial_status="DND", is_dnd=True,
             call_date=day)
        _cdr(s, other.account_id, request_id="req0000001", call_date=day, dial_status="ANSWER")
    r = api_stack.cpaas("POST", "/api/get_cdr_by_date", acct, json={
        "start_call_date": "2023-06-13", "end_call_date": "2023-06-17", "record_count": "5", "offset": "1"})
    assert r.status_code == 200, r.text
    result = r.json()["response"]["result"]
    assert r.json()["response"]["message"] == "cdr found"
    assert len(result) == 5
    assert all(c["account_id"] == acct.account_id for c in result)
    assert result[0]["dialed_number"] == "919979271234" and result[0]["call_date"].endswith("GMT")
    r = api_stack.cpaas("POST", "/api/get_cdr_by_request_id", acct, json={"request_id": "req0000001"})
    assert len(r.json()["response"]["result"]) == 7
    r = api_stack.cpaas("POST", "/api/get_cdr_by_date", acct, json={
        "start_call_date": "2023-06-18", "end_call_date": "2023-06-17"})
    assert r.status_code == 400 and r.json()["response"]["field"] == "end_call_date"
    r = api_stack.cpaas("POST", "/api/get_cdr_by_date", acct, json={"start_call_date": "13-06-2023",
                                                                     "end_call_date": "2023-06-17"})
    assert r.status_code == 400 and r.json()["response"]["field"] == "start_call_date"
    stats = api_stack.cpaas("GET", "/api/get_cdr_statistics", acct).json()["response"]["result"]
    assert stats["answer_calls"] == [4] and stats["busy_calls"] == [3] and stats["total_calls"] == [8]
    other_stats = api_stack.cpaas("GET", "/api/get_cdr_statistics", other).json()["response"]["result"]
    assert other_stats["total_calls"] == [1]
    live = api_stack.cpaas("GET", "/api/get_live_call_statistics", acct).json()["response"]
    assert live == {"result": {"live_calls_c2c": 0, "live_calls_campaign": 0, "live_calls_inbound": 0,
                               "live_calls_otp": 0}, "success": "true"}


def test_modify_call_errors(api_stack):
    acct = api_stack.account()
    r = api_stack.cpaas("POST", "/api/modify_call", acct, json={"channel": "", "modify_type": "0",
                                                                 "transfer_to": "102"})
    assert r.status_code == 400 and r.json()["response"]["field"] == "channel"
    r = api_stack.cpaas("POST", "/api/modify_call", acct, json={"channel": "abc", "modify_type": "7"})
    assert r.status_code == 400 and r.json()["response"]["field"] == "modify_type"
    r = api_stack.cpaas("POST", "/api/modify_call", acct, json={"channel": "abc", "modify_type": "0"})
    assert r.status_code == 400 and r.json()["response"]["field"] == "transfer_to"
    r = api_stack.cpaas("POST", "/api/modify_call", acct, json={
        "channel": " 4f1c0a8e-0000-4000-8000-000000000000 ", "modify_type": "2"})
    assert r.status_code == 404 and r.json()["response"]["field"] == "channel"

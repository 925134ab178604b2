"""A 30-contact type-0 campaign on the real switch: answered, busy, unallocated, no answer and DND, paced."""

from __future__ import annotations

import datetime as dt

from tests.e2e.harness import wait_for

ANSWERED = [f"9199100000{n:02d}" for n in range(1, 23)]
BUSY = ["919910001486", "919910002486", "919910003486"]
UNALLOCATED = ["919910001404", "919910002404"]
NO_ANSWER = ["919910001480", "919910002480"]
DND = ["919910009999"]
CPM = 60


def test_campaign_of_30_contacts(platform):
    p = platform
    acct = p.account()
    r = p.cpaas("POST", "/api/create_campaign_list", acct, json={"list_name": "e2e"})
    list_id = r.json()["response"]["list_id"]
    numbers = ANSWERED + BUSY + UNALLOCATED + NO_ANSWER + DND
    contacts = [{"contact_name": f"c{i}", "contact_number": n, "contact_fields": {"field1": f"Name{i}",
                                                                                   "field3": str(100 + i)}}
                for i, n in enumerate(numbers)]
    r = p.cpaas("POST", "/api/add_contact_to_list", acct, json={"list_id": list_id, "contacts": contacts})
    assert r.status_code == 200, r.text
    r = p.cpaas("POST", "/api/create_campaign_dnd_list", acct, json={"dnd_list_name": "e2e-dnd"})
    dnd_id = r.json()["response"]["dnd_list_id"]
    r = p.cpaas("POST", "/api/add_dnd_contact_to_list", acct, json={
        "dnd_list_id": dnd_id, "dnd_contacts": [{"dnd_contact_name": "x", "dnd_contact_number": DND[0]}]})
    assert r.status_code == 200, r.text
    now = dt.datetime.now(dt.timezone.utc)
    body = {"list_id": list_id, "dnd_list_id": dnd_id, "campaign_name": "e2e", "campaign_type": "0",
            "campaign_caller_id": "15168148111", "dynamic_announcement": "1", "recorded_filename": "",
            "announcement_text": "Dear {field1}, your due balance is {field3} rupees",
            "campaign_start_date": (now - dt.timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S"),
            "campaign_end_date": (now + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"),
            "time_zone": "UTC", "repeat": "1", "max_retries": "0", "retry_time": "60",
            "calls_per_minute": str(CPM)}
    r = p.cpaas("POST", "/api/create_campaign", acct, json=body)
    assert r.status_code == 200, r.text
    campaign_id = r.json()["response"]["campaign_id"]

    def cdrs():
        r = p.cpaas("POST", "/api/get_cdr_by_campaign_id", acct, json={"campaign_id": campaign_id,
                                                                         "record_count": "100"})
        rows = r.json()["response"].get("result") or []
        return rows if len(rows) >= len(numbers) and all(c.get("dial_status") for c in rows) else None

    rows = wait_for(cdrs, 240, every=2, what="a final CDR for every contact")
    by_number = {c["customer_number"].lstrip("+"): c for c in rows}
    assert sorted(by_number) == sorted(numbers), rows
    for n in ANSWERED:
        assert by_number[n]["dial_status"] == "ANSWER", by_number[n]
        assert float(by_number[n]["billsec"]) > 1
    for n in BUSY:
        assert by_number[n]["dial_status"] == "BUSY", by_number[n]
    for n in NO_ANSWER:
        assert by_number[n]["dial_status"] == "NOANSWER", by_number[n]
    for n in UNALLOCATED:
        assert by_number[n]["dial_status"] not in ("ANSWER", "BUSY", "NOANSWER", "DND"), by_number[n]
    assert by_number[DND[0]]["dial_status"] == "DND"
    # Pacing as FreeSWITCH saw it: its own CHANNEL_CREATE times of our outbound legs.
    creates = sorted(int(e["Event-Date-Timestamp"]) / 1e6 for e in p.events.of("CHANNEL_CREATE")
                     if e.get("Call-Direction") == "outbound" and e.get("Caller-Destination-Number") in numbers)
    assert len(creates) == len(numbers) - len(DND)
    for i, t in enumerate(creates):
        in_window = [u for u in creates[i:] if u < t + 60]
        assert len(in_window) <= CPM
    gaps = [b - a for a, b in zip(creates, creates[1:])]
    assert min(gaps) >= 60 / CPM * 0.9, gaps
    # Every contact was dialled once: one channel per number.
    assert sorted(e["Caller-Destination-Number"] for e in p.events.of("CHANNEL_CREATE")
                  if e.get("Call-Direction") == "outbound" and e.get("Caller-Destination-Number") in numbers) \
        == sorted(set(numbers) - set(DND))
    print("\nCDR excerpts:")
    for n in (ANSWERED[0], BUSY[0], UNALLOCATED[0], NO_ANSWER[0], DND[0]):
        c = by_number[n]
        print({k: c.get(k) for k in ("customer_number", "dial_status", "call_status", "billsec", "hangup_cause",
                                     "request_id", "campaign_id")})
    print(f"CHANNEL_CREATE gaps: min {min(gaps):.3f} s, mean {sum(gaps) / len(gaps):.3f} s over {len(gaps)}")

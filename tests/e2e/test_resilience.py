"""The real switch refusing, a dialer worker killed, FreeSWITCH restarted: no contact lost or dialled twice.

These run on a platform of their own whose FreeSWITCH takes 3 sessions a second and 4 at once while
FREESWITCH_NODES tells the dialer 30 and 1000: the switch refuses what is over (``Throttle Error!``,
``Over Session Limit!``, both ``-ERR DESTINATION_OUT_OF_ORDER``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import time
import uuid

import pytest

from tests.e2e.harness import real_freeswitch_prefix, start_platform, start_stack, wait_for


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    import redis

    key_prefix = f"e2r{uuid.uuid4().hex[:8]}"
    p = start_platform(tmp_path_factory.mktemp("e2e-tight"), real_freeswitch_prefix(), key_prefix=key_prefix,
                       redis_url="redis://127.0.0.1:6379/0", sps=3, declared_sps=30,
                       max_sessions=4, declared_max_sessions=1000)
    yield p
    p.stop()
    r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    for key in r.scan_iter(f"{key_prefix}*"):
        r.delete(key)


def _campaign(p, acct, numbers, cpm):
    r = p.cpaas("POST", "/api/create_campaign_list", acct, json={"list_name": uuid.uuid4().hex[:12]})
    list_id = r.json()["response"]["list_id"]
    contacts = [{"contact_name": f"c{i}", "contact_number": n} for i, n in enumerate(numbers)]
    assert p.cpaas("POST", "/api/add_contact_to_list", acct, json={"list_id": list_id, "contacts": contacts}
                   ).status_code == 200
    now = dt.datetime.now(dt.timezone.utc)
    r = p.cpaas("POST", "/api/create_campaign", acct, json={
        "list_id": list_id, "campaign_name": uuid.uuid4().hex[:12], "campaign_type": "0",
        "campaign_caller_id": "15168148111", "dynamic_announcement": "1", "recorded_filename": "",
        "announcement_text": "This is a test call from your bank. Goodbye.",
        "campaign_start_date": (now - dt.timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S"),
        "campaign_end_date": (now + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"),
        "time_zone": "UTC", "repeat": "1", "max_retries": "0", "retry_time": "60", "calls_per_minute": str(cpm)})
    assert r.status_code == 200, r.text
    return r.json()["response"]["campaign_id"]


def _final_cdrs(p, acct, campaign_id, count, timeout=240):
    def cdrs():
        r = p.cpaas("POST", "/api/get_cdr_by_campaign_id", acct, json={"campaign_id": campaign_id,
                                                                         "record_count": "500"})
        rows = r.json()["response"].get("result") or []
        return rows if len(rows) >= count and all(c.get("dial_status") for c in rows) else None

    return wait_for(cdrs, timeout, every=2, what=f"{count} final CDRs")


def _channels_per_number(p, numbers) -> dict[str, int]:
    """How many outbound channels FreeSWITCH made for each number, from its own log (it survives restarts)."""
    log = p.fs_log()
    return {n: len(re.findall(rf"New Channel sofia/vaani/{n} \[", log)) for n in numbers}


def test_refusals_of_the_real_switch_are_paced_around(tight):
    p = tight
    acct = p.account()
    numbers = [f"9199500000{i:02d}" for i in range(1, 21)]
    camp = _campaign(p, acct, numbers, cpm=1200)
    rows = _final_cdrs(p, acct, camp, len(numbers))
    assert {c["dial_status"] for c in rows} == {"ANSWER"}, [(c["customer_number"], c["dial_status"]) for c in rows]
    assert sorted(c["customer_number"] for c in rows) == sorted(numbers)
    refused = p.fs_log().count("Throttle Error!")
    over = p.fs_log().count("Over Session Limit!")
    assert refused > 0 and over > 0, f"the switch refused {refused} + {over}: the test did not test both limits"
    assert set(_channels_per_number(p, numbers).values()) == {1}
    print(f"\nrefusals by the switch: {refused} Throttle Error!, {over} Over Session Limit!; "
          f"all {len(rows)} contacts answered once")


def test_dialer_killed_and_freeswitch_restarted_mid_campaign(tight):
    p = tight
    acct = p.account()
    numbers = [f"9199600000{i:02d}" for i in range(1, 41)]
    camp = _campaign(p, acct, numbers, cpm=120)
    wait_for(lambda: sum(_channels_per_number(p, numbers).values()) >= 8, 60, what="the campaign under way")
    # 1. SIGKILL the dialer worker: the supervisor stops the stack; the operator starts it again.
    out = (p.workdir / "stack.out").read_text()
    pid = int(re.findall(r"^dialer-1\s+pid (\d+)", out, re.M)[-1])
    os.kill(pid, signal.SIGKILL)
    p.stack.wait(60)
    start_stack(p)
    wait_for(lambda: sum(_channels_per_number(p, numbers).values()) >= 20, 90, what="dialling again")
    # 2. Restart FreeSWITCH under the running dialer: its calls end, its event socket goes away and comes back.
    p.fs.stop()
    time.sleep(1)
    p.fs.start()
    rows = _final_cdrs(p, acct, camp, len(numbers), timeout=300)
    per_number = _channels_per_number(p, numbers)
    assert all(per_number[n] <= 1 for n in numbers), {n: c for n, c in per_number.items() if c > 1}
    by_number = {}
    for c in rows:
        by_number.setdefault(c["customer_number"], []).append(c)
    assert sorted(by_number) == sorted(numbers)
    assert all(len(v) == 1 for v in by_number.values()), {n: len(v) for n, v in by_number.items() if len(v) > 1}
    statuses = {}
    for c in rows:
        statuses[c["dial_status"]] = statuses.get(c["dial_status"], 0) + 1
    never = [n for n in numbers if per_number[n] == 0]
    print(f"\nafter a SIGKILLed dialer and a FreeSWITCH restart: {len(rows)} CDRs, one per contact; "
          f"statuses {statuses}; dialled once: {sum(per_number.values())}, never dialled: {len(never)}")
    # Every contact got its one channel: none was failed for what the restarting switch refused.
    assert never == [], never

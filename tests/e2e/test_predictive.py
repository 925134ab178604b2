"""A small predictive campaign with live agents on the real switch: sipp customers, sipp agents, CDRs, abandonment."""

from __future__ import annotations

import datetime as dt
import json

import redis
import sqlalchemy as sa

from tests.dialer.agent_helpers import max_overlap
from tests.e2e.harness import wait_for

# Numbers of this file only: the suite's event log is shared by every test of the session.
CUSTOMERS = [f"9181000000{n:02d}" for n in range(1, 9)]  # answer and talk until the platform hangs up
BUSY = ["918100001486", "918100002486"]
UNALLOCATED = ["918100001404"]
NO_ANSWER = ["918100001480"]
# The carrier answers numbers ending 312 and hangs up about 14 s later: an agent ending each conversation.
AGENTS = ["918170001312", "918170002312", "918170003312"]


def _agent_campaign(p, acct, name: str, numbers: list[str], **fields) -> str:
    """A contact list of ``numbers`` and an agent campaign dialling it (type 0; its text is the machine message)."""
    r = p.cpaas("POST", "/api/create_campaign_list", acct, json={"list_name": name})
    list_id = r.json()["response"]["list_id"]
    r = p.cpaas("POST", "/api/add_contact_to_list", acct, json={"list_id": list_id, "contacts": [
        {"contact_name": f"c{i}", "contact_number": n, "contact_fields": {"field1": f"Name{i}"}}
        for i, n in enumerate(numbers)]})
    assert r.status_code == 200, r.text
    now = dt.datetime.now(dt.timezone.utc)
    body = {"list_id": list_id, "campaign_name": name, "campaign_type": "0", "campaign_caller_id": "15168148111",
            "dynamic_announcement": "1", "recorded_filename": "", "announcement_text": "Dear {field1}, please call us",
            "campaign_start_date": (now - dt.timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S"),
            "campaign_end_date": (now + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"),
            "time_zone": "UTC", "repeat": "1", "max_retries": "0", "retry_time": "60", "calls_per_minute": "600",
            **fields}
    r = p.cpaas("POST", "/api/create_campaign", acct, json=body)
    assert r.status_code == 200, r.text
    return r.json()["response"]["campaign_id"]


def _logged_in_agents(p, acct, campaign_id: str, endpoints: list[str], **fields) -> list[str]:
    """Agents on ``endpoints``, created and logged into the campaign over HTTP; their ids."""
    ids = []
    for n in endpoints:
        r = p.cpaas("POST", "/api/agents", acct, json={"name": f"agent {n}", "endpoint": n, **fields})
        assert r.status_code == 200, r.text
        ids.append(r.json()["response"]["agent_id"])
        r = p.cpaas("POST", f"/api/agents/{ids[-1]}/login", acct, json={"campaign_ids": [campaign_id]})
        assert r.status_code == 200, r.text
    return ids


def _final_cdrs(p, campaign_id: str, count: int, what: str, *, facts_of_all: bool = True) -> list:
    """The campaign's ``count`` CDRs once each is final and has the IVR runtime's facts (of every call, or of the
    answered ones only)."""
    from dialer.store import db
    from dialer.store.models import Cdr

    def rows():
        with db.session_scope(p.db_url) as s:
            found = list(s.scalars(sa.select(Cdr).where(Cdr.campaign_id == campaign_id)))
            for row in found:
                s.expunge(row)
        done = len(found) == count and all(r.call_status for r in found) and \
            all(r.ivr_recorded for r in found if facts_of_all or r.dial_status == "ANSWER")
        return found if done else None

    return wait_for(rows, 300, every=2, what=what)


def test_predictive_campaign_with_agents(platform):
    p = platform
    acct = p.account()
    numbers = CUSTOMERS + BUSY + UNALLOCATED + NO_ANSWER
    campaign_id = _agent_campaign(p, acct, "predictive-e2e", numbers, dial_mode="predictive", wrap_up_seconds="2")
    agent_ids = _logged_in_agents(p, acct, campaign_id, AGENTS)
    rows = _final_cdrs(p, campaign_id, len(numbers), "every contact's final CDR, with the IVR runtime's facts",
                       facts_of_all=False)
    by_number = {r.customer_number.lstrip("+"): r for r in rows}
    assert sorted(by_number) == sorted(numbers)
    for n in BUSY:
        assert by_number[n].dial_status == "BUSY"
    for n in NO_ANSWER:
        assert by_number[n].dial_status == "NOANSWER"
    answered = [by_number[n] for n in CUSTOMERS]
    assert all(r.dial_status == "ANSWER" for r in answered), [(r.customer_number, r.dial_status) for r in answered]
    # Each person reached an agent (or, had none been free within 2 s, was abandoned with the message).
    abandoned = [r for r in answered if r.abandoned]
    connected = [r for r in answered if r.agent_id]
    assert len(abandoned) + len(connected) == len(answered)
    assert {r.agent_id for r in connected} <= set(agent_ids)
    for r in connected:
        assert r.talk_seconds and r.talk_seconds > 5, (r.customer_number, r.talk_seconds)
        assert r.queue_wait_ms is not None and r.queue_wait_ms < 2000
    # The agent legs the switch made: one per connected call, to the agents' numbers.
    agent_legs = [e for e in p.events.of("CHANNEL_CREATE") if e.get("Caller-Destination-Number") in AGENTS]
    assert len(agent_legs) == len(connected)
    # The controller is still learning on 12 contacts (it needs 100 finished attempts): one call per ready
    # agent, so never more customer legs at once than agents — as FreeSWITCH's own event times show.
    created = {e["Unique-ID"]: int(e["Event-Date-Timestamp"]) / 1e6 for e in p.events.of("CHANNEL_CREATE")
               if e.get("Caller-Destination-Number") in numbers}
    ended = {e["Unique-ID"]: int(e["Event-Date-Timestamp"]) / 1e6 for e in p.events.of("CHANNEL_HANGUP_COMPLETE")
             if e.get("Unique-ID") in created}
    spans = [(created[u], ended[u]) for u in created if u in ended]
    assert len(spans) == len(numbers)
    assert max_overlap(spans) <= len(AGENTS)
    # No agent is left on a call.
    for a in agent_ids:
        state = p.cpaas("GET", f"/api/agents/{a}", acct).json()["response"]["agent"]["state"]
        assert state in ("ready", "wrap_up"), (a, state)
    last = redis.Redis.from_url(p.env["REDIS_URL"]).get(f"{p.prefix}:agentlane:last:{campaign_id}")
    print(f"\n{len(connected)} connected, {len(abandoned)} abandoned of {len(answered)} live answers "
          f"(abandonment {len(abandoned) / len(answered):.1%}); most customer legs at once: {max_overlap(spans)}; "
          f"last decision: {json.loads(last) if last else None}")
    for r in connected[:3]:
        print({"customer": r.customer_number, "agent": r.agent_id, "queue_wait_ms": r.queue_wait_ms,
               "talk_seconds": r.talk_seconds, "billsec": r.billsec, "wrap_up_seconds": r.wrap_up_seconds})


PERSONS = ["918200000701", "918200001701"]  # "hello?", then silence
MACHINES = ["918200000702", "918200001702"]  # a 7 s greeting, a beep, then recording


def test_answering_machine_detection_on_the_real_switch(platform):
    """AMD with FreeSWITCH's own wait_for_silence and mod_avmd: people reach the agent, machines get the message
    after their beep and take no agent."""
    p = platform
    acct = p.account()
    numbers = PERSONS + MACHINES
    campaign_id = _agent_campaign(p, acct, "amd-e2e", numbers, dial_mode="progressive", wrap_up_seconds="1",
                                  amd=True, machine_action="message")
    [agent] = _logged_in_agents(p, acct, campaign_id, ["918270009312"])
    rows = _final_cdrs(p, campaign_id, len(numbers), "the AMD campaign's CDRs")
    by_number = {r.customer_number.lstrip("+"): r for r in rows}
    for n in PERSONS:
        r = by_number[n]
        assert (r.amd_result, r.agent_id) == ("human", agent), (n, r.amd_result, r.agent_id, r.app_errors)
    uuids = {}
    for n in MACHINES:
        r = by_number[n]
        assert r.amd_result == "machine" and not r.agent_id and not r.abandoned, (n, r.amd_result, r.agent_id)
        uuids[r.uniqueid] = n
    # mod_avmd heard each machine's beep, and the message was spoken after it.
    beeps = {e["Unique-ID"]: int(e["Event-Date-Timestamp"]) for e in p.events.of("CUSTOM")
             if e.get("Event-Subclass") == "avmd::beep" and e.get("Unique-ID") in uuids}
    assert set(beeps) == set(uuids), p.events.of("CUSTOM")
    for u, beep_at in beeps.items():
        spoken = [int(e["Event-Date-Timestamp"]) for e in p.events.of("CHANNEL_EXECUTE", **{"Unique-ID": u})
                  if e.get("Application") in ("speak", "playback")]
        assert spoken and min(spoken) > beep_at, (uuids[u], spoken, beep_at)
    # Machines cost the agent nothing: its leg was made only for the people.
    legs = [e for e in p.events.of("CHANNEL_CREATE") if e.get("Caller-Destination-Number") == "918270009312"]
    assert len(legs) == len(PERSONS)
    print("\nAMD verdicts:", {n: by_number[n].amd_result for n in numbers},
          "beep → message:", {uuids[u]: round((min(int(e["Event-Date-Timestamp"]) for e in p.events.of(
              "CHANNEL_EXECUTE", **{"Unique-ID": u}) if e.get("Application") in ("speak", "playback")) - b) / 1e6, 2)
              for u, b in beeps.items()})


NAILED_CUSTOMERS = ["918300000001", "918300000002", "918300000003"]
NAILED_AGENT = "918370001313"  # answers, stays on, presses # every ~6 s


def test_a_nailed_up_agent_on_the_real_switch(platform):
    """A persistent agent: one channel in its conference room; each customer joins it, the agent's # ends the
    conversation (DTMF with the channel's variables, as verbose_events gives them), the agent stays in its room."""
    p = platform
    acct = p.account()
    campaign_id = _agent_campaign(p, acct, "nailed-e2e", NAILED_CUSTOMERS, dial_mode="progressive",
                                  wrap_up_seconds="1")
    [agent] = _logged_in_agents(p, acct, campaign_id, [NAILED_AGENT], persistent=True)
    rows = sorted(_final_cdrs(p, campaign_id, len(NAILED_CUSTOMERS), "the nailed-up agent's customers' CDRs"),
                  key=lambda r: r.answer)
    assert all(r.agent_id == agent for r in rows), [(r.customer_number, r.agent_id, r.app_errors) for r in rows]
    # The agent's # ended the first conversation, well before the customer (who talks for a minute) would have:
    # its RFC 2833 digit reached the dialer (the channel's variables on DTMF, by verbose_events) and the agent
    # stayed in its room (conference_controls=none). Later presses of the sipp agent never reach FreeSWITCH's
    # DTMF detection (it logs "RTP RECV DTMF" only for the first replayed pcap), so the other conversations
    # end when their customers hang up: a limit of the test's far end, shown in FreeSWITCH's log.
    assert rows[0].talk_seconds and rows[0].talk_seconds < 15, [r.talk_seconds for r in rows]
    assert all(r.talk_seconds and r.talk_seconds > 1 for r in rows)
    legs = [e for e in p.events.of("CHANNEL_CREATE") if e.get("Caller-Destination-Number") == NAILED_AGENT]
    assert len(legs) == 1, "one persistent channel for every conversation"
    channel = legs[0]["Unique-ID"]
    assert not [e for e in p.events.of("CHANNEL_HANGUP_COMPLETE") if e.get("Unique-ID") == channel]
    state = p.cpaas("GET", f"/api/agents/{agent}", acct).json()["response"]["agent"]
    assert state["state"] in ("ready", "wrap_up"), state
    # Logging out hangs the agent's channel up.
    p.cpaas("POST", f"/api/agents/{agent}/logout", acct)
    wait_for(lambda: [e for e in p.events.of("CHANNEL_HANGUP_COMPLETE") if e.get("Unique-ID") == channel], 30,
             what=f"the agent's channel hung up after logout (event log errors: {p.events.errors})")
    print("\nnailed-up agent: conversations", [r.talk_seconds for r in rows], "s, one channel", channel)

"""Built-in apps (announcement, OTP, click2call), inbound calls via the inbound-number table,
and the call facts handed to the dialer as an RQ job."""

from __future__ import annotations

import json

import pytest
import redis
from rq import Queue

from ivr.call_spec import FACTS_JOB, Announcement, CallFacts, CallSpec, ClickToCall, Otp
from ivr.inbound import table_key
from tests.ivr.appserver import wav
from tests.ivr.harness import Rig


@pytest.fixture
def rig(tmp_path, redis_url, key_prefix):
    r = Rig(tmp_path, redis_url, key_prefix)
    yield r
    r.stop()




def _heard(rig, uuid):
    return [t for u, k, t in rig.transcript if u == uuid and k == "heard"]


def _facts_jobs(redis_url, key_prefix):
    queue = Queue(f"{key_prefix}-records", connection=redis.Redis.from_url(redis_url))
    return [job for job in queue.jobs if job.func_name == FACTS_JOB]


def test_announcement_text_with_fields_repeated(rig, redis_url, key_prefix):
    spec = CallSpec(call_type="campaign", campaign_id="C1", request_id="R1", attempt_id="A1",
                    fields={"field1": "Asha", "field2": "500"},
                    announcement=Announcement(text="Dear {field1}, your due balance is {field2} INR", repeat=2,
                                              voice="Matthew"))
    uuid = rig.call(spec)
    call = rig.wait(uuid)
    assert _heard(rig, uuid).count("speech (Matthew): Dear Asha, your due balance is 500 INR") == 2
    assert call.facts.final_status == "end" and call.ended_by_platform
    jobs = _facts_jobs(redis_url, key_prefix)
    assert len(jobs) == 1
    facts = CallFacts.from_dict(jobs[0].args[0])
    assert facts.uuid == uuid and facts.campaign_id == "C1" and facts.attempt_id == "A1"
    assert facts.call_type == "campaign" and facts.answered_at and facts.ended_at >= facts.answered_at
    assert facts.hangup_cause == "NORMAL_CLEARING" and facts.media_duration >= 0


def test_announcement_media_url_through_http_cache(rig):
    rig.app.route("/hello.wav", lambda p: wav(1.0))
    url = rig.app.url("/hello.wav")
    uuid = rig.call(CallSpec(call_type="konnect", announcement=Announcement(media_url=url)))
    call = rig.wait(uuid)
    assert _heard(rig, uuid) == [f"audio: {url}", "the platform hangs up"]
    assert rig.app.requests_to("/hello.wav")  # the simulator fetched it, as mod_http_cache would
    assert call.facts.app_errors == []


def test_otp_spoken_n_times_with_voice_options(rig):
    uuid = rig.call(CallSpec(call_type="otp", otp=Otp(text="Your OTP is 1 9 8 7", repeat=3, voice="Raveena",
                                                      rate="slow", pitch="medium", volume="soft",
                                                      language_code="en-IN")))
    call = rig.wait(uuid)
    assert _heard(rig, uuid).count("speech (Raveena): Your OTP is 1 9 8 7") == 3
    assert call.facts.final_status == "end"


def test_click2call_agent_then_destination_recorded(rig, tmp_path):
    spec = CallSpec(call_type="click2call", caller_id="15168148111",
                    click2call=ClickToCall(destination="919900000222", recording_option="both"))
    uuid = rig.call(spec, number="919900000100")  # the agent
    call = rig.wait(uuid)
    assert call.facts.dial_results == [{"number": "919900000222", "status": "answered",
                                        "billsec": call.facts.dial_results[0]["billsec"]}]
    assert call.facts.dial_results[0]["billsec"] >= 4
    rec = call.facts.recordings[0]
    assert rec["url"].startswith("http://api.example/recordings/")
    assert (tmp_path / "recordings" / rec["name"]).exists()


def test_inbound_call_runs_the_numbers_app(rig, redis_url, key_prefix):
    r = redis.Redis.from_url(redis_url)
    r.hset(table_key(key_prefix), "+918000000001",
           json.dumps({"account_id": "ACC1", "app_url": rig.app.url("/in"), "fallback_url": None,
                       "dialect": "kookoo", "method": "GET"}))
    rig.app.route("/in", lambda p: "<response><playtext>Welcome</playtext><hangup/></response>")
    uuid = rig.inbound("919812345678", "+918000000001")
    call = rig.wait(uuid)
    first = rig.app.requests_to("/in")[0]["params"]
    assert first["event"] == "NewCall" and first["cid"] == "919812345678"
    assert first["called_number"] == "+918000000001" and first["outbound_sid"] == ""
    assert call.facts.direction == "inbound" and call.facts.account_id == "ACC1"
    assert call.facts.answered_at is not None
    assert "speech (Joanna): Welcome" in _heard(rig, uuid)


def test_inbound_call_to_unknown_number_is_refused(rig):
    uuid = rig.inbound("919812345678", "+918000009999")
    call = rig.wait(uuid)
    assert call.facts.hangup_cause == "UNALLOCATED_NUMBER"
    assert "no IVR app is configured for +918000009999" in call.facts.app_errors[0]
    assert call.facts.answered_at is None


def test_inbound_reject_is_not_answered(rig, redis_url, key_prefix):
    r = redis.Redis.from_url(redis_url)
    r.hset(table_key(key_prefix), "+918000000002",
           json.dumps({"account_id": "ACC1", "app_url": rig.app.url("/in"), "dialect": "kml"}))
    rig.app.route("/in", lambda p: '<Response><Reject reason="busy"/></Response>')
    uuid = rig.inbound("919812345678", "+918000000002")
    call = rig.wait(uuid)
    assert call.facts.hangup_cause == "USER_BUSY" and call.facts.answered_at is None
    assert call.ended_by_platform
    statuses = [x["params"]["call_status"] for x in rig.app.requests_to("/in")]
    assert statuses == ["continue", "end"]

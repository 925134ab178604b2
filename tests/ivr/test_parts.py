"""The runtime's parts on their own: request parameters, speech arguments, built-in apps,
the inbound-number table in real Redis, and the app fetcher against a real HTTP server."""

from __future__ import annotations

import json

import pytest
import redis

import kml
from ivr import builtin, tts
from ivr.call_spec import Announcement, CallSpec, ClickToCall, Otp
from ivr.fetch import AppFetcher, FetchError
from ivr.inbound import InboundLookupError, lookup, table_key
from ivr.params import CallIdentity, request_params
from tests.conftest import free_port
from tests.ivr.appserver import AppServer

IDENT = CallIdentity(sid="u-1", cid="919900000001", called_number="918000000000", outbound_sid="REQ1",
                     campaign_id="C9")


def test_kookoo_params_carry_every_seed_parameter_on_every_event():
    new = request_params("kookoo", IDENT, "NewCall")
    assert new["event"] == "NewCall" and new["sid"] == "u-1" and new["cid"] == "919900000001"
    assert new["called_number"] == "918000000000" and new["outbound_sid"] == "REQ1"
    assert set(new) >= {"data", "duration", "status", "process", "circle", "operator"}
    assert new["circle"] == "" and new["data"] == ""
    dtmf = request_params("kookoo", IDENT, "GotDTMF", {"data": "12"})
    assert dtmf["event"] == "GotDTMF" and dtmf["data"] == "12"
    hang = request_params("kookoo", IDENT, "Hangup", {"process": "GotDTMF", "data": "1"})
    assert hang["process"] == "GotDTMF"


def test_kml_params_are_konnects():
    p = request_params("kml", IDENT, "GotDTMF", {"key_pressed": "3", "data": "3"})
    assert p == {"call_id": "u-1", "campaign_id": "C9", "phone_number": "919900000001", "key_pressed": "3",
                 "call_status": "continue"}
    rec = request_params("kml", IDENT, "Record", {"media_url": "http://x/r.wav", "record_duration": "4"})
    assert rec["media_url"] == "http://x/r.wav" and rec["record_duration"] == "4"
    assert request_params("kml", IDENT, None, call_status="end")["call_status"] == "end"


def test_speak_maps_seed_voices_and_prosody():
    vm = tts.parse_voice_map("Raveena=kal")
    assert tts.speak_arg("Hi", engine="flite", voice_map=vm, voice="Matthew") == "flite|rms|Hi"
    assert tts.speak_arg("Hi", engine="flite", voice_map=vm, voice="Raveena", rate="slow") == "flite|kal|Hi"
    ssml = tts.speak_arg("Hi ${x}|y", engine="polly", voice_map=vm, voice="Joanna", rate="slow", volume="x- loud")
    assert ssml == "polly|slt|<speak><prosody rate=\"slow\" volume=\"x-loud\">Hi $(x) y</prosody></speak>"
    with pytest.raises(ValueError):
        tts.parse_voice_map("Joanna")
    assert tts.say_arg("1234", "501") == "en NUMBER iterated 1234"


def test_builtin_apps_are_instruction_documents():
    ann = builtin.builtin_app(CallSpec(call_type="campaign", fields={"name": "Asha"},
                                       announcement=Announcement(text="Hello {name}", repeat=2)))
    kinds = [i.kind for i in ann.instructions]
    assert kinds == ["speak", "pause", "speak", "hangup"]
    assert ann.instructions[0].text == "Hello Asha"
    media = builtin.builtin_app(CallSpec(call_type="konnect", announcement=Announcement(media_url="http://a/b.wav")))
    assert media.instructions[0] == kml.Play(url="http://a/b.wav")
    otp = builtin.builtin_app(CallSpec(call_type="otp", otp=Otp(text="Your code is 1 9 8 7", repeat=3,
                                                                 voice="Raveena", rate="slow")))
    assert [i.kind for i in otp.instructions].count("speak") == 3
    assert otp.instructions[0].voice == "Raveena" and otp.instructions[0].rate == "slow"
    c2c = builtin.builtin_app(CallSpec(call_type="click2call", caller_id="15168148111",
                                       click2call=ClickToCall(destination="919900000002", recording_option="both")))
    dial = c2c.instructions[0]
    assert dial.numbers == ("919900000002",) and dial.record and dial.caller_id == "15168148111"
    with pytest.raises(ValueError):
        builtin.builtin_app(CallSpec(call_type="campaign"))


def test_inbound_table_lookup(redis_url, key_prefix):
    r = redis.Redis.from_url(redis_url)
    r.hset(table_key(key_prefix), "+918000000000",
           json.dumps({"account_id": 7, "app_url": "http://app/ivr", "fallback_url": None, "dialect": "kml",
                       "method": "post"}))
    spec = lookup(r, key_prefix, "918000000000", "919900000001")
    assert spec.app_url == "http://app/ivr" and spec.dialect == "kml" and spec.method == "POST"
    assert spec.account_id == "7" and spec.call_type == "inbound"
    with pytest.raises(InboundLookupError, match="no IVR app"):
        lookup(r, key_prefix, "911111111111")
    r.hset(table_key(key_prefix), "+912222222222", "{broken")
    with pytest.raises(InboundLookupError, match="not valid JSON"):
        lookup(r, key_prefix, "+912222222222")


@pytest.fixture
def app_server():
    server = AppServer().start()
    yield server
    server.stop()


def test_fetcher_follows_redirects_and_sends_params(app_server):
    app_server.route("/a", lambda p: (302, app_server.url("/b")))
    app_server.route("/b", lambda p: "<response/>")
    res = AppFetcher().fetch(app_server.url("/a"), {"event": "NewCall", "sid": "x y"})
    assert res.body == b"<response/>" and app_server.requests_to("/b")
    assert app_server.requests_to("/a")[0]["params"] == {"event": "NewCall", "sid": "x y"}
    AppFetcher().fetch(app_server.url("/b"), {"event": "GotDTMF"}, "POST")
    assert app_server.requests[-1]["method"] == "POST"
    assert app_server.requests[-1]["params"] == {"event": "GotDTMF"}


def test_fetcher_failures_have_readable_reasons(app_server):
    fetcher = AppFetcher(connect_timeout=1, read_timeout=0.3, max_bytes=100)
    app_server.route("/500", lambda p: (500, "boom"))
    app_server.route("/slow", lambda p: (200, "<response/>", 1.0))
    app_server.route("/big", lambda p: "x" * 1000)
    for path, reason in (("/500", "HTTP 500"), ("/slow", "no response within 0.3s"),
                         ("/big", "larger than 100 bytes")):
        with pytest.raises(FetchError) as info:
            fetcher.fetch(app_server.url(path), {})
        assert reason in info.value.reason
    with pytest.raises(FetchError) as info:
        fetcher.fetch(f"http://127.0.0.1:{free_port()}/x", {})
    assert "cannot connect" in info.value.reason
    with pytest.raises(FetchError, match="not an http"):
        fetcher.fetch("ftp://x/y", {})


def test_call_spec_to_dict_is_asdict_without_empty_values_and_shares_nothing():
    from dataclasses import asdict

    from ivr.call_spec import Announcement, CallSpec

    spec = CallSpec(call_type="campaign", fields={"name": "Zoë", "field1": ""}, app_url=None,
                    announcement=Announcement(text="Hello {name}", repeat=2))
    d = spec.to_dict()
    assert d == {k: v for k, v in asdict(spec).items() if v not in (None, {}, [])}
    d["fields"]["name"] = "changed"
    d["announcement"]["repeat"] = 9
    assert spec.fields["name"] == "Zoë" and spec.announcement.repeat == 2
    assert CallSpec.decode(spec.encode()) == spec

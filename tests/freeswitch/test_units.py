"""Pure parts of the simulator: FreeSWITCH's argument splitting, the dial-string grammar, scenarios, the CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from freeswitch.sim.dialstring import (DialStringError, parse_dialstring, parse_endpoint, parse_originate_args,
                                       separate_string)
from freeswitch.sim.events import serialize_event_xml
from freeswitch.sim.process import SimulatorProcess
from freeswitch.sim.scenario import Scenario, ScenarioError, parse_dtmf
from tests.freeswitch.esl_client import CAPTURES, capture


@pytest.mark.parametrize("text, pieces", [
    ("a b  c", ["a", "b", "c"]),
    ("&socket('127.0.0.1:8084 async full')", ["&socket(127.0.0.1:8084 async full)"]),
    ("&socket(127.0.0.1:8084 async full)", ["&socket(127.0.0.1:8084", "async", "full)"]),
    ("x\\ty", ["x\ty"]),
    ("'a b' c", ["a b", "c"]),
])
def test_separate_string_blank(text, pieces):
    assert separate_string(text, " ") == pieces


def test_separate_string_char_keeps_escaped_and_quoted_delimiters():
    assert separate_string("a=1,b='x,y',c=p\\,q", ",") == ["a=1", "b=x,y", "c=p,q"]
    assert separate_string("^^:a=1,2:b=3", ",") == ["a=1,2", "b=3"]


def test_originate_args_split_like_mod_commands():
    oa = parse_originate_args("{a=1}sofia/gateway/gw/1 &playback(/tmp/x.wav) XML default Name 123 30")
    assert (oa.app_name, oa.app_arg, oa.cid_name, oa.cid_num, oa.timeout) == ("playback", "/tmp/x.wav", "Name",
                                                                              "123", 30)
    oa = parse_originate_args("sofia/gateway/gw/1 &park")
    assert (oa.app_name, oa.app_arg) == ("park", None)
    oa = parse_originate_args("sofia/gateway/gw/1 1000 undef undef")
    assert (oa.app_name, oa.exten, oa.dialplan, oa.context) == (None, "1000", "XML", "default")
    with pytest.raises(ValueError, match="-USAGE"):
        parse_originate_args("only-one")


def test_dialstring_groups_legs_and_variables():
    ds = parse_dialstring("{a=1}{b=2}[x=1,y=2]sofia/gateway/gw/1,[z=3]user/100 :_: loopback/55|error/USER_BUSY")
    assert ds.variables == [("a", "1"), ("b", "2")]
    assert [[leg.endpoint for leg in g] for g in ds.groups] == [["sofia/gateway/gw/1", "user/100"], ["loopback/55"],
                                                                 ["error/USER_BUSY"]]
    assert ds.groups[0][0].variables == [("x", "1"), ("y", "2")]
    with pytest.raises(DialStringError):
        parse_dialstring("{a=1")
    with pytest.raises(DialStringError):
        parse_dialstring("")


def test_endpoints():
    ep = parse_endpoint("sofia/gateway/trunk/+919812345678")
    assert (ep.kind, ep.number, ep.gateway) == ("sofia", "+919812345678", "trunk")
    ep = parse_endpoint("sofia/internal/1000@10.0.0.1:5060")
    assert (ep.number, ep.profile, ep.uri) == ("1000", "internal", "sip:1000@10.0.0.1:5060")
    assert parse_endpoint("loopback/9199/default").channel_name == "loopback/9199-a"
    assert parse_endpoint("user/1001@example.com").channel_name == "sofia/internal/1001@example.com"
    with pytest.raises(DialStringError) as err:
        parse_endpoint("iax/foo")
    assert err.value.cause == "CHAN_NOT_IMPLEMENTED"
    with pytest.raises(DialStringError) as err:
        parse_endpoint("sofia/gateway/gw")
    assert err.value.cause in ("INVALID_URL", "INVALID_GATEWAY")


def test_dtmf_plans():
    assert parse_dtmf("1@2;2#@5") == [(2.0, "1"), (5.0, "2#")]
    assert parse_dtmf([{"at": 1, "digits": "9"}, [0.5, "*"]]) == [(0.5, "*"), (1.0, "9")]
    for bad in ("1", "x@1", "1@-2", "1@soon"):
        with pytest.raises(ScenarioError):
            parse_dtmf(bad)


def test_scenario_rules_and_overrides():
    s = Scenario.from_data({"defaults": {"ring": 2}, "rules": [
        {"match": "100", "outcome": "busy"}, {"match": "20*", "outcome": "machine"},
        {"match": "/^3\\d+$/", "outcome": "fail", "cause": "no_route_destination"}]})
    assert s.behaviour("100").failure_cause == "USER_BUSY"
    assert s.behaviour("+100").failure_cause == "USER_BUSY"
    assert s.behaviour("2077").outcome == "machine" and s.behaviour("2077").hangup_after == 30
    assert s.behaviour("345").failure_cause == "NO_ROUTE_DESTINATION"
    assert s.behaviour("999").failure_cause is None and s.behaviour("999").ring == 2
    b = s.behaviour("100", {"sim_outcome": "answer", "sim_answer_after": "0", "sim_talk_seconds": "5"})
    assert (b.outcome, b.ring, b.talk) == ("answer", 0, 5)


@pytest.mark.parametrize("data, message", [
    ({"rules": [{"outcome": "busy"}]}, "needs a 'match'"),
    ({"defaults": {"outcome": "maybe"}}, "is not one of"),
    ({"defaults": {"colour": "red"}}, "unknown key"),
    ({"rules": [{"match": "/(/"}]}, "bad regex"),
    (["not", "a", "mapping"], "must be a mapping"),
])
def test_bad_scenarios_are_explained(data, message):
    with pytest.raises(ScenarioError, match=message):
        Scenario.from_data(data)


def test_default_scenario_loads():
    s = Scenario.default()
    assert s.behaviour("9000000486").failure_cause == "USER_BUSY"
    assert s.behaviour("9000000001").failure_cause is None


@pytest.mark.skipif(not CAPTURES.is_dir(), reason="captures not available")
def test_xml_events_have_freeswitch_layout():
    data = capture("evxml_BACKGROUND_JOB.bin")
    body = data.split(b"\n\n", 1)[1]
    head = [("Event-Name", "BACKGROUND_JOB"), ("Job-Command-Arg", "loopback/9199/default &park()")]
    ours = serialize_event_xml(head, "+OK b9ea7a95-5b51-49ba-bda4-15e62214894d\n")
    assert ours.startswith(b"<event>\n  <headers>\n    <Event-Name>BACKGROUND_JOB</Event-Name>\n")
    assert b"<Job-Command-Arg>loopback/9199/default%20%26park()</Job-Command-Arg>" in ours
    assert ours.endswith(body[body.index(b"  </headers>"):])


def test_cli_refuses_bad_flags_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("defaults: {outcome: sometimes}\n")
    for args in (["--scenario", str(bad)], ["--speed", "0"], ["--scenario", str(tmp_path / "missing.yaml")]):
        proc = subprocess.run([sys.executable, "-m", "freeswitch.sim", "--port", "0", *args],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2
        assert proc.stderr.startswith("fs-sim: ")
        assert "Traceback" not in proc.stderr


def test_simulator_process_reports_a_failed_start(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(RuntimeError, match="not valid JSON"):
        SimulatorProcess(scenario=str(bad)).start()

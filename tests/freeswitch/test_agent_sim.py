"""The simulator's far ends for agent campaigns: populations, agents, wait_for_silence and mod_avmd, over real sockets."""

from __future__ import annotations

import time
import uuid as uuidlib
from collections import Counter

import pytest

from freeswitch.sim import amd
from freeswitch.sim.process import SimulatorProcess
from freeswitch.sim.scenario import Scenario, ScenarioError
from tests.freeswitch.esl_client import RawClient, RawListener

POPULATION = {"seed": 42, "ring": [1, 4],
              "population": {"answer": 0.30, "machine": 0.15, "busy": 0.10, "no_answer": "rest"}}

SCENARIO = {
    "defaults": {"outcome": "answer", "ring": 0.5},
    "rules": [
        {"match": "4100", "greeting": 1.0},                                   # a person: "hello?"
        {"match": "4200", "outcome": "machine", "greeting": 8, "beep": 0.5, "ring": 0.5},
        {"match": "4300", "greeting": 0},                                     # dead air
        {"match": "1001", "ring": 1, "talk_time": {"lognormal": {"mean": 40, "sigma": 0.4}}},
        {"match": "1002", "ring": 0.2, "persistent": True, "end_dtmf": "#", "talk_time": 6},
        dict(match="55*", **POPULATION),
    ],
}


# -- populations, without sockets ------------------------------------------------

def test_population_rates_over_1000_numbers_and_deterministic_per_seed():
    sc = Scenario.from_data(SCENARIO)
    numbers = [f"55{i:06d}" for i in range(1000)]
    outcomes = [sc.behaviour(n).outcome for n in numbers]
    counts = Counter(outcomes)
    # binomial standard deviations over 1,000 draws are 1–1.6 %; 4.5 % is about three of them
    for outcome, share in (("answer", 0.30), ("machine", 0.15), ("busy", 0.10), ("no_answer", 0.45)):
        assert abs(counts[outcome] / 1000 - share) < 0.045, counts
    again = Scenario.from_data(SCENARIO)
    assert [again.behaviour(n).outcome for n in numbers] == outcomes
    assert [sc.behaviour(n).outcome for n in numbers] == outcomes  # a number keeps its outcome call after call
    other = Scenario.from_data({"rules": [dict(match="55*", **{**POPULATION, "seed": 43})]})
    assert [other.behaviour(n).outcome for n in numbers] != outcomes
    for n in numbers[:200]:
        b = again.behaviour(n)
        assert 1 <= b.ring <= 4 or b.outcome == "no_answer"
        if b.outcome == "answer":
            assert 0.5 <= b.greeting <= 1.5
        if b.outcome == "machine":
            assert 6 <= b.greeting <= 15 and b.beep_seconds == 0.5 and b.hangup_after == 30


def test_population_entries_and_errors():
    sc = Scenario.from_data({"defaults": {"population": {
        "answer": {"share": 0.5, "hangup_after": {"lognormal": {"mean": 120, "sigma": 0.5}}}, "busy": "rest"}}})
    answered = [sc.behaviour(str(n)) for n in range(300)]
    talks = [b.hangup_after for b in answered if b.outcome == "answer"]
    assert 100 < len(talks) < 200 and 80 < sum(talks) / len(talks) < 160
    assert all(b.hangup_after is None for b in answered if b.outcome == "busy")
    explicit = Scenario.from_data({"defaults": POPULATION, "rules": [{"match": "7", "outcome": "busy"}]})
    assert explicit.behaviour("7").outcome == "busy"  # an outcome said outright replaces the mix
    for bad in ({"answer": 0.7, "busy": 0.5}, {"answer": 0.5}, {"hover": 1}, {"answer": "rest", "busy": "rest"}):
        with pytest.raises(ScenarioError):
            Scenario.from_data({"defaults": {"population": bad}})
    with pytest.raises(ScenarioError):
        Scenario.from_data({"defaults": {"talk_time": {"gamma": 3}}})


def test_existing_scenarios_resolve_as_before():
    sc = Scenario.default()
    b = sc.behaviour("5551234")
    assert (b.outcome, b.ring, b.talk, b.hangup_after, b.draws, b.population) == ("answer", 1.0, 3.0, None, {}, None)
    m = sc.behaviour("555777")
    assert (m.outcome, m.ring, m.talk, m.hangup_after) == ("machine", 2.0, 8.0, 30.0)
    assert sc.calls == {}  # nothing random: no per-number bookkeeping


# -- wait_for_silence's loop, frame by frame -----------------------------------------

def test_wait_for_silence_loop_follows_switch_ivr():
    human = [(0.0, 1.0, amd.SPEECH_SCORE)]
    frame, result = amd.silence_outcome(human, 0.0, 200, 25, 10, 10000, None)
    # 50 frames of speech, 25 silent frames to count down, then 25 more
    assert (frame, result) == (50 + 25 + 25, ("false", 50, 0))
    frame, result = amd.silence_outcome([(0.0, 12.0, amd.SPEECH_SCORE)], 0.0, 200, 25, 10, 5000, None)
    assert (frame, result) == (250, ("true", 249, 25))
    frame, result = amd.silence_outcome([], 0.0, 200, 25, 10, 5000, None)
    assert (frame, result) == (250, ("true", 0, 25))
    assert amd.silence_outcome([], 0.0, 200, 25, 10, 0, None) == (None, None)   # no timeout: until hangup
    assert amd.silence_outcome([], 0.0, 200, 25, 0, 0, None) == (50, ("false", 0, 0))  # listen_hits 0
    assert amd.silence_outcome([], 0.0, 200, 25, 10, 5000, 10) == (11, None)     # the file ran out first


# -- over sockets ------------------------------------------------------------------

@pytest.fixture(scope="module")
def sim():
    with SimulatorProcess(speed=20, scenario=SCENARIO) as s:
        yield s


@pytest.fixture(scope="module")
def api(sim):
    c = RawClient(sim.host, sim.port)
    c.auth()
    yield c
    c.close()


class Call:
    """A call to ``number`` handed to our raw listener with &socket(... async full)."""

    def __init__(self, api, number, subscribe="myevents"):
        self.listener = RawListener()
        reply = api.command(f"api originate sofia/gateway/gw/{number} "
                            f"&socket('{self.listener.address} async full')").text()
        assert reply.startswith("+OK"), reply
        self.uuid = reply.split()[1]
        self.conn = self.listener.accept()
        self.conn.command("connect")
        self.conn.command(subscribe)

    def send(self, app, arg=None) -> str:
        """Queue an app with sendmsg; its Event-UUID."""
        event_uuid = str(uuidlib.uuid4())
        lines = ["sendmsg", "call-command: execute", f"execute-app-name: {app}", f"Event-UUID: {event_uuid}"]
        if arg is not None:
            lines.append(f"execute-app-arg: {arg}")
        assert self.conn.command("\n".join(lines)).headers["Reply-Text"] == "+OK"
        return event_uuid

    def run(self, app, arg=None, timeout=15.0):
        """Execute an app; (its CHANNEL_EXECUTE_COMPLETE, every event up to it)."""
        event_uuid = self.send(app, arg)
        got = self.conn.events(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE"
                               and e.headers.get("Application-UUID") == event_uuid, timeout=timeout)
        return got[-1][1], [e for _, e in got]

    def close(self):
        self.conn.close()
        self.listener.close()


@pytest.fixture
def call(api):
    calls = []

    def make(number, **kw):
        c = Call(api, number, **kw)
        calls.append(c)
        return c
    yield make
    for c in calls:
        api.command(f"api uuid_kill {c.uuid}")
        c.close()


def test_wait_for_silence_on_a_person_returns_soon_after_hello(call):
    c = call("4100")
    t0 = time.monotonic()
    done, _ = c.run("wait_for_silence", "200 25 10 10000")
    elapsed = (time.monotonic() - t0) * 20
    h = done.headers
    assert h["variable_wait_for_silence_timeout"] == "false"
    assert int(h["variable_wait_for_silence_listenhits"]) > 10
    assert h["variable_wait_for_silence_silence_hits"] == "0"
    assert 1.0 < elapsed < 4.0, elapsed  # "hello?" (1 s), 0.5 s of silence, 25 frames more


def test_wait_for_silence_on_a_machine_times_out_with_many_hits(call):
    c = call("4200")
    done, _ = c.run("wait_for_silence", "200 25 10 5000")
    h = done.headers
    assert h["variable_wait_for_silence_timeout"] == "true"
    assert int(h["variable_wait_for_silence_listenhits"]) > 200


def test_wait_for_silence_on_silence_times_out_with_no_hits(call):
    c = call("4300")
    done, _ = c.run("wait_for_silence", "200 25 10 3000")
    h = done.headers
    assert h["variable_wait_for_silence_timeout"] == "true"
    assert h["variable_wait_for_silence_listenhits"] == "0"
    assert h["variable_wait_for_silence_silence_hits"] == "25"
    bad, _ = call("4100").run("wait_for_silence", "200 25")
    assert "variable_wait_for_silence_timeout" not in bad.headers


def test_avmd_beep_event_on_a_machine(call):
    c = call("4200", subscribe="myevents")
    c.conn.command("event plain CUSTOM avmd::start avmd::beep avmd::stop")
    _, events = c.run("avmd_start")
    got = c.conn.events(lambda e: e.headers.get("Event-Subclass") == "avmd::beep", timeout=10)
    events += [e for _, e in got]
    start = next(e for e in events if e.headers.get("Event-Subclass") == "avmd::start")
    beep = events[-1]
    assert beep.name == "CUSTOM" and beep.headers["Unique-ID"] == c.uuid
    assert beep.headers["Call-command"] == "avmd" and beep.headers["Beep-Status"] == "DETECTED"
    assert float(beep.headers["Frequency"]) == 1000.0
    assert "Channel-State" not in beep.headers and "variable_avmd_detect" not in beep.headers  # no channel data
    names = list(beep.headers)
    assert names.index("Event-Subclass") == names.index("Event-Sequence") + 1
    # greeting 8 s, then the beep half a second later: detected about 8.5 s (simulated) after the answer
    moment = (int(beep.headers["Event-Date-Timestamp"]) - int(start.headers["Start-time"])) / 1e6
    assert 8.0 < moment < 9.5, moment
    assert 8000 < int(beep.headers["Detection-time"]) / 1000 < 9500
    stop, events = c.run("avmd_stop")
    assert stop.headers["variable_avmd_detect"] == "TRUE"
    assert stop.headers["variable_avmd_total_time"].startswith("[")
    stopped = next(e for e in events if e.headers.get("Event-Subclass") == "avmd::stop")
    assert stopped.headers["Beep-Status"] == "DETECTED" and int(stopped.headers["Total-time"]) > 8_000_000


def test_avmd_on_a_person_detects_nothing(call):
    c = call("4100")
    c.conn.command("event plain CUSTOM avmd::beep avmd::stop")
    c.run("avmd_start")
    c.run("sleep", "3000")
    done, events = c.run("avmd_stop")
    assert "variable_avmd_detect" not in done.headers
    assert not [e for e in events if e.headers.get("Event-Subclass") == "avmd::beep"]
    assert next(e for e in events if e.headers.get("Event-Subclass") == "avmd::stop").headers["Beep-Status"] \
        == "NOTDETECTED"


def test_agent_answers_a_bridge_and_hangs_up_after_its_talk_time(call):
    expected = Scenario.from_data(SCENARIO).behaviour("1001")  # the first call to 1001: the same draw
    c = call("4100")
    t0 = time.monotonic()
    done, events = c.run("bridge", "user/1001", timeout=30)
    talked = (time.monotonic() - t0) * 20
    assert done.headers["variable_bridge_hangup_cause"] == "NORMAL_CLEARING"
    assert any(e.name == "CHANNEL_BRIDGE" for e in events)
    assert done.headers["variable_last_bridge_to"] == done.headers["variable_bridge_uuid"]
    assert abs(talked - (expected.ring + expected.talk_time)) < 3.0, (talked, expected)


def test_persistent_agent_stays_in_its_conference_and_ends_each_conversation(api, call):
    agent = call("1002")
    agent.conn.command("event plain DTMF")
    room = f"agent-{uuidlib.uuid4().hex[:6]}"
    agent.run("set", "conference_controls=none")  # its '#' is ours to read, not the room's "hangup" control
    agent.send("conference", room)
    agent.conn.events(lambda e: e.name == "CHANNEL_EXECUTE" and e.headers.get("Application") == "conference")
    customer = call("4100")
    customer.send("conference", room)
    joined = customer.conn.events(lambda e: e.name == "CHANNEL_EXECUTE" and e.headers.get("Application") == "conference")
    t0 = time.monotonic()
    dtmf = agent.conn.events(lambda e: e.name == "DTMF", timeout=15)[-1][1]
    assert dtmf.headers["DTMF-Digit"] == "#"
    assert 4.0 < (time.monotonic() - t0) * 20 < 9.0  # talk_time 6 s after the customer joined
    # the customer leaving does not end the agent's conference
    api.command(f"api uuid_kill {customer.uuid}")
    done = customer.conn.events(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE")[-1][1]
    assert done.headers["Application"] == "conference" and done.headers["variable_conference_name"] == room
    assert done.headers["variable_conference_uuid"] == joined[-1][1].headers.get("variable_conference_uuid", 
                                                                                done.headers["variable_conference_uuid"])
    time.sleep(0.3)
    assert api.command(f"api uuid_exists {agent.uuid}").text().strip() == "true"
    assert api.command(f"api uuid_getvar {agent.uuid} conference_name").text().strip() == room
    member = api.command(f"api uuid_getvar {agent.uuid} conference_member_id").text().strip()
    assert int(member) < int(done.headers["variable_conference_member_id"])


def test_dtmf_events_carry_channel_variables_only_with_verbose_events(api, call):
    # switch_channel_event_set_extended_data: DTMF is not among the events that always carry the variables.
    c = call("4100")
    c.run("set", "vaani_mark=1")
    c.conn.command("event plain DTMF")
    api.command(f"api uuid_recv_dtmf {c.uuid} 5")
    [(_, plain)] = c.conn.events(lambda e: e.name == "DTMF", timeout=5)[-1:]
    assert plain.headers["DTMF-Digit"] == "5" and "variable_vaani_mark" not in plain.headers
    c.run("verbose_events")
    api.command(f"api uuid_recv_dtmf {c.uuid} 6")
    [(_, verbose)] = c.conn.events(lambda e: e.name == "DTMF", timeout=5)[-1:]
    assert verbose.headers["DTMF-Digit"] == "6" and verbose.headers["variable_vaani_mark"] == "1"


def test_hash_leaves_a_room_with_the_default_caller_controls(api, call):
    room = f"room-{uuidlib.uuid4().hex[:6]}"
    uuid = str(uuidlib.uuid4())
    reply = api.command(f"api originate {{origination_uuid={uuid},execute_on_answer=verbose_events}}"
                        f"sofia/gateway/gw/4100 &conference({room})").text()
    assert reply.startswith("+OK"), reply
    time.sleep(0.2)
    # The stock caller controls: '#' is "hangup", the member leaves and its channel, with nothing more to run, ends.
    api.command(f"api uuid_recv_dtmf {uuid} #")
    deadline = time.monotonic() + 5
    while api.command(f"api uuid_exists {uuid}").text().strip() == "true" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.command(f"api uuid_exists {uuid}").text().strip() == "false"

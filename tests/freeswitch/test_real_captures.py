"""The simulator held to captures of a real FreeSWITCH 1.10.12 (fixtures/real_1.10.12, made by tests/e2e/capture.py).

Each interaction of tests/e2e/interactions.py runs on the simulator (with the e2e carrier's behaviour as
its scenario) and is compared with what the real switch sent in the same interaction: on every
connection, the order of frames (replies with their texts, events by name, notices, the close); for every
event, the names of its headers other than channel variables; and for the variables the platform and its
operators read, whether they are there and, where the value does not depend on the moment, the value.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from freeswitch import wire
from freeswitch.sim.process import SimulatorProcess
from tests.conftest import free_port
from tests.freeswitch.esl_client import RawClient
from tests.e2e.interactions import (CARRIER_SCENARIO, INTERACTIONS, Target, comparable_order, event_name,
                                    parse_transcript, run, signature, transcript_entries)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "real_1.10.12"
SPEED = 4

#: Channel variables compared by presence: what CDRs, the dialer, the IVR runtime and operators read.
WATCHED = {
    "hangup_cause", "hangup_cause_q850", "sip_term_status", "sip_term_cause", "proto_specific_hangup_cause",
    "sip_invite_failure_status", "sip_invite_failure_phrase", "sip_hangup_disposition", "originate_disposition",
    "endpoint_disposition", "DIALSTATUS", "billsec", "billmsec", "duration", "mduration", "answersec",
    "progresssec", "waitsec", "flow_billsec", "last_app", "last_arg", "caller_id", "sip_gateway_name",
    "sip_profile_name", "sofia_profile_name", "recovery_profile_name", "channel_name", "call_uuid",
    "digits_dialed", "read_result", "read_terminator_used", "digits", "digits_invalid", "record_ms",
    "record_seconds", "record_samples", "record_file_size", "record_record_file_size", "silence_hits_exhausted",
    "playback_terminator_used", "playback_ms", "playback_samples", "playback_seconds", "current_application",
    "current_application_data", "socket_host", "originate_early_media", "vaani_call",
    "origination_caller_id_number",
}
#: ... and of those, the ones whose value is the same on every run.
VALUES = {
    "hangup_cause", "hangup_cause_q850", "sip_term_status", "sip_term_cause", "proto_specific_hangup_cause",
    "sip_invite_failure_status", "sip_invite_failure_phrase", "sip_hangup_disposition", "endpoint_disposition",
    "last_app", "caller_id", "sip_gateway_name", "sip_profile_name", "sofia_profile_name",
    "recovery_profile_name", "channel_name", "digits_dialed", "read_result", "read_terminator_used", "digits",
    "silence_hits_exhausted", "current_application", "socket_host",
}
#: Event headers whose value is the same on every run.
HEADER_VALUES = {"Channel-Name", "Caller-Channel-Name", "Hangup-Cause", "Answer-State", "Channel-State",
                 "Channel-Call-State", "DTMF-Digit", "DTMF-Source", "Application", "Application-Response",
                 "Call-Direction", "Job-Command", "Caller-Destination-Number", "Caller-Caller-ID-Number"}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    # The shipped dialplan's socket for inbound calls goes to a port the inbound_call interaction listens on.
    with SimulatorProcess(speed=SPEED, scenario=CARRIER_SCENARIO, inbound_socket=f"127.0.0.1:{free_port()}",
                          recordings_dir=str(tmp_path_factory.mktemp("recordings"))) as s:
        yield s


@pytest.fixture(scope="module")
def runs(sim):
    """Each interaction's simulated transcript, run once for the module: both tests below read the same run
    (each run is real, over TCP, at SPEED; running it a second time for the second test asserted nothing new)."""
    done: dict[str, dict[str, list[tuple]]] = {}

    def get(name: str) -> dict[str, list[tuple]]:
        if name not in done:
            done[name] = simulated(sim, name)
        return done[name]

    return get


def real(name: str) -> dict[str, list[tuple]]:
    """What the real switch sent in ``name``, by connection."""
    return parse_transcript((FIXTURES / f"{name}.bin").read_bytes())


def simulated(sim, name: str) -> dict[str, list[tuple]]:
    """What the simulator sends in ``name``, by connection."""
    def call_in(caller: str, called: str) -> None:
        # What a caller's INVITE is to the simulator (a connection of its own, not recorded).
        c = RawClient(sim.host, sim.port)
        try:
            c.auth()
            assert c.command(f"api sim_inbound {caller} {called}").text().startswith("+OK")
        finally:
            c.close()

    target = Target(esl_port=sim.port, speed=SPEED, inbound_address=sim.inbound_socket, call_in=call_in)
    return transcript_entries(run(name, target))


def _fixed(value: str) -> str:
    # A caller's channel name ends with its From header's host, and the sipp caller's has a port in it.
    return re.sub(r"@127\.0\.0\.1:\d+$", "@127.0.0.1", value)


def event_shapes(entries: list[tuple]) -> list[tuple]:
    """For each event: (its signature, how many of that signature came before), header names other than
    variables, watched variables and fixed header values."""
    out = []
    seen: dict[str, int] = {}
    for e in entries:
        if e[0] != "frame" or event_name(e[2]) is None:
            continue
        ev = wire.parse_event(e[2])
        names = [k for k in ev.headers if not k.startswith("variable_")]
        variables = {k[len("variable_"):]: v for k, v in ev.headers.items() if k.startswith("variable_")}
        watched = {k: (_fixed(variables[k]) if k in VALUES else "present") for k in sorted(WATCHED & set(variables))}
        fixed = {k: _fixed(ev.headers[k]) for k in sorted(HEADER_VALUES & set(ev.headers))}
        sig = signature(e)
        seen[sig] = seen.get(sig, 0) + 1
        out.append(((sig, seen[sig]), names, watched, fixed))
    return out


#: Differences found and not fixed yet, by interaction (see docs/simulator.md): the test is expected to fail.
KNOWN: dict[str, str] = {}


def _cases(names):
    return [pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN[n], strict=True)) if n in KNOWN else n
            for n in names]


def test_every_interaction_has_a_capture():
    assert sorted(p.stem for p in FIXTURES.glob("*.bin")) == sorted(INTERACTIONS)


@pytest.mark.parametrize("name", _cases(INTERACTIONS))
def test_frames_come_in_the_real_switchs_order(runs, name):
    theirs, ours = real(name), runs(name)
    assert list(ours) == list(theirs)
    for label in theirs:
        assert comparable_order(ours[label]) == comparable_order(theirs[label]), f"{name} / {label}"


def _with_channel_events(name: str) -> bool:
    path = FIXTURES / f"{name}.bin"
    return path.exists() and b"\nUnique-ID: " in path.read_bytes()


@pytest.mark.parametrize("name", _cases(n for n in INTERACTIONS if _with_channel_events(n)))
def test_events_carry_the_real_switchs_headers(runs, name):
    theirs, ours = real(name), runs(name)
    for label in theirs:
        mine = {s[0]: s for s in event_shapes(ours.get(label, []))}
        for shape in event_shapes(theirs[label]):
            sig, names, watched, fixed = shape
            assert sig in mine, f"{name} / {label}: no {sig} from the simulator"
            _, my_names, my_watched, my_fixed = mine[sig]
            assert my_names == names, f"{name} / {label} / {sig}: header names"
            assert my_watched == watched, f"{name} / {label} / {sig}: variables"
            assert my_fixed == fixed, f"{name} / {label} / {sig}: header values"

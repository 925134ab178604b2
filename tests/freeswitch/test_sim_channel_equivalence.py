"""Channel variables and event dates against frozen copies of their first versions.

``Channel.set_cdr_vars`` now sets its variables in one batch and the ``*_stamp`` /
``Event-Date-*`` texts are reused within a second; the variables (names, values
and order, which is the order of an event's ``variable_*`` headers) and the
dates must be what the reference below (the replaced code, frozen) makes. The
reference follows switch_channel_set_timestamps as captured on FreeSWITCH 1.10.12
(fixtures/real_1.10.12): ``digits_dialed`` first, ``last_app``/``last_arg`` from the
application log, ``caller_id`` without quotes when there is no caller id name, and
an empty value unsetting a variable as switch_channel_set_variable does.
"""

from __future__ import annotations

import random
import time

import pytest

from freeswitch.sim import events
from freeswitch.sim.channel import Channel, Profile, _stamp
from freeswitch.sim.clock import Clock


def ref_stamp(us):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(us / 1_000_000))


class RefVars:
    """The reference set_var on a plain dict."""

    def __init__(self, variables):
        self.variables = dict(variables)

    def set_var(self, name, value):
        self.variables.pop(name, None)
        if value is None or value == "":
            return
        self.variables[name] = str(value)


def ref_set_cdr_vars(self, created, answered, end, progress, pmedia, bridged, app_log, profile, digits):
    self.set_var("digits_dialed", digits or "none")
    self.set_var("start_stamp", ref_stamp(created))
    self.set_var("profile_start_stamp", ref_stamp(created))
    if answered:
        self.set_var("answer_stamp", ref_stamp(answered))
    if progress:
        self.set_var("progress_stamp", ref_stamp(progress))
    if pmedia:
        self.set_var("progress_media_stamp", ref_stamp(pmedia))
    self.set_var("end_stamp", ref_stamp(end))
    for name, us in (("start", created), ("profile_start", created), ("answer", answered),
                     ("bridge", bridged), ("last_hold", 0)):
        self.set_var(f"{name}_epoch", str(us // 1_000_000))
        self.set_var(f"{name}_uepoch", str(us))
    self.set_var("hold_accum_seconds", "0")
    self.set_var("hold_accum_usec", "0")
    self.set_var("hold_accum_ms", "0")
    for name, us in (("resurrect", 0), ("progress", progress), ("progress_media", pmedia), ("end", end)):
        self.set_var(f"{name}_epoch", str(us // 1_000_000))
        self.set_var(f"{name}_uepoch", str(us))
    p = profile
    self.set_var("last_app", app_log[-1][0] if app_log else None)
    self.set_var("last_arg", app_log[-1][1] if app_log else None)
    self.set_var("caller_id", f'"{p.caller_id_name}" <{p.caller_id_number}>' if p.caller_id_name
                 else p.caller_id_number)

    def spans(a_us, b_us, div):
        if not a_us or not b_us:
            return 0
        if div == 1_000_000:
            return b_us // div - a_us // div
        return (b_us - a_us) // div

    for suffix, div in (("sec", 1_000_000), ("msec", 1_000), ("usec", 1)):
        dname = {"sec": "duration", "msec": "mduration", "usec": "uduration"}[suffix]
        bname = {"sec": "billsec", "msec": "billmsec", "usec": "billusec"}[suffix]
        self.set_var(dname, str(spans(created, end, div)))
        self.set_var(bname, str(spans(answered, end, div)))
        self.set_var(f"progress{suffix}", str(spans(created, progress, div)))
        self.set_var(f"answer{suffix}", str(spans(created, answered, div)))
        self.set_var(f"wait{suffix}", str(spans(created, answered, div)))
        self.set_var(f"progress_media{suffix}", str(spans(created, pmedia, div)))
        self.set_var(f"flow_bill{suffix}", str(spans(answered, end, div)))


class _Switch:
    def __init__(self):
        self.clock = Clock(1.0)


def _channel(initial, cid_name="O'Brien, \"J\""):
    profile = Profile(direction="outbound", destination_number="+15551234", caller_id_name=cid_name,
                      caller_id_number="15168148111")
    ch = Channel(_Switch(), "3f1c0e9e-0000-4000-8000-000000000001", "sofia/gateway/gw/+15551234", profile, 1)
    for k, v in initial:
        ch.set_var(k, v)
    return ch


@pytest.mark.parametrize("seed", range(4))
def test_cdr_variables_match_reference(seed):
    rng = random.Random(seed)
    base = 1_764_000_000_000_000
    for _ in range(150):
        created = base + rng.randint(0, 10 ** 9)
        progress = rng.choice([0, created + rng.randint(0, 3_000_000)])
        pmedia = rng.choice([0, created + rng.randint(0, 3_000_000)])
        answered = rng.choice([0, created + rng.randint(0, 30_000_000)])
        hangup = rng.choice([0, max(created, answered) + rng.randint(0, 90_000_000)])
        bridged = rng.choice([0, answered])
        initial = [("direction", "outbound"), ("answer_stamp", "old"), ("end_epoch", "1"), ("x", "y")]
        if rng.random() < 0.5:
            initial.append(("last_app", rng.choice(["playback", ""])))
        app_log = rng.choice([[], [("socket", "127.0.0.1:8084 async full")], [("park", None)],
                              [("socket", "x"), ("playback", "a.wav")]])
        cid_name = rng.choice(["O'Brien, \"J\"", ""])
        digits = rng.choice(["", "1", "15#"])
        ch = _channel(initial, cid_name)
        ch.created_us, ch.answered_us, ch.progress_us = created, answered, progress
        ch.progress_media_us, ch.hangup_us, ch.bridged_us = pmedia, hangup, bridged
        ch.app_log = list(app_log)
        ch.dtmf_log = list(digits)
        end = hangup or None
        if end is None:  # a channel torn down without a hangup time takes the clock's: pin it
            end = ch.hangup_us = created + 5_000_000
        ch.set_cdr_vars()
        ref = RefVars(_channel(initial, cid_name).variables)
        ref_set_cdr_vars(ref, created, answered, end, progress, pmedia, bridged, app_log, ch.profile, digits)
        assert list(ch.variables.items()) == list(ref.variables.items())


def test_set_var_and_set_vars_match_reference():
    ch = _channel([])
    ref = RefVars({})
    ops = [("a", "1"), ("b", 2), ("a", "3"), ("c", None), ("b", None), ("d", ""), ("e", 1.5), ("a", True), ("f", "é")]
    for name, value in ops:
        ch.set_var(name, value)
        ref.set_var(name, value)
    assert list(ch.variables.items()) == list(ref.variables.items())
    ch2 = _channel([])
    ch2.set_vars(ops)
    assert list(ch2.variables.items()) == list(ref.variables.items())


def test_stamps_and_event_dates_match_reference():
    rng = random.Random(5)
    base = 1_764_000_000
    moments = []
    for _ in range(400):
        second = base + rng.randint(-3, 3) * rng.choice([1, 3600, 86400 * 180])
        moments += [second * 1_000_000 - 1, second * 1_000_000, second * 1_000_000 + 1,
                    second * 1_000_000 + rng.randint(0, 999_999), second * 1_000_000 + 999_999]
    rng.shuffle(moments)
    identity = events.Identity("core", "host")
    for us in moments + sorted(moments):
        assert _stamp(us) == ref_stamp(us), us
        now = us / 1_000_000
        headers = dict(events.common_headers(identity, "CHANNEL_ANSWER", now))
        assert headers["Event-Date-Local"] == time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)), now
        assert headers["Event-Date-GMT"] == time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)), now
        assert headers["Event-Date-Timestamp"] == str(int(now * 1_000_000))
        assert events.date_headers(now) == [(k, headers[k]) for k in
                                            ("Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp")]


def test_common_headers_keep_freeswitch_order():
    identity = events.Identity("core-uuid", "host", "10.0.0.1", "::2")
    for subclass in (None, "vaani::test"):
        names = [k for k, _ in events.common_headers(identity, "CUSTOM", 1_764_000_000.5, subclass)]
        expected = ["Event-Name"] + (["Event-Subclass"] if subclass else []) + [
            "Core-UUID", "FreeSWITCH-Hostname", "FreeSWITCH-Switchname", "FreeSWITCH-IPv4", "FreeSWITCH-IPv6",
            "Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp", "Event-Calling-File",
            "Event-Calling-Function", "Event-Calling-Line-Number", "Event-Sequence"]
        assert names == expected


def ref_get(headers, name, default=None):
    low = name.lower()
    for k, v in headers:
        if k.lower() == low:
            return v
    return default


def test_event_header_lookup_matches_reference():
    rng = random.Random(11)
    pool = ["Event-Name", "event-name", "EVENT-NAME", "Job-Owner-UUID", "variable_vaani_prefix",
            "Variable_Vaani_Prefix", "Event-Subclass", "", "a\nb", "a", "b", "İx", "i̇x", "ΟΔΟΣ", "οδος", "οδοσ",
            "x\n", "\n", "ß", "SS", "ǅ", "ǆ"]
    queries = pool + ["missing", "A\nB", "İX", "ΟΔΟς", "\nEvent-Name", "Event-Name\n", "A"]
    for _ in range(400):
        headers = [(rng.choice(pool), f"v{i}") for i in range(rng.randint(0, 12))]
        event = events.SimEvent("CUSTOM", headers)
        for name in queries:
            assert event.get(name) == ref_get(headers, name), (headers, name)
            assert event.get(name, "dflt") == ref_get(headers, name, "dflt"), (headers, name)


def ref_profile_headers(self, prefix):
    p = self.profile
    h = [(f"{prefix}-Direction", p.direction), (f"{prefix}-Logical-Direction", p.direction)]
    if p.dialplan:
        h.append((f"{prefix}-Dialplan", p.dialplan))
    if p.caller_id_name:
        h.append((f"{prefix}-Caller-ID-Name", p.caller_id_name))
    if p.caller_id_number:
        h.append((f"{prefix}-Caller-ID-Number", p.caller_id_number))
    if p.orig_caller_id_name and p.caller_id_name:
        h.append((f"{prefix}-Orig-Caller-ID-Name", p.orig_caller_id_name))
    if p.orig_caller_id_number and p.caller_id_number:
        h.append((f"{prefix}-Orig-Caller-ID-Number", p.orig_caller_id_number))
    if p.callee_id_name:
        h.append((f"{prefix}-Callee-ID-Name", p.callee_id_name))
    if p.callee_id_number:
        h.append((f"{prefix}-Callee-ID-Number", p.callee_id_number))
    if p.network_addr:
        h.append((f"{prefix}-Network-Addr", p.network_addr))
    if p.ani:
        h.append((f"{prefix}-ANI", p.ani))
    if p.destination_number:
        h.append((f"{prefix}-Destination-Number", p.destination_number))
    h.append((f"{prefix}-Unique-ID", self.uuid))
    if p.source:
        h.append((f"{prefix}-Source", p.source))
    if p.context:
        h.append((f"{prefix}-Context", p.context))
    if p.rdnis:
        h.append((f"{prefix}-RDNIS", p.rdnis))
    h += [
        (f"{prefix}-Channel-Name", self.name),
        (f"{prefix}-Profile-Index", "1"),
        (f"{prefix}-Profile-Created-Time", str(self.created_us)),
        (f"{prefix}-Channel-Created-Time", str(self.created_us)),
        (f"{prefix}-Channel-Answered-Time", str(self.answered_us)),
        (f"{prefix}-Channel-Progress-Time", str(self.progress_us)),
        (f"{prefix}-Channel-Progress-Media-Time", str(self.progress_media_us)),
        (f"{prefix}-Channel-Hangup-Time", str(self.hangup_us)),
        (f"{prefix}-Channel-Transfer-Time", str(self.transfer_us)),
        (f"{prefix}-Channel-Resurrect-Time", "0"),
        (f"{prefix}-Channel-Bridged-Time", str(self.bridged_us)),
        (f"{prefix}-Channel-Last-Hold", "0"),
        (f"{prefix}-Channel-Hold-Accum", "0"),
        (f"{prefix}-Screen-Bit", "true"),
        (f"{prefix}-Privacy-Hide-Name", "false"),
        (f"{prefix}-Privacy-Hide-Number", "false"),
    ]
    return h


def test_profile_headers_match_reference():
    rng = random.Random(13)
    fields = ["direction", "destination_number", "caller_id_name", "caller_id_number", "orig_caller_id_name",
              "orig_caller_id_number", "callee_id_name", "callee_id_number", "network_addr", "ani", "dialplan",
              "context", "source", "rdnis"]
    for _ in range(300):
        ch = _channel([])
        for name in fields:
            setattr(ch.profile, name, rng.choice(["", "x", "+15551234", "Outbound Call", "é"]))
        ch.created_us, ch.answered_us, ch.progress_us = rng.randint(1, 9 ** 15), rng.randint(0, 9), rng.randint(0, 9)
        ch.progress_media_us, ch.hangup_us, ch.transfer_us, ch.bridged_us = (rng.randint(0, 9) for _ in range(4))
        for prefix in ("Caller", "Other-Leg", "Channel"):
            assert ch.profile_headers(prefix) == ref_profile_headers(ch, prefix)

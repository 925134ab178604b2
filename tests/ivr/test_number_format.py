"""DIALER_NUMBER_FORMAT: how numbers and caller ids are written in dial strings to the carrier.

The unit half checks :func:`ivr.number_format.dial_number`; the end-to-end half runs click2call's built-in
``<dial>`` on the simulator and reads the bridge as FreeSWITCH received it (the A leg's ``bridge``
argument and the B leg's caller profile).
"""

from __future__ import annotations

import pytest

from config import ConfigError, load
from freeswitch.inbound import InboundClient
from ivr.call_spec import CallSpec, ClickToCall
from ivr.number_format import dial_number
from tests.ivr.harness import Rig


@pytest.mark.parametrize("fmt,number,expected", [
    ("e164", "+918000681234", "918000681234"),
    ("e164_plus", "+918000681234", "+918000681234"),
    ("national", "+918000681234", "8000681234"),
    ("national_trunk", "+918000681234", "08000681234"),
    # Digits as seed 002 writes them (country code, no +) and national numbers of the region read alike.
    ("e164_plus", "918000681234", "+918000681234"),
    ("e164_plus", "08000681234", "+918000681234"),
    ("e164", "8000681234", "918000681234"),
    # A number of another country is never written as a national number: the region dials it abroad.
    ("national", "+12015550123", "0012015550123"),
    ("national_trunk", "+442079460958", "00442079460958"),
    ("e164", "+12015550123", "12015550123"),
])
def test_formats(fmt, number, expected):
    assert dial_number(number, fmt, "IN") == expected


def test_the_region_is_the_carriers_country():
    assert dial_number("+12015550123", "national", "US") == "2015550123"
    assert dial_number("+918000681234", "national", "US") == "011918000681234"
    assert dial_number("2015550123", "e164", "US") == "12015550123"


@pytest.mark.parametrize("fmt", ["e164", "e164_plus", "national", "national_trunk"])
@pytest.mark.parametrize("number", ["1000", "*98", "5#"])
def test_what_is_no_phone_number_is_dialled_as_written(fmt, number):
    assert dial_number(number, fmt, "IN") == number


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="e164, e164_plus, national, national_trunk"):
        dial_number("+918000681234", "E.164", "IN")
    with pytest.raises(ConfigError, match="DIALER_NUMBER_FORMAT"):
        load({"DIALER_NUMBER_FORMAT": "plus"})
    assert load({}).dialer_number_format == "e164"
    assert load({"DIALER_NUMBER_FORMAT": " E164_Plus "}).dialer_number_format == "e164_plus"


# ---------------------------------------------------------------- click2call's <dial> on the simulator

# Destination +918000600222 (the default scenario: ...222 hangs up after 5 s) and caller id +15168148111
# (a US number, so the national formats write it as India dials abroad).
EXPECTED = {
    "e164": ("918000600222", "15168148111"),
    "e164_plus": ("+918000600222", "+15168148111"),
    "national": ("8000600222", "0015168148111"),
    "national_trunk": ("08000600222", "0015168148111"),
}


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_click2call_destination_leg_is_dialled_in_the_format(tmp_path, redis_url, key_prefix, fmt):
    rig = Rig(tmp_path, redis_url, key_prefix, dialer_number_format=fmt)
    bridges: list[str] = []
    created: list[dict] = []

    def on_event(event):
        h = event.headers
        if h.get("Event-Name") == "CHANNEL_EXECUTE" and h.get("Application") == "bridge":
            bridges.append(h.get("Application-Data", ""))
        elif h.get("Event-Name") == "CHANNEL_CREATE":
            created.append(dict(h))

    host, port = rig.sim.address
    events = InboundClient(host, port, "ClueCon", events=["CHANNEL_EXECUTE", "CHANNEL_CREATE"], on_event=on_event)
    events.start()
    try:
        assert events.wait_connected(10)  # connected and subscribed
        spec = CallSpec(call_type="click2call", caller_id="+15168148111",
                        click2call=ClickToCall(destination="+918000600222", timeout=5))
        uuid = rig.call(spec, number="919900000100")
        call = rig.wait(uuid)
    finally:
        events.stop()
        rig.stop()
    number, caller_id = EXPECTED[fmt]
    assert len(bridges) == 1, bridges
    assert bridges[0].endswith("}sofia/gateway/vaani_trunk/" + number), bridges[0]
    variables = dict(v.split("=", 1) for v in bridges[0][1:bridges[0].index("}")].split(","))
    assert variables["origination_caller_id_number"] == caller_id
    b_legs = [h for h in created if h.get("Unique-ID") != uuid]
    assert [(h["Caller-Destination-Number"], h["Caller-Caller-ID-Number"]) for h in b_legs] == [(number, caller_id)]
    # What the app and the records see is the number as the app gave it.
    assert call.facts.dial_results[0]["number"] == "+918000600222"

"""E.164 normalisation and number geography."""

from __future__ import annotations

import zoneinfo

import pytest
from hypothesis import given, strategies as st

from dialer import numbers
from dialer.numbers import InvalidNumber


@pytest.mark.parametrize(
    "raw, region, expected",
    [
        ("919979270001", "IN", "+919979270001"),  # seed 002 style: country code, no +
        ("9979270001", "IN", "+919979270001"),  # national, account region
        ("09979270001", "IN", "+919979270001"),  # national trunk prefix
        ("0091 99792 70001", "IN", "+919979270001"),  # international prefix 00
        ("+1 (516) 814-8111", "IN", "+15168148111"),
        ("15168148111", "IN", "+15168148111"),
        ("5168148111", "US", "+15168148111"),
        (5168148111, "us", "+15168148111"),
    ],
)
def test_normalize(raw, region, expected):
    assert numbers.normalize(raw, region) == expected


@pytest.mark.parametrize(
    "raw, region, reason",
    [
        ("12", "IN", "too short"),
        ("abc", "IN", "not a number"),
        ("91997927XXXX", "IN", "not a number"),  # the seed's masked samples are not numbers
        ("", "IN", "empty"),
        ("   ", "IN", "empty"),
        ("+999123456", "IN", "unknown country code"),
        ("99792700011111111", "IN", "too long"),
        ("5168148111", "IN", "invalid for region IN"),
        ("9979270001", "US", "invalid for region US"),
        (None, "IN", "not a number"),
        (["1"], "IN", "not a number"),
    ],
)
def test_invalid_numbers_say_why(raw, region, reason):
    with pytest.raises(InvalidNumber) as info:
        numbers.normalize(raw, region)
    assert info.value.reason == reason
    assert reason in str(info.value)
    assert numbers.try_normalize(raw, region) == (None, reason)


def test_region_and_time_zone():
    info = numbers.info("+919979270001")
    assert (info.region, info.time_zone, info.mobile) == ("IN", "Asia/Kolkata", True)
    assert numbers.time_zone_for("+12125550100") == "America/New_York"
    assert numbers.time_zone_for("+14155550100") == "America/Los_Angeles"
    assert numbers.time_zone_for("+442079460000") == "Europe/London"
    assert numbers.time_zone_for("not-a-number", "UTC") == "UTC"
    assert numbers.seed_style("+919979270001") == "919979270001"
    assert numbers.national_digits("+919979270001") == "9979270001"


def test_region_for_account():
    class Acc:
        default_region = "US"

    assert numbers.region_for_account(Acc()) == "US"
    assert numbers.region_for_account(None, "GB") == "GB"
    assert numbers.region_for_account(None) == "IN"  # config DEFAULT_REGION


@given(st.text(max_size=30))
def test_normalize_never_crashes(text):
    try:
        out = numbers.normalize(text, "IN")
    except InvalidNumber as exc:
        assert exc.reason
    else:
        assert out.startswith("+") and out[1:].isdigit()
        assert numbers.normalize(out, "US") == out  # E.164 is a fixed point in any region
        for zone in numbers.info(out).time_zones:
            zoneinfo.ZoneInfo(zone)

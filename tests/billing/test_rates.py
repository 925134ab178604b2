"""The rate card's arithmetic: pulses, longest-prefix match, affordable seconds, CSV, amounts as the seeds show them."""

from __future__ import annotations

import pytest

from billing import money, rates

VOICE = rates.Rate("voice", "91", money.parse("0.60"), 60, 60)
PER_SECOND = rates.Rate("voice", "9180", money.parse("0.60"), 1, 1)
HALF_MINUTE_THEN_SIX = rates.Rate("voice", "1", money.parse("1.20"), 30, 6)


@pytest.mark.parametrize("rate,billsec,billable,price", [
    (VOICE, 0, 0, "0"), (VOICE, 0.2, 60, "0.60"), (VOICE, 60, 60, "0.60"), (VOICE, 60.01, 120, "1.20"),
    (VOICE, 119, 120, "1.20"), (PER_SECOND, 1, 1, "0.01"), (PER_SECOND, 61.5, 62, "0.6200"),
    (HALF_MINUTE_THEN_SIX, 10, 30, "0.60"), (HALF_MINUTE_THEN_SIX, 31, 36, "0.72"),
    (HALF_MINUTE_THEN_SIX, 42, 42, "0.84"),
])
def test_pulses(rate, billsec, billable, price):
    assert rate.billable_seconds(billsec) == billable
    assert rate.call_price(billsec) == money.parse(price)


def test_affordable_seconds_are_whole_pulses_within_the_balance():
    assert VOICE.affordable_seconds(money.parse("10"), 600) == 600
    assert VOICE.affordable_seconds(money.parse("1.79"), 600) == 120
    assert VOICE.affordable_seconds(money.parse("0.59"), 600) == 0
    assert PER_SECOND.affordable_seconds(money.parse("0.10"), 600) == 10
    assert HALF_MINUTE_THEN_SIX.affordable_seconds(money.parse("0.83"), 600) == 36
    assert VOICE.affordable_seconds(money.parse("100"), 61) == 120  # a reservation is whole pulses


def test_longest_prefix_wins_and_empty_prefix_matches_all():
    card = rates.Card([VOICE, PER_SECOND, rates.Rate("voice", "", money.parse("2"), 60, 60)])
    assert card.match("+918012345678") is PER_SECOND
    assert card.match("919886038842") is VOICE
    assert card.match("+15551234567").prefix == ""
    assert rates.Card([VOICE]).match("+15551234567") is None


def test_csv_rate_card_and_its_errors():
    got = rates.parse_csv("service,prefix,rate,pulse\nvoice,+91,0.60,60/60\nvoice,9180,0.40,1/1\nsms,91,0.20,\n"
                          "voice,,1,30/6\n")
    assert got == [rates.Rate("voice", "91", 6000, 60, 60), rates.Rate("voice", "9180", 4000, 1, 1),
                   rates.Rate("sms", "91", 2000, 1, 1), rates.Rate("voice", "", 10000, 30, 6)]
    for text, message in (("prefix,rate\n91,1\n", "header"), ("service,prefix,rate,pulse\nfax,91,1,\n", "line 2"),
                          ("service,prefix,rate,pulse\nvoice,91,abc,60/60\n", "rate"),
                          ("service,prefix,rate,pulse\nvoice,91,1,60\n", "pulse"),
                          ("service,prefix,rate,pulse\nvoice,91,1,0/60\n", "at least 1"),
                          ("service,prefix,rate,pulse\nvoice,9x,1,60/60\n", "prefix"),
                          ("service,prefix,rate,pulse\nvoice,91,1,\nvoice,91,2,\n", "twice")):
        with pytest.raises(rates.RateError, match=message):
            rates.parse_csv(text)


def test_amounts_as_the_seeds_show_them():
    assert money.shown(money.parse("4801"), "Rs.") == "Rs.4,801"
    assert money.shown(money.parse("4800.75"), "Rs.") == "Rs.4,800.75"
    assert money.shown(money.parse("1234567.5"), "Rs.") == "Rs.1,234,567.50"
    assert money.plain(money.parse("0.5")) == "0.50" and money.plain(money.parse("0.0067")) == "0.0067"
    assert money.plain(0) == "0.00"
    with pytest.raises(money.AmountError):
        money.parse("lots")

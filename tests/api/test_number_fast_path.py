"""The fast path of ``dialer.numbers.normalize`` decides exactly as the full phonenumbers parse does.

The API validates up to 500 numbers per Kairos request, so "+<digits>" numbers
skip the full parse when phonenumbers' metadata settles them (see
``dialer.numbers._fast_e164``). These tests run both ways on the same input:
the fast path may only accept numbers the full path accepts, with the same
E.164 answer, and the public ``normalize`` must answer what the full path
answers (value or reason) for every input.
"""

from __future__ import annotations

from unittest import mock

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer import numbers

_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def _answer(raw: str, region: str = "IN") -> tuple[str, str]:
    try:
        return "ok", numbers.normalize(raw, region)
    except numbers.InvalidNumber as exc:
        return "refused", exc.reason


def _slow_answer(raw: str, region: str = "IN") -> tuple[str, str]:
    with mock.patch.object(numbers, "_fast_e164", lambda _raw: None):
        return _answer(raw, region)


# Country code of every known country, then any digits: mostly plausible numbers, some not.
_plus_numbers = st.builds(lambda cc, rest: f"+{cc}{rest}", st.sampled_from(_CODES),
                          st.text(alphabet="0123456789", min_size=0, max_size=16))
# Numbers shaped like valid mobiles of busy countries, so that many are accepted.
_likely = st.builds(lambda cc, first, rest: f"+{cc}{first}{rest}", st.sampled_from([91, 1, 44, 49, 33, 61, 971, 65]),
                    st.sampled_from("6789"), st.text(alphabet="0123456789", min_size=6, max_size=11))


@settings(max_examples=800, deadline=None)
@given(st.one_of(_plus_numbers, _likely, st.text(alphabet="+0123456789", min_size=1, max_size=22)))
def test_fast_path_answers_as_the_full_parse(raw):
    fast = numbers._fast_e164(raw) if raw.startswith("+") and raw[1:].isdigit() else None
    slow = _slow_answer(raw)
    if fast is not None:
        assert slow == ("ok", fast)
    assert _answer(raw) == slow


def test_fast_path_takes_the_common_numbers():
    # The point of it: ordinary valid mobiles are decided without a parse (a country code shared by
    # several regions, like +1 or +44, always takes the full parse).
    for raw in ("+919979270001", "+4915123456789", "+33612345678", "+6591234567"):
        assert numbers._fast_e164(raw) == raw
        assert _slow_answer(raw) == ("ok", raw)


def test_fast_path_leaves_prefixes_and_refusals_to_the_full_parse():
    # A national prefix that parse() strips, an unknown country code, a wrong length, a leading zero.
    for raw in ("+9109979270001", "+99912345678", "+9199792700", "+390612345678", "+919"):
        assert numbers._fast_e164(raw) is None
        assert _answer(raw) == _slow_answer(raw)

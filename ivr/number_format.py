"""How a phone number is written where the platform dials the carrier (``DIALER_NUMBER_FORMAT``).

The platform keeps every number as E.164 with ``+`` (``+918000681234``), but
carriers differ in what they accept in the SIP request URI, and many refuse a
``+``. Every dial string to the carrier — the dialer's originate, the IVR's
``<dial>`` legs (click2call's destination included), a live-call transfer —
and the caller id sent with it (``origination_caller_id_number``) is written
in one configured format:

=================  ==================  ===============================================
format             +918000681234 as    meaning
=================  ==================  ===============================================
``e164``           ``918000681234``    country code and number, no ``+`` (the default:
                                       how seed 002 writes numbers)
``e164_plus``      ``+918000681234``   E.164 with ``+``
``national``       ``8000681234``      the national significant number (phonenumbers')
``national_trunk`` ``08000681234``     the number as its country dials it at home,
                                       trunk prefix included where it has one
=================  ==================  ===============================================

The two national formats only make sense for numbers of the carrier's own
country (``DEFAULT_REGION``); a number of another country is written as that
country dials abroad (``0012015550123`` from India), never as a national number
that would ring someone else at home.

A number the format cannot read as a phone number (an extension, a short code,
``*``/``#`` sequences) is dialled as written.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from config import NUMBER_FORMATS

E164 = "e164"
E164_PLUS = "e164_plus"
NATIONAL = "national"
NATIONAL_TRUNK = "national_trunk"

_INTERNATIONAL = re.compile(r"^\+[1-9][0-9]{3,16}$")
_DIGITS = re.compile(r"^[0-9]{4,17}$")
_NOT_DIGIT = re.compile(r"[^0-9]")


def _international(number: str, region: str) -> str | None:
    """``number`` as ``+<digits>`` when it reads as a phone number, else None.

    Digits without ``+`` are read as seed 002 writes them and as
    :func:`dialer.numbers.normalize` does: a national number of ``region``
    first, else a country code without ``+``.
    """
    if _INTERNATIONAL.match(number):
        return number
    if not _DIGITS.match(number):
        return None
    for candidate, where in ((number, region), ("+" + number, None)):
        try:
            parsed = phonenumbers.parse(candidate, where)
        except NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    return None


def dial_number(number: str, fmt: str = E164, region: str = "IN") -> str:
    """``number`` written in ``fmt`` for a dial string to the carrier in ``region``'s country.

    ``number`` is E.164 (with or without ``+``) or a national number of
    ``region``; anything that does not read as a phone number comes back as
    written (stripped). Raises ValueError for an unknown ``fmt``.
    """
    if fmt not in NUMBER_FORMATS:
        raise ValueError(f"unknown number format {fmt!r}: expected one of {', '.join(NUMBER_FORMATS)}")
    number = (number or "").strip()
    e164 = _international(number, (region or "IN").upper())
    if e164 is None:
        return number
    if fmt == E164_PLUS:
        return e164
    if fmt == E164:
        return e164[1:]
    try:
        parsed = phonenumbers.parse(e164, None)
    except NumberParseException:  # a country code phonenumbers does not know: no national form to give
        return e164[1:]
    home = (region or "IN").upper()
    if parsed.country_code != phonenumbers.country_code_for_region(home):
        return _NOT_DIGIT.sub("", phonenumbers.format_out_of_country_calling_number(parsed, home))
    if fmt == NATIONAL:
        return phonenumbers.national_significant_number(parsed)
    return _NOT_DIGIT.sub("", phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL))

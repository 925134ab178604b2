"""Phone numbers: E.164 normalisation with ``phonenumbers``, and where a number is (region, time zone).

Every number the platform stores or dials is E.164 (``+919979270001``). Input
arrives in every shape the seeds show: ``91997927XXXX`` (country code without
``+``), a 10-digit national number, ``+1 516-814-8111``. :func:`normalize`
reads national numbers in the account's default region, accepts a country
code written without ``+``, and says why a number is refused::

    normalize("9199792 70001", "IN")  -> "+919979270001"
    normalize("12", "IN")             -> InvalidNumber("too short")
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, timezone as pn_timezone
from phonenumbers import PhoneNumberType, ValidationResult

# How numbers are written in dial strings to the carrier lives with the IVR (its <dial> needs it and the
# IVR does not import the dialer); the dialer's callers get it here.
from ivr.number_format import dial_number  # noqa: F401

# Characters people put in numbers that carry no meaning.
_DECORATION = re.compile(r"[\s\-().\u00a0/]")
_ALLOWED = re.compile(r"^\+?[0-9]+$")
# phonenumbers still names a few zones by their old IANA aliases; answer with the current names.
_ZONE_ALIASES = {"Asia/Calcutta": "Asia/Kolkata", "Asia/Katmandu": "Asia/Kathmandu", "Asia/Saigon": "Asia/Ho_Chi_Minh"}


class InvalidNumber(ValueError):
    """A phone number that cannot be dialed; ``reason`` is short and readable ("too short", ...)."""

    def __init__(self, number: object, reason: str):
        super().__init__(f"invalid phone number {number!r}: {reason}")
        self.number = number
        self.reason = reason


_REASONS = {
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    ValidationResult.INVALID_LENGTH: "wrong length",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "local number without area code",
}


def _parse(raw: str, region: str) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(raw, region)
    except NumberParseException as exc:
        reasons = {
            NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
            NumberParseException.NOT_A_NUMBER: "not a number",
            NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
            NumberParseException.TOO_SHORT_NSN: "too short",
            NumberParseException.TOO_LONG: "too long",
        }
        raise InvalidNumber(raw, reasons.get(exc.error_type, "not a number")) from None


def _check(parsed: phonenumbers.PhoneNumber, raw: str, region: str | None) -> None:
    possible = phonenumbers.is_possible_number_with_reason(parsed)
    if possible in _REASONS:
        raise InvalidNumber(raw, _REASONS[possible])
    if not phonenumbers.is_valid_number(parsed):
        where = phonenumbers.region_code_for_number(parsed) or region or "its country"
        raise InvalidNumber(raw, f"invalid for region {where}")


def normalize(number: object, region: str | None = "IN") -> str:
    """The E.164 form of ``number``, read in ``region`` when it has no country code.

    A number written as digits starting with a country code but without ``+``
    (``919979270001``, seed 002's style) is accepted when it is not valid as a
    national number of ``region``. Raises :class:`InvalidNumber` with a reason.
    """
    if isinstance(number, int) and not isinstance(number, bool):
        number = str(number)
    if not isinstance(number, str):
        raise InvalidNumber(number, "not a number")
    raw = _DECORATION.sub("", number.strip())
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if not raw:
        raise InvalidNumber(number, "empty")
    if not _ALLOWED.match(raw):
        raise InvalidNumber(number, "not a number")
    region = (region or "IN").upper()
    if raw.startswith("+"):
        fast = _fast_e164(raw)
        if fast is not None:
            return fast
        parsed = _parse(raw, region)
        _check(parsed, number, None)
        return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    # Digits only: national in the account's region first, then as "country code without +".
    first_error: InvalidNumber | None = None
    try:
        parsed = _parse(raw, region)
        _check(parsed, number, region)
        return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    except InvalidNumber as exc:
        first_error = exc
    try:
        parsed = _parse("+" + raw, region)
        _check(parsed, number, None)
        return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    except InvalidNumber:
        raise InvalidNumber(number, first_error.reason) from None


# The fast path: "+<country code><national number>" in digits, checked against phonenumbers' own
# metadata without a full parse. It only ever ACCEPTS, and only in the cases where parse() would
# keep the digits as they are (one region for the country code, no leading zero, no national
# prefix to strip), with exactly the checks is_possible_number / is_valid_number make there:
# the length (per country code and length, computed once) and the same number patterns
# (general, then any type). Anything else, every refusal included, goes the full way, so the
# reasons given are the same; tests/api/test_number_fast_path.py checks both ways agree.
_PLANS: dict[tuple[int, int], tuple | None] = {}
# Valid means "matches the general pattern and some type's": the order is free, the usual types go first.
_TYPE_DESCS = ("mobile", "fixed_line", "toll_free", "premium_rate", "shared_cost", "voip", "personal_number",
               "pager", "uan", "voicemail")


def _plan(cc: int, length: int) -> tuple | None:
    """(national prefix pattern, general pattern, type patterns) for a number of ``length`` digits in ``cc``."""
    key = (cc, length)
    if key in _PLANS:
        return _PLANS[key]
    plan = None
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc) or ()
    meta = phonenumbers.PhoneMetadata.metadata_for_region(regions[0], None) if len(regions) == 1 else None
    if meta is not None and meta.general_desc is not None and meta.general_desc.national_number_pattern:
        # is_possible_number_with_reason looks at the length only.
        probe = phonenumbers.PhoneNumber(country_code=cc, national_number=int("1" * length))
        if phonenumbers.is_possible_number_with_reason(probe) == ValidationResult.IS_POSSIBLE:
            def matching(desc):
                if desc is None or not desc.national_number_pattern:
                    return None
                if desc.possible_length and length not in desc.possible_length:
                    return None
                return re.compile(desc.national_number_pattern)

            general = matching(meta.general_desc)
            types = [matching(getattr(meta, name)) for name in _TYPE_DESCS
                     if not (name == "mobile" and meta.same_mobile_and_fixed_line_pattern)]
            types = tuple(t for t in types if t is not None)
            prefix = meta.national_prefix_for_parsing
            if general is not None and types:
                plan = (re.compile(prefix) if prefix else None, general, types)
    _PLANS[key] = plan
    return plan


def _fast_e164(raw: str) -> str | None:
    """``raw`` ("+" and digits) when it is a valid number that parses to itself; None: not decided here."""
    digits = raw[1:]
    if len(digits) < 4 or len(digits) > 20 or digits[0] == "0":
        return None
    for n in (1, 2, 3):
        cc = int(digits[:n])
        if cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    nsn = digits[n:]
    if not 2 <= len(nsn) <= 17 or nsn[0] == "0":
        return None
    plan = _plan(cc, len(nsn))
    if plan is None:
        return None
    prefix, general, types = plan
    if prefix is not None and prefix.match(nsn):
        return None  # parse() might strip a national prefix: let it decide
    if general.fullmatch(nsn) is None or not any(t.fullmatch(nsn) for t in types):
        return None
    return raw


def try_normalize(number: object, region: str | None = "IN") -> tuple[str | None, str | None]:
    """``(e164, None)`` or ``(None, reason)``, for bulk imports that report bad rows and keep going."""
    try:
        return normalize(number, region), None
    except InvalidNumber as exc:
        return None, exc.reason


def region_for_account(account, default: str | None = None) -> str:
    """The region national numbers of ``account`` are read in: its own, else ``default``, else config."""
    if account is not None and getattr(account, "default_region", None):
        return account.default_region
    if default:
        return default
    from config import settings

    return settings().default_region


@dataclass(frozen=True)
class NumberInfo:
    """Where a number is: ISO region, its time zones (most likely first), a place name, line type."""

    e164: str
    region: str | None
    time_zones: tuple[str, ...]
    description: str
    mobile: bool

    @property
    def time_zone(self) -> str | None:
        """One time zone for calling-hours decisions: the number's only one, else None (ambiguous)."""
        return self.time_zones[0] if len(self.time_zones) == 1 else None


def _zones(parsed: phonenumbers.PhoneNumber) -> tuple[str, ...]:
    return tuple(_ZONE_ALIASES.get(z, z) for z in pn_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown")


def info(e164: str) -> NumberInfo:
    """Region, time zones and line type of an E.164 number (raises InvalidNumber when it is not one)."""
    # Imported here: phonenumbers' geocoding data costs ~100 MB of memory in every process that loads it,
    # and only this description needs it.
    from phonenumbers import geocoder

    parsed = _parse(e164 if e164.startswith("+") else "+" + e164, "ZZ")
    kind = phonenumbers.number_type(parsed)
    return NumberInfo(
        e164=phonenumbers.format_number(parsed, PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(parsed),
        time_zones=_zones(parsed),
        description=geocoder.description_for_number(parsed, "en"),
        mobile=kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE),
    )


def time_zone_for(e164: str, fallback: str | None = None) -> str | None:
    """The IANA time zone to apply calling hours in for ``e164``.

    A number whose country spans several zones (US, Brazil, Russia…) and whose
    prefix does not pin one down gets ``fallback`` (the campaign's zone): a
    wrong guess would call someone at night.
    """
    try:
        zones = _zones(_parse(e164 if e164.startswith("+") else "+" + e164, "ZZ"))
    except InvalidNumber:
        return fallback
    return zones[0] if len(zones) == 1 else fallback


def national_digits(e164: str) -> str:
    """The national significant number of an E.164 number (for display and for dial strings that want it)."""
    parsed = _parse(e164, "ZZ")
    return phonenumbers.national_significant_number(parsed)


def seed_style(e164: str) -> str:
    """The number as seed 002 shows it in CDRs: country code and digits, no ``+`` (``919979270001``)."""
    return e164[1:] if e164.startswith("+") else e164

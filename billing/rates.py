"""The rate card: per-minute voice rates and per-part SMS rates by destination prefix, and its CSV form.

A voice rate is billed by its pulse ``initial/increment`` (seconds): ``60/60`` bills whole minutes, ``1/1``
every second, ``30/6`` a first half minute then six seconds at a time. A call of ``billsec`` seconds is
billed for ``0`` seconds if it was never answered (``billsec == 0``), else for ``initial`` seconds plus
enough increments to cover the rest. The longest prefix of the number (digits, no ``+``) that the card has
decides; the empty prefix matches every number.

CSV (``vaani balance rates import``): a header ``service,prefix,rate,pulse`` and one line per rate, e.g.
``voice,91,0.60,60/60`` or ``sms,91,0.20,``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from billing import money
from dialer.store.billing_models import BillingRate

SERVICES = ("voice", "sms")
_PULSE = re.compile(r"^\s*(\d{1,5})\s*/\s*(\d{1,5})\s*$")
_PREFIX = re.compile(r"^\d{0,16}$")


class RateError(ValueError):
    """A rate card line that cannot be read; ``str()`` says which and why."""


@dataclass(frozen=True)
class Rate:
    """One rate: ``rate`` units per minute (voice) or per part (sms), and the voice pulse."""

    service: str
    prefix: str
    rate: int
    pulse_initial: int = 60
    pulse_increment: int = 60

    def billable_seconds(self, billsec: float) -> int:
        """Seconds billed for ``billsec`` seconds of talk under this pulse."""
        secs = int(-(-float(billsec or 0) // 1))  # a started second is a second
        if secs <= 0:
            return 0
        if secs <= self.pulse_initial:
            return self.pulse_initial
        rest = secs - self.pulse_initial
        return self.pulse_initial + -(-rest // self.pulse_increment) * self.pulse_increment

    def price_seconds(self, seconds: int) -> int:
        """Units for ``seconds`` already on a pulse boundary (rounded up to a unit)."""
        return -(-self.rate * int(seconds) // 60)

    def call_price(self, billsec: float) -> int:
        """What a call of ``billsec`` seconds costs."""
        return self.price_seconds(self.billable_seconds(billsec))

    def first_pulse(self) -> int:
        """The least a voice call costs once answered: its first pulse (one part for SMS)."""
        return self.rate if self.service == "sms" else self.price_seconds(self.pulse_initial)

    def affordable_seconds(self, units: int, wanted: int) -> int:
        """The most seconds (on pulse boundaries, at most ``wanted`` rounded up to one) that ``units`` pays for."""
        wanted = self.billable_seconds(max(1, wanted))
        if self.rate <= 0:
            return wanted
        if self.price_seconds(wanted) <= units:
            return wanted
        if self.price_seconds(self.pulse_initial) > units:
            return 0
        secs = self.pulse_initial
        # At most wanted/increment steps; a binary search keeps large reserves cheap.
        lo, hi = 0, (wanted - self.pulse_initial) // self.pulse_increment
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.price_seconds(secs + mid * self.pulse_increment) <= units:
                lo = mid
            else:
                hi = mid - 1
        return secs + lo * self.pulse_increment


def digits(number: str) -> str:
    """The digits of a number (E.164 with or without ``+``)."""
    return "".join(ch for ch in str(number or "") if ch.isdigit())


def parse_pulse(text: str) -> tuple[int, int]:
    """``"60/60"`` → (60, 60); RateError when malformed or zero."""
    m = _PULSE.match(text or "")
    if not m:
        raise RateError(f"pulse {text!r}: write it as initial/increment seconds, e.g. 60/60 or 1/1")
    initial, increment = int(m.group(1)), int(m.group(2))
    if initial <= 0 or increment <= 0:
        raise RateError(f"pulse {text!r}: both numbers must be at least 1")
    return initial, increment


class Card:
    """An account's rates of one service, matched by longest prefix."""

    def __init__(self, rates: list[Rate]):
        self.by_prefix = {r.prefix: r for r in rates}
        self.lengths = sorted({len(p) for p in self.by_prefix}, reverse=True)

    def __bool__(self) -> bool:
        return bool(self.by_prefix)

    def match(self, number: str) -> Rate | None:
        """The rate of the longest prefix of ``number``, or None when the card has none for it."""
        d = digits(number)
        for n in self.lengths:
            if n <= len(d):
                rate = self.by_prefix.get(d[:n])
                if rate is not None:
                    return rate
        return None


def card(session: Session, account_id: str, service: str) -> Card:
    """The account's card for ``service`` (``voice`` or ``sms``)."""
    rows = session.scalars(select(BillingRate).where(BillingRate.account_id == account_id,
                                                     BillingRate.service == service)).all()
    return Card([Rate(r.service, r.prefix, r.rate, r.pulse_initial, r.pulse_increment) for r in rows])


def parse_csv(text: str) -> list[Rate]:
    """The rates of a CSV rate card (see the module docs); RateError naming the line at fault."""
    reader = csv.DictReader(io.StringIO(text))
    need = {"service", "prefix", "rate"}
    if reader.fieldnames is None or not need <= {f.strip().lower() for f in reader.fieldnames}:
        raise RateError("the header must be service,prefix,rate,pulse")
    out: list[Rate] = []
    seen: set[tuple[str, str]] = set()
    for i, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        if not any(row.values()):
            continue
        service = row.get("service", "").lower()
        if service not in SERVICES:
            raise RateError(f"line {i}: service must be voice or sms, got {row.get('service')!r}")
        prefix = digits(row.get("prefix", "")) if row.get("prefix", "").lstrip("+").isdigit() else row.get("prefix", "")
        if not _PREFIX.match(prefix):
            raise RateError(f"line {i}: prefix must be digits (at most 16), got {row.get('prefix')!r}")
        try:
            rate = money.parse(row.get("rate", ""))
        except money.AmountError as exc:
            raise RateError(f"line {i}: rate: {exc}") from None
        if rate < 0:
            raise RateError(f"line {i}: rate must not be negative")
        try:
            initial, increment = (1, 1) if service == "sms" else parse_pulse(row.get("pulse") or "60/60")
        except RateError as exc:
            raise RateError(f"line {i}: {exc}") from None
        if (service, prefix) in seen:
            raise RateError(f"line {i}: {service} prefix {prefix or '(any)'} is given twice")
        seen.add((service, prefix))
        out.append(Rate(service, prefix, rate, initial, increment))
    return out


def replace_card(session: Session, account_id: str, rates: list[Rate]) -> int:
    """Make ``rates`` the account's whole rate card (the services they name; others kept); returns the count."""
    services = {r.service for r in rates}
    if services:
        session.execute(delete(BillingRate).where(BillingRate.account_id == account_id,
                                                  BillingRate.service.in_(services)))
    session.add_all([BillingRate(account_id=account_id, service=r.service, prefix=r.prefix, rate=r.rate,
                                 pulse_initial=r.pulse_initial, pulse_increment=r.pulse_increment) for r in rates])
    session.flush()
    return len(rates)

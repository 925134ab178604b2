"""Amounts of money as integers of ten-thousandths of the account's currency, and how the seeds show them."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal, InvalidOperation

#: Units per currency unit: 0.0001 is the smallest amount kept.
SCALE = 10000


class AmountError(ValueError):
    """Text that is not an amount of money."""


def parse(text: str | int | float | Decimal) -> int:
    """``"4801"``, ``"0.50"``, ``"1,000.25"`` → units (rounded up to a ten-thousandth); AmountError otherwise."""
    raw = str(text).strip().replace(",", "").replace("_", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise AmountError(f"{text!r} is not an amount (write it like 100 or 0.50)") from None
    if not value.is_finite():
        raise AmountError(f"{text!r} is not an amount")
    return int((value * SCALE).to_integral_value(rounding=ROUND_CEILING))


def decimal(units: int) -> Decimal:
    """Units as a Decimal of the currency."""
    return Decimal(int(units)) / SCALE


def plain(units: int | None) -> str:
    """An amount for callbacks' ``price``/``balance``: at least two decimals, at most four (``"0.50"``)."""
    if units is None:
        return ""
    text = f"{decimal(units):.4f}"
    while text.endswith("0") and len(text.split(".")[1]) > 2:
        text = text[:-1]
    return text


def shown(units: int, currency: str) -> str:
    """Konnect Balance's ``account_balance``: the sign, thousands separators, decimals only when there are any
    (``Rs.4,801``, ``Rs.4,800.75``)."""
    value = decimal(units)
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value == value.to_integral_value():
        body = f"{int(value):,}"
    else:
        body = f"{value:,.4f}".rstrip("0")
        if len(body.split(".")[1]) < 2:
            body += "0"
    return f"{sign}{currency}{body}"

"""Sending DTMF on a call: TwiML ``Play digits``, Plivo ``DTMF``, ``sendDigits`` of a dialled leg.

FreeSWITCH's ``send_dtmf`` sends the keys to the far end of the channel it
runs on; ``w`` waits half a second and ``W`` a whole one, as in TwiML.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"^[0-9*#wW]{1,64}$")


def checked(digits: str) -> str:
    """``digits`` if they are keys and waits only; raises ValueError otherwise."""
    digits = (digits or "").strip()
    if not _DIGITS.match(digits):
        raise ValueError(f"cannot send digits {digits!r}: only 0-9, *, #, w and W")
    return digits


def send_digits(executor, digits: str) -> dict:
    """Send ``digits`` on the call (the app hears nothing back; the call carries on)."""
    digits = checked(digits)
    executor.heard(f"sending digits {digits}")
    executor.session.execute("send_dtmf", digits)
    return {}

"""Where a price is charged for an SMS: a hook that billing registers, called per message when it is accepted.

``register(hook)`` installs ``hook(session, message) -> Charge | None``; the
hook runs inside the transaction that stores the message (the API's, or the
call path's), after ``message.parts`` is known (:func:`sms.parts.parts_of`), so
it can price the message per part by its destination prefix and debit the
balance atomically with the insert. It raises :class:`LowBalance` to refuse the
message: the whole request is then refused with Konnect's 3003 and nothing is
stored or sent. The returned :class:`Charge` is kept on the message and
reported in its callbacks' ``price`` and ``balance`` fields. With no hook
(billing not installed) messages are free and those fields are blank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy.orm import Session

from dialer.store.sms_models import SmsMessage


class LowBalance(Exception):
    """The account cannot pay for the message (Konnect 3003 "Low Balance")."""


@dataclass(frozen=True)
class Charge:
    """What a message cost and what is left, as the callbacks show them (strings, e.g. ``"0.25"``)."""

    price: str
    balance: str


Hook = Callable[[Session, SmsMessage], "Charge | None"]
_hooks: list[Hook] = []


def register(hook: Hook) -> None:
    """Install a charging hook (idempotent: the same function twice is kept once)."""
    if hook not in _hooks:
        _hooks.append(hook)


def unregister(hook: Hook) -> None:
    """Remove a hook (tests)."""
    if hook in _hooks:
        _hooks.remove(hook)


def charge(session: Session, message: SmsMessage) -> Charge | None:
    """Run the hooks on a message about to be stored; sets its ``price``/``balance``. Raises :class:`LowBalance`."""
    result = None
    for hook in list(_hooks):
        got = hook(session, message)
        if got is not None:
            result = got
    if result is not None:
        message.price, message.balance = result.price, result.balance
    return result

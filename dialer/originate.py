"""The ``originate`` command the dialer sends for every outbound call.

One call is ``bgapi originate {vars}sofia/gateway/<gw>/<number> &socket('<ivr> async full')``:

* the number and the caller id are written in DIALER_NUMBER_FORMAT
  (:mod:`ivr.number_format`; by default ``918000681234``, no ``+``);

* ``origination_uuid`` is reserved by the dialer before the originate, so the
  attempt row knows its channel before FreeSWITCH answers;
* ``vaani_call`` carries the :class:`ivr.call_spec.CallSpec` (base64url, so
  contact fields cannot break the string), ``vaani_request_id`` /
  ``vaani_attempt_id`` are plain for event filters and CDRs, and
  ``vaani_prefix`` names the installation (the ESL event filter, so that
  several installations or test runs can share one FreeSWITCH);
* the socket application's argument is single-quoted: unquoted, FreeSWITCH
  splits it at the spaces and the socket runs in static mode.

Values inside ``{...}`` follow ``switch_event_create_brackets`` /
``switch_separate_string``: a value may be wrapped in single quotes, and a
backslash escapes a quote, a comma or a backslash. Braces, brackets and line
breaks cannot be escaped at all (the bracket scanner does not honour quotes),
so a value holding one is refused with :class:`OriginateError`.
"""

from __future__ import annotations

import re
import uuid as _uuid
from dataclasses import dataclass, field

from ivr.call_spec import ATTEMPT_ID_VAR, CALL_VAR, REQUEST_ID_VAR, CallSpec
from ivr.number_format import dial_number

#: Channel variable naming the installation (REDIS_KEY_PREFIX); the listener filters events on it.
PREFIX_VAR = "vaani_prefix"
#: Channel variable naming the dialer worker that launched the call.
WORKER_VAR = "vaani_worker"

_PLAIN = re.compile(r"^[A-Za-z0-9_+.\-@:/=]*$")
_FORBIDDEN = re.compile(r"[{}\[\]\r\n\x00]")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GATEWAY = re.compile(r"^[A-Za-z0-9_.\-]+$")
_NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$")
_ADDRESS = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+:[0-9]{1,5}$")


class OriginateError(ValueError):
    """A value that cannot be put into an originate string safely."""


def new_call_uuid() -> str:
    """A fresh channel UUID to reserve for an attempt (the ``origination_uuid``)."""
    return str(_uuid.uuid4())


#: Characters no quoting carries through the originate API intact (see quote_value).
_UNCARRIABLE = re.compile(r"['\\,$^]")


def quote_value(value: str) -> str:
    """Write one channel-variable value so FreeSWITCH reads back exactly ``value``, or refuse it.

    ``api originate`` parses its argument three times, and each pass strips quotes and backslash
    escapes (switch_separate_string, then its cleanup): the command is split on blanks, the ``{…}``
    block on commas, each variable on ``=``. A quote, comma or backslash would need a different
    escape for each pass, ``$`` would be expanded as a variable and ``^^`` changes the delimiter, so
    such values are refused (the dialer carries free text in the base64url CallSpec instead). Blanks
    are fine once quoted for the first pass.
    """
    value = str(value)
    if _FORBIDDEN.search(value) or _UNCARRIABLE.search(value):
        raise OriginateError(f"value {value!r} holds a character an originate string cannot carry "
                             "(one of { } [ ] ' , \\ $ ^ or a line break)")
    if _PLAIN.match(value):
        return value
    if value != value.strip(" \t"):
        raise OriginateError(f"value {value!r} starts or ends with a blank, which FreeSWITCH trims")
    return f"'{value}'"


def variables_block(variables: dict[str, object]) -> str:
    """The ``{name=value,...}`` prefix of a dial string (None values are left out)."""
    parts = []
    for name, value in variables.items():
        if value is None:
            continue
        if not _VAR_NAME.match(name):
            raise OriginateError(f"bad channel variable name {name!r}")
        if isinstance(value, bool):
            value = "true" if value else "false"
        parts.append(f"{name}={quote_value(str(value))}")
    return "{" + ",".join(parts) + "}"


@dataclass
class Originate:
    """One outbound call to launch: everything its originate string needs."""

    call_uuid: str
    number: str
    gateway: str
    caller_id: str | None
    spec: CallSpec
    ivr_address: str
    originate_timeout: int = 45
    key_prefix: str = "vaani"
    worker_id: str | None = None
    extra_vars: dict[str, object] = field(default_factory=dict)
    #: How the number and caller id are written for the carrier (DIALER_NUMBER_FORMAT, ivr/number_format.py).
    number_format: str = "e164"
    #: The carrier's country (DEFAULT_REGION), for the national formats.
    region: str = "IN"

    def dial_string(self) -> str:
        """``{vars}sofia/gateway/<gw>/<number>``, number and caller id in :attr:`number_format`."""
        if not _GATEWAY.match(self.gateway or ""):
            raise OriginateError(f"bad gateway name {self.gateway!r}")
        try:
            number = dial_number(self.number or "", self.number_format, self.region)
            caller_id = dial_number(self.caller_id, self.number_format, self.region) if self.caller_id else None
        except ValueError as exc:
            raise OriginateError(str(exc)) from None
        if not _NUMBER.match(number):
            raise OriginateError(f"bad number to dial {self.number!r}")
        try:
            _uuid.UUID(self.call_uuid)
        except (ValueError, TypeError, AttributeError):
            raise OriginateError(f"bad call uuid {self.call_uuid!r}") from None
        if int(self.originate_timeout) <= 0:
            raise OriginateError("originate_timeout must be a positive number of seconds")
        variables: dict[str, object] = {
            "origination_uuid": self.call_uuid,
            "origination_caller_id_number": caller_id or None,
            "originate_timeout": int(self.originate_timeout),
            "ignore_early_media": True,
            REQUEST_ID_VAR: self.spec.request_id,
            ATTEMPT_ID_VAR: self.spec.attempt_id,
            PREFIX_VAR: self.key_prefix,
            WORKER_VAR: self.worker_id,
            CALL_VAR: self.spec.encode(),
        }
        variables.update(self.extra_vars)
        return variables_block(variables) + f"sofia/gateway/{self.gateway}/{number}"

    def application(self) -> str:
        """``&socket('<ivr address> async full')``, quoted so FreeSWITCH keeps the arguments together."""
        if not _ADDRESS.match(self.ivr_address or ""):
            raise OriginateError(f"bad IVR socket address {self.ivr_address!r}")
        return f"&socket('{self.ivr_address} async full')"

    def command(self) -> str:
        """The argument of ``bgapi``: ``originate <dial string> <application>``."""
        return f"originate {self.dial_string()} {self.application()}"

"""Declarative request schemas: one per endpoint, used to validate requests and to write /openapi.json.

A :class:`Schema` is a list of :class:`Field`. ``Schema.validate(data)`` returns
the cleaned values (numbers as ``int``, phone numbers in E.164, date-times as
aware ``datetime``) or raises :class:`ValidationError` naming the field and the
reason. ``Schema.openapi()`` describes the same fields as a JSON Schema object,
so the documentation cannot drift from what the code accepts.

The seeds send numbers as strings (``"repeat": "1"``); every integer field
accepts ``1`` and ``"1"``, and every string field accepts a number.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit



class ValidationError(ValueError):
    """A request field that is missing or wrong: ``field`` names it, ``reason`` says why."""

    def __init__(self, field_name: str, reason: str, code: str | None = None):
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason
        #: A dialect-specific error name (Kairos status name) when one applies.
        self.code = code


# Kinds of field: the JSON Schema type and format each one documents as.
_OPENAPI_TYPES = {
    "string": {"type": "string"},
    "integer": {"oneOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\s*-?\d+\s*$"}]},
    "number": {"oneOf": [{"type": "number"}, {"type": "string", "pattern": r"^\s*-?\d+(\.\d+)?\s*$"}]},
    "phone": {"type": "string", "description": "phone number; normalized to E.164"},
    "enum": {"type": "string"},
    "datetime": {"type": "string"},
    "isodatetime": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
    "timezone": {"type": "string", "description": "IANA time zone name, e.g. Asia/Kolkata"},
    "url": {"type": "string", "format": "uri"},
    "boolean": {"type": "boolean"},
    "mapping": {"type": "object", "additionalProperties": {"type": "string"}},
}


@dataclass(frozen=True)
class Field:
    """One request field.

    ``kind``: string, integer, number (a float), phone, enum, datetime (``fmt``, optional
    ``future`` and ``tz_field``), isodatetime, date, timezone, url, boolean,
    mapping (string to string), list (of ``items``), object (a nested ``schema``).
    """

    name: str
    kind: str = "string"
    required: bool = False
    default: Any = None
    description: str = ""
    choices: tuple[Any, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    fmt: str | None = None
    future: bool = False
    tz_field: str | None = None
    items: "Field | None" = None
    schema: "Schema | None" = None
    #: For lists: also accept one string of comma-separated values (Konnect ``recipient``).
    comma_string: bool = False
    #: Skip E.164 checks (SIP extensions) or allow the empty string.
    allow_empty: bool = False
    example: Any = None
    #: Kairos status name raised when this field is invalid.
    code: str | None = None


@dataclass(frozen=True)
class Schema:
    """The fields of one request body or query string."""

    name: str
    fields: tuple[Field, ...] = ()
    #: Cross-field check run after every field passed: ``check(cleaned) -> None`` or raises.
    check: Callable[[dict[str, Any]], None] | None = None
    description: str = ""
    #: Extra keys are ignored (the seeds' clients send more than documented).
    example: dict[str, Any] | None = None

    def validate(self, data: Any, *, path: str = "", region: str = "IN",
                 now: dt.datetime | None = None) -> dict[str, Any]:
        """Check ``data`` against every field and return the cleaned values."""
        if data is None:
            data = {}
        if type(data) is not dict and not isinstance(data, Mapping):
            raise ValidationError(path or "body", "must be a JSON object")
        ctx = _Ctx(region, now or dt.datetime.now(dt.timezone.utc), data)
        out: dict[str, Any] = {}
        for f in self.fields:
            name = f.name
            raw = data.get(name)
            if raw is None or (isinstance(raw, str) and not f.allow_empty and raw.strip() == ""):
                if f.required:
                    raise ValidationError(path + name, "is required", f.code)
                if f.default is not None:
                    out[name] = f.default
                continue
            out[name] = _clean(f, raw, path + name, ctx)
        if self.check is not None:
            self.check(out)
        return out

    def openapi(self) -> dict[str, Any]:
        """This schema as an OpenAPI 3 (JSON Schema) object."""
        props = {f.name: _field_openapi(f) for f in self.fields}
        doc: dict[str, Any] = {"type": "object", "properties": props}
        required = [f.name for f in self.fields if f.required]
        if required:
            doc["required"] = required
        if self.description:
            doc["description"] = self.description
        if self.example is not None:
            doc["example"] = self.example
        return doc


@dataclass
class _Ctx:
    region: str
    now: dt.datetime
    data: Mapping[str, Any]


def _field_openapi(f: Field) -> dict[str, Any]:
    if f.kind == "list":
        doc: dict[str, Any] = {"type": "array", "items": _field_openapi(f.items) if f.items else {}}
        if f.max_items is not None:
            doc["maxItems"] = f.max_items
        if f.min_items is not None:
            doc["minItems"] = f.min_items
        if f.comma_string:
            doc = {"oneOf": [doc, {"type": "string", "description": "comma-separated values"}]}
    elif f.kind == "object" and f.schema is not None:
        doc = f.schema.openapi()
    else:
        doc = dict(_OPENAPI_TYPES.get(f.kind, {"type": "string"}))
    if f.choices:
        doc = {"type": "string", "enum": [str(c) for c in f.choices]}
    if f.max_length is not None:
        doc["maxLength"] = f.max_length
    if f.minimum is not None:
        doc["minimum"] = f.minimum
    if f.maximum is not None:
        doc["maximum"] = f.maximum
    desc = f.description
    if f.kind == "datetime" and f.fmt:
        desc = (desc + " " if desc else "") + f"Format {f.fmt}" + (" (in the future)" if f.future else "")
    if desc:
        doc["description"] = desc
    if f.default is not None:
        doc["default"] = f.default if not isinstance(f.default, (dt.datetime,)) else str(f.default)
    if f.example is not None:
        doc["example"] = f.example
    return doc


def _as_text(f: Field, raw: Any, where: str) -> str:
    if isinstance(raw, bool):
        raise ValidationError(where, "must be a string, not a boolean", f.code)
    if isinstance(raw, (int, float)):
        raw = str(raw)
    if not isinstance(raw, str):
        raise ValidationError(where, "must be a string", f.code)
    return raw.strip()


@functools.lru_cache(maxsize=65536)
def _normalize(raw: str, region: str) -> str:
    # The same numbers come back again and again (retries, alternates, lists); parsing is the costly part.
    from dialer.numbers import normalize

    return normalize(raw, region)


def parse_phone(raw: str, region: str) -> str:
    """Normalize a phone number to E.164 (``+919979271234``) with ``dialer.numbers``; ValueError says why.

    A number with its country code but no ``+`` (``919979271234``, the seeds'
    way of writing them) and a national number (``9979271234``, read in
    ``region``) are both accepted.
    """
    from dialer.numbers import InvalidNumber

    if len(raw) > 32:
        raise ValueError("is too long")
    try:
        return _normalize(raw, region)
    except InvalidNumber as exc:
        raise ValueError(f"is not a valid phone number ({exc.reason})") from None


def _clean(f: Field, raw: Any, where: str, ctx: _Ctx) -> Any:
    kind = f.kind
    if kind == "list":
        items = raw
        if isinstance(raw, str) and f.comma_string:
            items = [p for p in (s.strip() for s in raw.split(",")) if p]
        if not isinstance(items, list):
            raise ValidationError(where, "must be an array", f.code)
        if f.comma_string:
            # Konnect's own examples put several numbers in one array element:
            # ["91888122XXXX,91888122XXXX"].
            flat: list[Any] = []
            for it in items:
                if isinstance(it, str) and "," in it:
                    flat.extend(p.strip() for p in it.split(",") if p.strip())
                else:
                    flat.append(it)
            items = flat
        if f.min_items is not None and len(items) < f.min_items:
            raise ValidationError(where, f"must have at least {f.min_items} item(s)", f.code)
        if f.max_items is not None and len(items) > f.max_items:
            raise ValidationError(where, f"must have at most {f.max_items} items, got {len(items)}", f.code)
        if f.items is None:
            return list(items)
        return [_clean(f.items, it, f"{where}[{i}]", ctx) for i, it in enumerate(items)]
    if kind == "object":
        assert f.schema is not None
        return f.schema.validate(raw, path=f"{where}.", region=ctx.region, now=ctx.now)
    if kind == "mapping":
        if not isinstance(raw, Mapping):
            raise ValidationError(where, "must be an object of name: value", f.code)
        out = {}
        for k, v in raw.items():
            if isinstance(v, (dict, list)):
                raise ValidationError(f"{where}.{k}", "must be a string or a number", f.code)
            out[str(k)] = "" if v is None else str(v)
        return out
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        text = _as_text(f, raw, where).lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValidationError(where, "must be true or false", f.code)
    if kind == "number":
        if isinstance(raw, bool):
            raise ValidationError(where, "must be a number, not a boolean", f.code)
        text = repr(raw) if isinstance(raw, (int, float)) else _as_text(f, raw, where)
        if not re.fullmatch(r"-?\d{1,18}(\.\d{1,18})?(e[+-]?\d{1,3})?", text.lower()):
            raise ValidationError(where, f"must be a number, got {text[:40]!r}", f.code)
        number = float(text)
        if f.minimum is not None and number < f.minimum:
            raise ValidationError(where, f"must be at least {f.minimum}", f.code)
        if f.maximum is not None and number > f.maximum:
            raise ValidationError(where, f"must be at most {f.maximum}", f.code)
        return number
    if kind == "integer":
        if isinstance(raw, bool) or isinstance(raw, float) and not raw.is_integer():
            raise ValidationError(where, "must be an integer", f.code)
        text = _as_text(f, raw, where)
        if not re.fullmatch(r"-?\d{1,18}", text):
            raise ValidationError(where, f"must be an integer, got {text[:40]!r}", f.code)
        value = int(text)
        if f.minimum is not None and value < f.minimum:
            raise ValidationError(where, f"must be at least {f.minimum}", f.code)
        if f.maximum is not None and value > f.maximum:
            raise ValidationError(where, f"must be at most {f.maximum}", f.code)
        return value
    text = _as_text(f, raw, where)
    if f.allow_empty and text == "":
        return ""
    if f.max_length is not None and len(text) > f.max_length:
        raise ValidationError(where, f"must be at most {f.max_length} characters", f.code)
    if kind == "string":
        if "\x00" in text:
            raise ValidationError(where, "must not contain NUL characters", f.code)
        return text
    if kind == "enum":
        allowed = [str(c) for c in f.choices]
        if text not in allowed:
            lowered = {a.lower(): a for a in allowed}
            if text.lower() in lowered:
                return lowered[text.lower()]
            raise ValidationError(where, f"must be one of {', '.join(allowed)}; got {text[:40]!r}", f.code)
        return text
    if kind == "phone":
        try:
            return parse_phone(text, ctx.region)
        except ValueError as exc:
            raise ValidationError(where, f"{text[:32]!r} {exc}", f.code) from None
    if kind == "timezone":
        return _timezone(text, where, f.code)
    if kind == "url":
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc or any(c in text for c in " \r\n\t"):
            raise ValidationError(where, "must be an http:// or https:// URL", f.code)
        return text
    if kind == "date":
        try:
            return dt.datetime.strptime(text, f.fmt or "%Y-%m-%d").date()
        except ValueError:
            raise ValidationError(where, f"must be a date in the format {f.fmt or 'YYYY-mm-dd'}", f.code) from None
    if kind == "datetime":
        return _local_datetime(f, text, where, ctx)
    if kind == "isodatetime":
        return _iso_datetime(f, text, where, ctx)
    raise ValidationError(where, f"unknown field kind {kind}")  # a schema bug, caught in tests


def _timezone(text: str, where: str, code: str | None = None) -> zoneinfo.ZoneInfo:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*", text) or len(text) > 64:
        raise ValidationError(where, f"{text[:40]!r} is not an IANA time zone name (e.g. Asia/Kolkata)", code)
    try:
        return zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(where, f"{text!r} is not an IANA time zone name (e.g. Asia/Kolkata)", code) from None


_HUMAN_FMT = {"%Y-%m-%d %H:%M:%S": "YYYY-mm-dd hh:mm:ss"}


def _local_datetime(f: Field, text: str, where: str, ctx: _Ctx) -> dt.datetime:
    fmt = f.fmt or "%Y-%m-%d %H:%M:%S"
    # The seed's own sample writes "2023-12-1810:00:00": a lost space is forgiven.
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})\s*T?\s*(\d{1,2}:\d{2}(?::\d{2})?)", text)
    if m and fmt == "%Y-%m-%d %H:%M:%S":
        clock = m.group(2) if m.group(2).count(":") == 2 else m.group(2) + ":00"
        text = f"{m.group(1)} {clock}"
    try:
        naive = dt.datetime.strptime(text, fmt)
    except ValueError:
        raise ValidationError(where, f"must be a date and time in the format {_HUMAN_FMT.get(fmt, fmt)}",
                              f.code) from None
    tz: dt.tzinfo = dt.timezone.utc
    if f.tz_field:
        tz_raw = ctx.data.get(f.tz_field)
        if isinstance(tz_raw, str) and tz_raw.strip():
            tz = _timezone(tz_raw.strip(), f.tz_field)
    value = naive.replace(tzinfo=tz)
    if f.future and value <= ctx.now:
        raise ValidationError(where, f"must be in the future (it is {value.isoformat()}, now is "
                                     f"{ctx.now.astimezone(tz).replace(microsecond=0).isoformat()})", f.code)
    return value


_ISO_RE = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(?:Z\d*)?(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_iso_datetime(text: str) -> dt.datetime:
    """Read a Kairos ``start-time``; naive values are UTC. Raises ValueError.

    The seed's sample ``2021-04-28T03:48:07.111Z111+05:30`` (a typo mixing ``Z``
    and an offset) is read as the offset it ends with.
    """
    m = _ISO_RE.match(text.strip())
    if not m:
        raise ValueError("must be an ISO-8601 timestamp like 2021-04-28T03:48:07.111+05:30")
    date, clock, frac, zone = m.groups()
    if clock.count(":") == 1:
        clock += ":00"
    frac = (frac or "")[:7]
    tail = ""
    if zone and zone != "Z":
        tail = zone if ":" in zone else zone[:3] + ":" + zone[3:]
    elif zone == "Z" or "Z" in text:
        tail = "+00:00"
    value = dt.datetime.fromisoformat(f"{date}T{clock}{frac}{tail}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


def _iso_datetime(f: Field, text: str, where: str, ctx: _Ctx) -> dt.datetime:
    try:
        value = parse_iso_datetime(text)
    except ValueError as exc:
        raise ValidationError(where, str(exc), f.code) from None
    if f.future:
        # Kairos: the date cannot be in the past; a past time today runs now.
        local_now = ctx.now.astimezone(value.tzinfo)
        if value.date() < local_now.date():
            raise ValidationError(where, "date is in the past", "VALIDITY_EXPIRED")
    return value


def s(name: str, *fields: Field, check: Callable[[dict[str, Any]], None] | None = None,
      description: str = "", example: dict[str, Any] | None = None) -> Schema:
    """Shorthand to build a :class:`Schema`."""
    return Schema(name=name, fields=tuple(fields), check=check, description=description, example=example)


def require_one_of(*names: str) -> Callable[[dict[str, Any]], None]:
    """A cross-field check: at least one of ``names`` must be present."""

    def check(values: dict[str, Any]) -> None:
        if not any(values.get(n) not in (None, "", []) for n in names):
            raise ValidationError(names[0], f"one of {', '.join(names)} is required")

    return check


def all_of(*checks: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """Run several cross-field checks in order."""

    def check(values: dict[str, Any]) -> None:
        for c in checks:
            c(values)

    return check


def field_names(schema: Schema) -> Sequence[str]:
    """The names of a schema's fields (for tests and docs)."""
    return [f.name for f in schema.fields]

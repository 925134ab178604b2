"""Errors in each seed's own shape, and the JSON handlers that never leak a traceback.

Three dialects answer errors differently:

* ``cpaas`` (seed 002, ``/api/...``): ``{"response": {"message": ..., "success": "false"}}``
  plus ``field`` when one request field is at fault;
* ``konnect`` (seed 000, ``/api/v1/Accounts/...``): ``{"status": "error", "error_code": ...,
  "error_reason": ...}`` (``"status": "rejected"`` and a ``ref_id`` for inbound numbers);
* ``kairos`` (seed 001, ``/kairos-apis/...``): the seed's status table, ``{"status-code": 400,
  "status-message": "Invalid Format", "status-name": "INVALID_FORMAT", ...}``.

The dialect of a request is decided by its path, so even a 404 or 405 for a path
that does not exist answers in the shape the client of that prefix expects.
"""

from __future__ import annotations

import logging
import dataclasses
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

KONNECT_PREFIXES = ("/api/v1/Accounts", "/admin/api/v1/Accounts")
KAIROS_PREFIX = "/kairos-apis"

# Konnect error codes. 3003 and 3050 are the seed's; the others are ours, in
# the same numbering range, and listed in docs/api.md.
KONNECT_CODES = {
    "invalid": ("3050", "Invalid Parameter Value"),
    "low_balance": ("3003", "Low Balance"),
    "auth": ("3001", "Authentication Failed"),
    "not_found": ("3004", "Not Found"),
    "method": ("3005", "Method Not Allowed"),
    "too_large": ("3006", "Request Too Large"),
    "internal": ("3000", "Internal Error"),
}

# Kairos status table from seed 001: name -> (status code, status message).
KAIROS_STATUS = {
    "SUCCESS": (200, "Success"),
    "CHECKSUM_REPEATED": (201, "Checksum Repeated"),
    "INVALID_SECURITY_ID": (202, "Invalid Security ID"),
    "INVALID_API_VERSION": (203, "API Version not Supported"),
    "INVALID_GATEWAY_ID": (204, "Invalid SMS Gateway"),
    "INVALID_CONTACT_NUMBER": (205, "Invalid Contact Number"),
    "FAILURE_FROM_GATEWAY": (206, "Failure from Gateway"),
    "DID_NOT_MAPPED": (207, "DID Not Mapped"),
    "NO_MASK_AVAILABLE": (208, "No Mask Available"),
    "PARTIAL_SUCCESS": (209, "Partial Success"),
    "INVALID_MANDATORY_PARAMETERS": (210, "Invalid Mandatory Parameters"),
    "VALIDITY_EXPIRED": (211, "Validity Expired"),
    "INSUFFICIENT_BALANCE": (212, "Insufficient Balance"),
    "NO_DATA_AVAILABLE": (213, "No Data Available"),
    "INVALID_FLOW_ID": (301, "Invalid Flow ID"),
    "EMPTY_CALL_LIST": (302, "Empty Call List"),
    "MAX_DATA_LIST_SIZE_EXCEEDED": (303, "Max Data List Size Exceeded"),
    "INVALID_FLOW_VERSION": (304, "Invalid Flow Version"),
    "INVALID_FORMAT": (400, "Invalid Format"),
    "IP_NOT_WHITELISTED": (401, "IP Not Whitelisted"),
    "PHONE_NOT_WHITELISTED": (402, "Phone Not Whitelisted"),
    "FAILURE": (500, "Failure"),
}

# The seed's status codes reuse HTTP numbers with other meanings (201 for a
# refused duplicate), so the HTTP status is chosen separately: 2xx only when
# something was accepted, 4xx for the client's mistakes, 5xx for ours.
KAIROS_HTTP = {
    "SUCCESS": 200,
    "PARTIAL_SUCCESS": 200,
    "CHECKSUM_REPEATED": 409,
    "INVALID_SECURITY_ID": 401,
    "IP_NOT_WHITELISTED": 401,
    "INVALID_FLOW_ID": 404,
    "MAX_DATA_LIST_SIZE_EXCEEDED": 413,
    "FAILURE": 500,
}


@dataclass
class ApiError(Exception):
    """A request the API refuses: rendered in the dialect of the request's path.

    ``kind`` is one of ``invalid``, ``auth``, ``forbidden``, ``not_found``,
    ``conflict``, ``method``, ``too_large``, ``internal``; ``kairos`` names a
    Kairos status (e.g. ``INVALID_FLOW_ID``) when the error happened there.
    """

    message: str
    kind: str = "invalid"
    field: str | None = None
    kairos: str | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    @property
    def http_status(self) -> int:
        """The HTTP status for this error kind (Kairos errors use :data:`KAIROS_HTTP`)."""
        if self.kairos:
            return KAIROS_HTTP.get(self.kairos, 400)
        return {
            "invalid": 400,
            "auth": 401,
            "forbidden": 403,
            "not_found": 404,
            "method": 405,
            "conflict": 409,
            "too_large": 413,
            "unsupported": 415,
            "internal": 500,
            "unavailable": 503,
        }.get(self.kind, 400)


def dialect_of(path: str) -> str:
    """Which seed's error shape a request path expects: ``konnect``, ``kairos`` or ``cpaas``."""
    if path.startswith(KONNECT_PREFIXES):
        return "konnect"
    if path.startswith(KAIROS_PREFIX):
        return "kairos"
    return "cpaas"


def cpaas_body(payload: dict[str, Any], success: bool = True) -> dict[str, Any]:
    """Seed 002's envelope: ``{"response": {..., "success": "true"}}``."""
    return {"response": {**payload, "success": "true" if success else "false"}}


def kairos_body(name: str, **extra: Any) -> dict[str, Any]:
    """A Kairos answer for status ``name`` from the seed's table, with extra fields."""
    code, message = KAIROS_STATUS[name]
    return {"status-code": code, "status-message": message, "status-name": name, **extra}


def konnect_error_body(err: ApiError) -> dict[str, Any]:
    """Konnect's error shape; ``rejected`` with a ``ref_id`` when the error carries one."""
    code, reason = KONNECT_CODES.get(err.kind, KONNECT_CODES["invalid"])
    if err.kind == "forbidden":
        code, reason = KONNECT_CODES["auth"]
    if err.kind == "conflict":
        code, reason = KONNECT_CODES["invalid"]
    # InboundPhoneNumbers answers errors as {"status": "rejected", "ref_id": ...} (seed 000).
    inbound = "/InboundPhoneNumbers" in request.path
    status = err.extra.get("status", "rejected" if inbound else "error")
    body: dict[str, Any] = {"status": status}
    if inbound:
        import secrets

        body["ref_id"] = err.extra.get("ref_id") or "RJ" + secrets.token_hex(16)
    body.update({"error_code": code, "error_reason": reason})
    if err.message and err.message != reason:
        body["error_reason"] = f"{reason}: {err.message}"
    if err.field:
        body["field"] = err.field
    return body


def render(err: ApiError, dialect: str | None = None) -> Response:
    """The JSON response for ``err`` in ``dialect`` (default: the current request's)."""
    dialect = dialect or dialect_of(request.path)
    if dialect == "konnect":
        body = konnect_error_body(err)
    elif dialect == "kairos":
        name = err.kairos or {
            "auth": "INVALID_SECURITY_ID",
            "internal": "FAILURE",
            "unavailable": "FAILURE",
            "too_large": "MAX_DATA_LIST_SIZE_EXCEEDED",
        }.get(err.kind, "INVALID_FORMAT")
        extra = {"message": err.message}
        if err.field:
            extra["field"] = err.field
        extra.update({k: v for k, v in err.extra.items() if k != "status"})
        body = kairos_body(name, **extra)
    else:
        payload: dict[str, Any] = {"message": err.message}
        if err.field:
            payload["field"] = err.field
        payload.update({k: v for k, v in err.extra.items() if k != "status"})
        body = cpaas_body(payload, success=False)
    resp = jsonify(body)
    resp.status_code = err.http_status
    return resp


_HTTP_KINDS = {404: "not_found", 405: "method", 413: "too_large", 415: "unsupported", 401: "auth",
               403: "forbidden"}


def install(app: Flask) -> None:
    """Register the handlers that turn every error, expected or not, into seed-shaped JSON."""

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return render(err)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        kind = _HTTP_KINDS.get(status, "invalid" if status < 500 else "internal")
        message = {
            404: "no such endpoint",
            405: f"method {request.method} is not allowed here",
            413: "request body too large",
        }.get(status, exc.description or exc.name)
        resp = render(ApiError(message, kind=kind))
        if status == 405 and getattr(exc, "valid_methods", None):
            resp.headers["Allow"] = ", ".join(exc.valid_methods)
        if kind == "invalid" and resp.status_code != status and status < 500:
            resp.status_code = status
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # The client gets a plain message; the traceback goes to the log only.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render(ApiError("internal error", kind="internal"))

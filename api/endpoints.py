"""Declaring an endpoint once: its route, its request schema, its auth and its docs.

``@endpoint(bp, "POST", "/click2call", schema=..., dialect="cpaas", summary=...)``
registers the Flask route, reads the request (JSON body, form fields or query
string), validates it with the schema and calls the view with the cleaned
values. The same :class:`Endpoint` record feeds ``/openapi.json``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint, current_app, request

from api.errors import ApiError
from api.schemas import Schema, ValidationError

#: Every endpoint declared so far, in declaration order (read by api.openapi).
REGISTRY: list["Endpoint"] = []

# The seeds' samples were copied from word processors; a client that pasted one
# sends curly quotes. JSON that fails to parse is retried with them replaced.
_TYPOGRAPHIC = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2033": '"', "\u2018": "'", "\u2019": "'"})


@dataclass(frozen=True)
class Endpoint:
    """One documented operation."""

    method: str
    path: str  # OpenAPI style: /api/v1/Accounts/{account_id}/Calls
    dialect: str  # cpaas | konnect | kairos | public
    summary: str
    schema: Schema | None = None
    source: str = "body"  # body | query
    tag: str = ""
    responses: dict[str, Any] = field(default_factory=dict)
    path_params: tuple[str, ...] = ()
    multipart: bool = False


def _flask_rule(path: str) -> str:
    return path.replace("{", "<").replace("}", ">")


def read_json_body() -> Any:
    """The request body as JSON (any content type; empty body -> {}); ApiError when unreadable."""
    raw = request.get_data(cache=True)
    if not raw or not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError("request body is not UTF-8 text", field="body") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        try:
            return json.loads(text.translate(_TYPOGRAPHIC))
        except json.JSONDecodeError:
            raise ApiError(f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                           field="body") from None


def read_params(source: str) -> Any:
    """The request's parameters: query string for GET/DELETE-without-body, form fields, or JSON."""
    if source == "query" or (request.method == "GET" and not request.content_length):
        merged: dict[str, Any] = request.args.to_dict()
        return merged
    ctype = request.mimetype or ""
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded") and ctype != "application/json":
        if ctype == "multipart/form-data" or request.form:
            return request.form.to_dict()
    body = read_json_body()
    if isinstance(body, dict) and request.args:
        # Konnect documents GET-style query parameters; accept them on POST too.
        return {**request.args.to_dict(), **body}
    return body


def endpoint(bp: Blueprint, method: str, path: str, *, dialect: str, summary: str,
             schema: Schema | None = None, source: str = "body", tag: str = "",
             responses: dict[str, Any] | None = None, multipart: bool = False,
             blueprint_prefix: str = "", prepare: Callable[[Any], Any] | None = None,
             validate: bool = True, auth: Callable[..., Any] | None = None) -> Callable:
    """Register ``view(data, **path_args)`` on ``bp`` for ``method path`` and document it.

    ``blueprint_prefix`` is the blueprint's url_prefix, so the documented path is the full one;
    ``prepare`` rewrites the raw parameters before validation (e.g. case-insensitive keys);
    ``auth(**path_args)`` runs before validation, so a stranger learns nothing about the fields;
    ``validate=False`` documents the schema but leaves checking to the view (Kairos orders its checks).
    """
    path_params = tuple(p.split("}")[0] for p in path.split("{")[1:])
    ep = Endpoint(method=method, path=blueprint_prefix + path, dialect=dialect, summary=summary, schema=schema,
                  source=source, tag=tag or dialect, responses=responses or {}, path_params=path_params,
                  multipart=multipart)
    REGISTRY.append(ep)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def handler(**path_args: Any):
            data: dict[str, Any] = {}
            if auth is not None:
                auth(**path_args)
            if schema is not None and validate:
                params = read_params(source)
                if prepare is not None:
                    params = prepare(params)
                try:
                    region = current_app.config["VAANI"].default_region
                    data = schema.validate(params, region=region)
                except ValidationError as exc:
                    raise ApiError(f"{exc.field}: {exc.reason}", field=exc.field, kairos=exc.code) from None
            return view(data, **path_args)

        handler.__name__ = f"{view.__name__}_{method.lower()}"
        bp.add_url_rule(_flask_rule(path), endpoint=handler.__name__, view_func=handler, methods=[method])
        return handler

    return decorate

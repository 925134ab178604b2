"""GET /openapi.json (generated from the endpoint registry) and GET /docs (a page that renders it).

The document is built from the same :class:`api.endpoints.Endpoint` records and
:class:`api.schemas.Schema` objects that validate requests.
"""

from __future__ import annotations

import html
from typing import Any

from flask import Blueprint, Response, jsonify

from api.endpoints import REGISTRY, Endpoint

bp = Blueprint("openapi", __name__)

_SECURITY = {
    "cpaas": [{"account": [], "auth": []}],
    "konnect": [{"konnect_token": []}],
    "kairos": [],
    "public": [],
}

_ERROR_SHAPES = {
    "cpaas": {"type": "object", "properties": {"response": {"type": "object", "properties": {
        "message": {"type": "string"}, "field": {"type": "string"},
        "success": {"type": "string", "enum": ["false"]}}}}},
    "konnect": {"type": "object", "properties": {
        "status": {"type": "string", "enum": ["error", "rejected"]}, "error_code": {"type": "string"},
        "error_reason": {"type": "string"}, "field": {"type": "string"}}},
    "kairos": {"type": "object", "properties": {
        "status-code": {"type": "integer"}, "status-message": {"type": "string"},
        "status-name": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}},
}


def _operation(ep: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": ep.summary, "tags": [ep.tag],
                          "operationId": f"{ep.tag}_{ep.method.lower()}_{ep.path.strip('/').replace('/', '_')}"
                          .replace("{", "").replace("}", "").replace("-", "_")}
    params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in ep.path_params]
    if ep.schema is not None:
        body = ep.schema.openapi()
        if ep.source == "query":
            for name, prop in body["properties"].items():
                params.append({"name": name, "in": "query", "required": name in body.get("required", []),
                               "schema": prop})
        else:
            content = {"application/json": {"schema": body}}
            if ep.multipart:
                content["multipart/form-data"] = {"schema": {
                    "type": "object", "properties": {**body["properties"], "file": {
                        "type": "string", "format": "binary"}}}}
            op["requestBody"] = {"required": bool(body.get("required")), "content": content}
    if params:
        op["parameters"] = params
    if ep.dialect in _SECURITY:
        op["security"] = _SECURITY[ep.dialect]
    ok = ep.responses.get("200", {"description": "success"})
    responses: dict[str, Any] = {"200": ok}
    if ep.dialect in _ERROR_SHAPES:
        err = {"description": "error in the seed's shape",
               "content": {"application/json": {"schema": _ERROR_SHAPES[ep.dialect]}}}
        for code in ("400", "401", "404"):
            responses[code] = err
    op["responses"] = responses
    return op


def document() -> dict[str, Any]:
    """The OpenAPI 3.0 document for every registered endpoint."""
    paths: dict[str, Any] = {}
    for ep in REGISTRY:
        paths.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep)
    return {
        "openapi": "3.0.3",
        "info": {"title": "Vaani voice API", "version": "0.1.0",
                 "description": "Seed-compatible voice endpoints: seed 002 CPaaS (/api/...), Konnect "
                                "(/api/v1/Accounts/{account_id}/...) and Kairos (/kairos-apis/...)."},
        "paths": paths,
        "components": {"securitySchemes": {
            "account": {"type": "apiKey", "in": "header", "name": "account"},
            "auth": {"type": "apiKey", "in": "header", "name": "auth"},
            "konnect_token": {"type": "apiKey", "in": "header", "name": "Authorization"},
        }},
    }


@bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI document."""
    return jsonify(document())


@bp.get("/docs")
def docs_page():
    """A self-contained HTML page listing every endpoint and its fields (no CDN needed)."""
    rows = []
    for ep in REGISTRY:
        fields = ""
        if ep.schema is not None:
            items = []
            for f in ep.schema.fields:
                req = " <b>required</b>" if f.required else ""
                extra = f" one of: {', '.join(map(str, f.choices))}" if f.choices else ""
                items.append(f"<li><code>{html.escape(f.name)}</code> ({html.escape(f.kind)}){req}"
                             f"{html.escape(extra)} {html.escape(f.description)}</li>")
            fields = "<ul>" + "".join(items) + "</ul>"
        rows.append(f"<h3><code>{ep.method} {html.escape(ep.path)}</code></h3><p>{html.escape(ep.summary)}</p>"
                    f"{fields}")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>Vaani API</title></head><body>"
            "<h1>Vaani voice API</h1><p>Machine-readable: <a href='/openapi.json'>/openapi.json</a></p>"
            + "".join(rows) + "</body></html>")
    return Response(page, mimetype="text/html")

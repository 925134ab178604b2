"""``kml validate FILE|URL``: check a KooKoo, KML, TwiML or Plivo XML app the way the IVR runtime will read it.

Prints the instruction list as JSON and exits 0, or prints each problem as
``SOURCE:LINE:COLUMN: message`` (``--json``: a JSON object with ``errors``) and
exits 1. A URL is fetched with a GET, with timeouts and the same 1 MiB size
cap the runtime applies.
"""

from __future__ import annotations

import argparse
import json
import sys

import kml
from kml.model import KmlError, ParseIssue

CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 10


class FetchError(Exception):
    """The document could not be read."""


def fetch(source: str, max_bytes: int = kml.MAX_BYTES) -> bytes:
    """The bytes of a file path or http(s) URL, refusing more than ``max_bytes``."""
    if source.startswith(("http://", "https://")):
        import requests

        try:
            with requests.get(source, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S), stream=True,
                              headers={"Accept": "application/xml, text/xml"}) as resp:
                if resp.status_code != 200:
                    raise FetchError(f"the server answered HTTP {resp.status_code}")
                body = bytearray()
                for chunk in resp.iter_content(64 * 1024):
                    body += chunk
                    if len(body) > max_bytes:
                        raise FetchError(f"the server sent more than {max_bytes} bytes")
                return bytes(body)
        except requests.RequestException as exc:
            raise FetchError(f"cannot fetch the URL: {exc}") from None
    try:
        with open(source, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise FetchError(f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise FetchError(f"the file is larger than {max_bytes} bytes")
    return data


def _report(source: str, issues: list[ParseIssue], as_json: bool, out) -> None:
    if as_json:
        json.dump({"source": source, "valid": False, "errors": [i.to_dict() for i in issues]}, out,
                  ensure_ascii=False, indent=2)
        out.write("\n")
        return
    for issue in issues:
        where = ":".join(str(p) for p in (issue.line, issue.column) if p)
        out.write(f"{source}:{where + ': ' if where else ' '}{issue.message}\n")


def validate(source: str, dialect: str | None, lenient: bool, as_json: bool, out=None) -> int:
    """Validate one app; returns the exit status."""
    out = out or sys.stdout
    try:
        data = fetch(source)
        app = kml.parse(data, dialect, lenient=lenient)
    except FetchError as exc:
        _report(source, [ParseIssue(None, None, str(exc))], as_json, out)
        return 1
    except KmlError as exc:
        _report(source, exc.errors, as_json, out)
        return 1
    json.dump(app.to_dict(), out, ensure_ascii=False, indent=2)
    out.write("\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point ``kml``."""
    parser = argparse.ArgumentParser(prog="kml", description="KooKoo XML / KML / TwiML / Plivo XML app tools")
    sub = parser.add_subparsers(dest="command", required=True)
    val = sub.add_parser("validate", help="validate an app and print its instructions as JSON")
    val.add_argument("source", help="a file path or an http(s) URL")
    val.add_argument("--dialect", choices=kml.DIALECTS, help="default: detected from the document (docs/kml.md)")
    val.add_argument("--lenient", action="store_true", help="skip unknown tags/attributes with a warning")
    val.add_argument("--json", action="store_true", help="print errors as JSON too")
    args = parser.parse_args(argv)
    return validate(args.source, args.dialect, args.lenient, args.json)


if __name__ == "__main__":
    raise SystemExit(main())

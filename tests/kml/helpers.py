"""Small helpers for the kml tests: parse a snippet, or collect its error messages."""

from __future__ import annotations

import os

import pytest

import kml

APPS = os.path.join(os.path.dirname(__file__), "apps")


def kookoo(body: str, root_attrs: str = "", **kw) -> kml.App:
    """Parse ``body`` wrapped in ``<response>`` as KooKoo."""
    return kml.parse(f"<response{root_attrs}>{body}</response>".encode(), "kookoo", **kw)


def kmlapp(body: str, **kw) -> kml.App:
    """Parse ``body`` wrapped in ``<Response>`` as KML."""
    return kml.parse(f"<Response>{body}</Response>".encode(), "kml", **kw)


def errors_of(data: bytes | str, dialect: str | None = None, **kw) -> list[kml.ParseIssue]:
    """The ParseIssues a document is refused with (fails the test if it parses)."""
    with pytest.raises(kml.KmlError) as info:
        kml.parse(data, dialect, **kw)
    assert info.value.errors, "KmlError without errors"
    return info.value.errors


def messages(data: bytes | str, dialect: str | None = None, **kw) -> list[str]:
    """Just the messages of :func:`errors_of`."""
    return [e.message for e in errors_of(data, dialect, **kw)]


def app_file(name: str) -> bytes:
    """Bytes of a corpus app under tests/kml/apps/."""
    with open(os.path.join(APPS, name), "rb") as fh:
        return fh.read()

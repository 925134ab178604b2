"""Built-in KooKoo apps the API serves for content given as a plain media URL.

A Konnect ``media_url`` (or an inbound number with no app) still runs through
the one IVR interpreter: the number is pointed at ``/apps/play?media_url=...``,
which answers KooKoo XML that plays the file and hangs up.
"""

from __future__ import annotations

from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from flask import Blueprint, Response, request

bp = Blueprint("apps", __name__)


def _xml(body: str) -> Response:
    return Response(f'<?xml version="1.0" encoding="UTF-8"?>\n<response>{body}</response>\n',
                    mimetype="application/xml")


@bp.route("/apps/play", methods=["GET", "POST"])
def play():
    """Play ``media_url`` once, then hang up."""
    url = request.values.get("media_url", "")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return _xml("<playtext>Sorry, this message is not available.</playtext><hangup/>")
    return _xml(f"<playaudio>{escape(url)}</playaudio><hangup/>")


@bp.route("/apps/unconfigured", methods=["GET", "POST"])
def unconfigured():
    """An inbound number configured without content."""
    return _xml("<playtext>This number is not in service.</playtext><hangup/>")

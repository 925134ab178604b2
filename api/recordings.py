"""Call recordings served by URL: ``GET /recordings/<name>`` from RECORDINGS_DIR.

Only plain file names (and one level of sub-directory, as FreeSWITCH may
write ``<date>/<uuid>.wav``) inside the directory are served; ``..``,
absolute paths and symlinks leading outside answer 404.
"""

from __future__ import annotations

import os
import re

from flask import Blueprint, send_file

from api import store
from api.errors import ApiError

bp = Blueprint("recordings", __name__)

_SAFE = re.compile(r"^[A-Za-z0-9_\-.]+(/[A-Za-z0-9_\-.]+)?$")
_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg"}


def recording_path(name: str) -> str | None:
    """The file for ``name`` inside RECORDINGS_DIR, or None when it is unsafe or absent."""
    if not _SAFE.match(name) or any(part in (".", "..") or part.startswith(".") for part in name.split("/")):
        return None
    base = os.path.realpath(store.cfg().path(store.cfg().recordings_dir))
    path = os.path.realpath(os.path.join(base, name))
    if not path.startswith(base + os.sep) or not os.path.isfile(path):
        return None
    return path


def recording_url(name: str) -> str:
    """The public URL of a recording file name (as CDRs show it)."""
    return f"{store.cfg().base_url}/recordings/{name}" if name else ""


@bp.get("/recordings/<path:name>")
def get_recording(name: str):
    """Serve one recording file."""
    path = recording_path(name)
    if path is None:
        raise ApiError(f"no recording named {name[:100]!r}", kind="not_found")
    mimetype = _TYPES.get(os.path.splitext(path)[1].lower(), "application/octet-stream")
    return send_file(path, mimetype=mimetype, conditional=True)

"""App documents parsed once per distinct body: :func:`parse_document`.

A campaign sends thousands of calls to the same app, and most IVR apps
answer every caller with the same menu XML; parsing it again for each call
event was about a tenth of the runtime's CPU. The parsed :class:`kml.App` is
only read by the runtime (the interpreter and executor never change an
instruction), so one object can serve every call that got the same bytes.

The cache is small and bounded: at most :data:`MAX_ENTRIES` documents of at
most :data:`MAX_CACHED_BYTES` each (a per-call document, with the caller's
name in it, simply never hits). Documents that fail to parse are not cached.
"""

from __future__ import annotations

import kml

#: Distinct documents remembered; the oldest is dropped first.
MAX_ENTRIES = 512
#: Larger documents are parsed every time (they are rare, and memory stays bounded).
MAX_CACHED_BYTES = 16 * 1024

_cache: dict[bytes | tuple[str, bytes], kml.App] = {}


def parse_document(body: bytes, dialect: str | None = None) -> kml.App:
    """``kml.parse(body, dialect)`` (None: detected), reusing the result for a body seen before.

    Raises :class:`kml.KmlError` exactly as ``kml.parse`` does.
    """
    if len(body) > MAX_CACHED_BYTES:
        return kml.parse(body, dialect)
    key = body if dialect is None else (dialect, body)
    doc = _cache.get(key)
    if doc is None:
        doc = kml.parse(body, dialect)
        if len(_cache) >= MAX_ENTRIES:
            del _cache[next(iter(_cache))]
        _cache[key] = doc
    return doc

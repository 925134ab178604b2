"""Recording: where recordings are written and what they are published as, and the record instruction.

The :class:`ivr.execute.Executor`'s record instruction, as a mixin on the executor's state; <dial>'s
recording (:mod:`ivr.exec_dial`) names its files here too.
"""

from __future__ import annotations

import math
import os
import re

import kml
from ivr.exec_base import _DTMF_KEYS, _int

BEEP = "tone_stream://%(500,0,800)"


class RecordInstructions:
    """Record (a message, or Plivo's recordSession for the rest of the call) and the file names recordings get."""

    def _recording_path(self, name: str | None, fmt: str) -> tuple[str, str]:
        self._recordings += 1
        fmt = fmt if fmt in ("wav", "mp3") else "wav"
        base = re.sub(r"[^A-Za-z0-9_-]", "_", name or "")[:64] or f"rec{self._recordings}"
        fname = f"{self.session.uuid}-{base}.{fmt}"
        path = os.path.join(self.config.recordings_dir, fname)
        url = f"{self.config.public_url.rstrip('/')}/recordings/{fname}"
        return path, url

    def _do_record(self, r: kml.Record) -> dict:
        path, url = self._recording_path(r.name, r.format)
        if r.session:
            # Plivo recordSession: the rest of the call, in the background; the document carries on.
            self.heard("recording the rest of the call")
            self.session.execute("record_session", path)
            # Its length is known only when the call ends (the CDR's media duration bounds it).
            return {"media_url": url, "record_duration": "",
                    "recording": {"name": os.path.basename(path), "url": url, "duration_ms": None}}
        terminators = _DTMF_KEYS.sub("", r.finish_on_key or "") or "none"
        self.session.set_var("playback_terminators", terminators)
        if r.play_beep:
            self.session.execute("playback", BEEP)
        limit = max(1, math.ceil(r.max_duration_ms / 1000))
        hits = max(1, math.ceil(r.silence_ms / 1000))
        self.heard(f"recording up to {limit}s")
        done = self.session.execute("record", f"{path} {limit} 200 {hits}")
        ms = _int(done.headers.get("variable_record_ms"))
        if ms is None:
            secs = _int(done.headers.get("variable_record_seconds")) or 0
            ms = secs * 1000
        seconds = str(round(ms / 1000))
        return {"data": url, "duration": seconds, "media_url": url, "record_duration": seconds,
                "terminator": _DTMF_KEYS.sub("", done.headers.get("variable_playback_terminator_used") or ""),
                "hung_up": self.session.hung_up,
                "recording": {"name": os.path.basename(path), "url": url, "duration_ms": ms}}

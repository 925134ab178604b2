"""Media the simulator pretends to play or record: how long each source lasts, and WAV files.

Durations follow what FreeSWITCH would play: a WAV file's own length, an
``http(s)://`` URL fetched for real (as mod_http_cache would, and cached per
URL), ``tone_stream://`` and ``silence_stream://`` specs, ``file_string://``
lists, and text for ``speak``/``say``. A source that cannot be found is
reported as such (``FILE NOT FOUND``).
"""

from __future__ import annotations

import logging
import math
import os
import re
import struct
import tempfile
import threading
import wave

log = logging.getLogger("freeswitch.sim")

INFINITE = float("inf")
STANDARD_SOUND_SECONDS = 2.0   # a relative sound path we do not have (FreeSWITCH's sound packs)
SPEAK_CHARS_PER_SECOND = 14.0  # about 150 words a minute


class NotFound(Exception):
    """The media source does not exist or could not be fetched."""


_http_cache: dict[str, float] = {}
_http_lock = threading.Lock()


def strip_params(path: str) -> str:
    """Drop a leading ``{var=val,...}`` block (file parameters)."""
    if path.startswith("{"):
        end = path.find("}")
        if end > 0:
            return path[end + 1:]
    return path


def wav_seconds(path: str) -> float:
    """Length of a WAV file; other files: a size-based guess (128 kbit/s)."""
    try:
        with wave.open(path, "rb") as w:
            return w.getnframes() / float(w.getframerate() or 8000)
    except (wave.Error, EOFError, OSError):
        try:
            return max(0.5, os.path.getsize(path) * 8 / 128000.0)
        except OSError:
            raise NotFound(path) from None


def tone_stream_seconds(spec: str) -> float:
    """``tone_stream://%(on,off,freq...);loops=N`` → seconds (``loops=-1``: forever)."""
    body = spec[len("tone_stream://"):]
    loops = 1
    m = re.search(r"loops=(-?\d+)", body)
    if m:
        loops = int(m.group(1))
    if loops < 0:
        return INFINITE
    total_ms = 0
    for on, off in re.findall(r"%\((\d+),(\d+)", body):
        total_ms += int(on) + int(off)
    if total_ms == 0:
        total_ms = 1000
    return total_ms * max(1, loops) / 1000.0


def silence_seconds(spec: str) -> float:
    """``silence_stream://ms[,thresh]`` → seconds (``-1``: forever)."""
    body = spec[len("silence_stream://"):].split(",", 1)[0]
    try:
        ms = int(body)
    except ValueError:
        ms = 0
    return INFINITE if ms < 0 else ms / 1000.0


def text_seconds(text: str) -> float:
    """How long text takes to speak."""
    return max(0.5, len(text.strip()) / SPEAK_CHARS_PER_SECOND)


def http_seconds(url: str, timeout: float = 10.0) -> float:
    """Fetch ``url`` for real (once per URL, like http_cache) and return its audio length."""
    with _http_lock:
        cached = _http_cache.get(url)
    if cached is not None:
        return cached
    import requests

    try:
        resp = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        raise NotFound(f"{url}: {exc}") from None
    if resp.status_code >= 400:
        raise NotFound(f"{url}: HTTP {resp.status_code}")
    data = resp.content
    fd, tmp = tempfile.mkstemp(suffix=".audio")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        seconds = wav_seconds(tmp) if data else 0.5
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    with _http_lock:
        _http_cache[url] = seconds
    return seconds


#: Prefixes that only switch_ivr_play_file understands (it speaks/expands them itself); as a part of a
#: ``file_string://`` they are opened as files, which no format module accepts.
PLAY_FILE_ONLY = ("say:", "phrase:")


def file_string_seconds(body: str, sounds_dir: str = "") -> float:
    """A ``file_string://a!b!c`` list as mod_dptools' file_string format plays it.

    Each part is opened with ``switch_core_file_open``; a part that cannot be opened is
    skipped (FreeSWITCH logs ``Can't open file``), and only when no part opens does the whole
    source fail. ``say:``/``phrase:`` parts are never openable there: FreeSWITCH 1.10 logs
    ``Invalid file format [] for [<sounds>/say:...]`` for them.
    """
    total, opened = 0.0, False
    for part in body.split("!"):
        if not part:
            continue
        if part.lower().startswith(PLAY_FILE_ONLY):
            log.error("Invalid file format [] for [%s/%s]", sounds_dir or "sounds", part)
            log.error("Can't open file %s", part)
            continue
        try:
            total += source_seconds(part, sounds_dir)
        except NotFound:
            log.error("Can't open file %s", part)
            continue
        opened = True
    if not opened:
        raise NotFound(f"file_string://{body}: no part could be opened")
    return total


def source_seconds(path: str, sounds_dir: str = "") -> float:
    """How long ``path`` plays. Raises NotFound as FreeSWITCH's FILE NOT FOUND."""
    path = strip_params(path.strip())
    low = path.lower()
    if not path:
        raise NotFound("empty file name")
    if low.startswith("file_string://"):
        return file_string_seconds(path[len("file_string://"):], sounds_dir)
    if low.startswith("tone_stream://"):
        return tone_stream_seconds(path)
    if low.startswith("silence_stream://"):
        return silence_seconds(path)
    if low.startswith(("http://", "https://")):
        return http_seconds(path)
    if low.startswith(("http_cache://", "shout://")):
        inner = path.split("://", 1)[1]
        return http_seconds(inner if inner.startswith("http") else "http://" + inner)
    if low.startswith("say:"):
        return text_seconds(path[4:])
    if low.startswith(("local_stream://",)):
        return INFINITE
    if os.path.isabs(path):
        if not os.path.exists(path):
            raise NotFound(path)
        return wav_seconds(path)
    if sounds_dir:
        full = os.path.join(sounds_dir, path)
        if os.path.exists(full):
            return wav_seconds(full)
    return STANDARD_SOUND_SECONDS


def write_wav(path: str, talk_seconds: float, total_seconds: float, rate: int = 8000) -> None:
    """Write a mono 16-bit WAV: ``talk_seconds`` of a quiet voice-band tone, then silence to ``total_seconds``."""
    total = max(0, int(round(total_seconds * rate)))
    talk = max(0, min(total, int(round(talk_seconds * rate))))
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    # A warbling tone stands in for speech; a block is built once and repeated.
    block = bytearray()
    for i in range(rate):
        t = i / rate
        v = int(3000 * math.sin(2 * math.pi * (300 + 100 * math.sin(2 * math.pi * 3 * t)) * t))
        block += struct.pack("<h", v)
    silence = bytes(2 * rate)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        left = talk
        while left > 0:
            n = min(left, rate)
            w.writeframes(bytes(block[: 2 * n]))
            left -= n
        left = total - talk
        while left > 0:
            n = min(left, rate)
            w.writeframes(silence[: 2 * n])
            left -= n

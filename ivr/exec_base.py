"""What every part of the executor shares: its errors, its configuration, audio URLs and event times.

The instruction families (:mod:`ivr.exec_prompts`, :mod:`ivr.exec_input`, :mod:`ivr.exec_record`,
:mod:`ivr.exec_dial`) and :class:`ivr.execute.Executor` itself build on these; nothing here knows an
instruction.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from freeswitch.wire import Event
from ivr import tts

_NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$")
_URL_BAD = re.compile(r"[\s'\"{}\[\]<>|^\\!]")
_DTMF_KEYS = re.compile(r"[^0-9*#]")


class InstructionError(Exception):
    """An instruction that cannot be carried out (bad number, unsupported verb); the call records it."""


class ApplicationFailed(InstructionError):
    """FreeSWITCH ran the application and reported that it failed (a prompt that could not be played)."""


#: ``Application-Response`` values with which mod_dptools' applications report a failure
#: (``current_application_response``; playback and its kin).
FAILED_RESPONSES = frozenset({"FILE NOT FOUND", "PLAYBACK ERROR", "UNKNOWN ERROR"})


def application_failure(done: Event) -> str | None:
    """What went wrong, by the CHANNEL_EXECUTE_COMPLETE of an application, or None when nothing did."""
    response = (done.headers.get("Application-Response") or "").strip()
    if response in FAILED_RESPONSES or response.startswith("-ERR"):
        return response
    return None


@dataclass
class ExecConfig:
    """What the executor needs from configuration."""

    tts_engine: str = "flite"
    voice_map: dict[str, str] = field(default_factory=lambda: dict(tts.DEFAULT_VOICE_MAP))
    recordings_dir: str = "recordings"
    public_url: str = "http://127.0.0.1:8080"
    dial_endpoint: str = "sofia/gateway/vaani_trunk/{number}"
    default_caller_id: str = ""
    #: How numbers and the caller id are written in <dial> legs (DIALER_NUMBER_FORMAT; ivr/number_format.py).
    number_format: str = "e164"
    #: The carrier's country (DEFAULT_REGION): reads numbers written without a country code.
    region: str = "IN"
    #: How a SIP URI of TwiML ``Sip`` / Plivo ``User`` is dialled, and a user registered on the switch (``Client``).
    sip_endpoint: str = "sofia/vaani/{uri}"
    client_endpoint: str = "user/{name}"
    #: Where Recognize sends utterances (an ivr.speech.pool.SpeechPool); None: no speech engine.
    speech: object = None


def event_time(event: Event) -> float:
    """An event's FreeSWITCH timestamp in seconds (``Event-Date-Timestamp`` is in microseconds)."""
    try:
        return int(event.headers.get("Event-Date-Timestamp", "0")) / 1e6
    except ValueError:
        return 0.0


def media_arg(url: str) -> str:
    """The ``playback`` argument for an audio URL: http(s) through mod_http_cache, local files as they are."""
    url = (url or "").strip()
    if not url or _URL_BAD.search(url):
        raise InstructionError(f"unplayable audio URL {url!r}")
    if url.lower().startswith(("http://", "https://")):
        return "http_cache://" + url
    if url.startswith(("tone_stream://", "silence_stream://", "local_stream://", "/")):
        return url
    raise InstructionError(f"unsupported audio URL {url!r} (http, https or an absolute path)")


def dial_path(url: str, config: ExecConfig) -> str:
    """The file path of a recording given its public URL (same name under RECORDINGS_DIR)."""
    return os.path.join(config.recordings_dir, url.rsplit("/", 1)[-1])


def _remove(path: str | None) -> None:
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except ValueError:
        return None

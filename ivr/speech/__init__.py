"""Speech recognition behind one small interface: what the caller said, with a confidence.

Every engine is a :class:`Recognizer`: ``recognize(wav_path, hints=(), grammar=None, lang=None)``
returns a :class:`Result` (the words, a confidence in 0..1, how much audio it heard). The engine
shipped is PocketSphinx (:mod:`ivr.speech.pocketsphinx_engine`, offline, the US English model that
its Python package ships: nothing is downloaded at run time). Another engine — a cloud ASR, a
bigger local model — is plugged in by ``SPEECH_ENGINE=package.module:Class`` (or
``package.module.Class``): a class or factory called without arguments that returns an object
with the same ``recognize`` method (docs/speech.md).

The IVR runtime never runs an engine in its own process: decoding holds the GIL for the whole
utterance, which would stop every other call of the process. :mod:`ivr.speech.pool` keeps a few
worker subprocesses (:mod:`ivr.speech.worker`) and waits on them cooperatively. Transcripts
(:mod:`dialer.transcripts`) run the engine directly inside an RQ worker.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass
from typing import Any, Protocol, Sequence

#: Short names of the engines that come with Vaani (SPEECH_ENGINE).
ENGINES = {"pocketsphinx": "ivr.speech.pocketsphinx_engine:PocketSphinxRecognizer"}


class SpeechError(Exception):
    """Recognition could not be done (unreadable audio, an unknown grammar, an unsupported language, a dead engine)."""


@dataclass
class Result:
    """What was recognised: ``text`` (lower case words, empty when nothing was heard) and ``confidence`` 0..1."""

    text: str
    confidence: float = 0.0
    #: Seconds of audio that were decoded.
    audio_seconds: float = 0.0
    #: Seconds the engine took (wall clock), for the bench and the logs.
    seconds: float = 0.0
    engine: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the worker protocol, RQ job results)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Result":
        """The inverse of :meth:`to_dict` (unknown keys ignored)."""
        return cls(text=str(data.get("text") or ""), confidence=float(data.get("confidence") or 0.0),
                   audio_seconds=float(data.get("audio_seconds") or 0.0), seconds=float(data.get("seconds") or 0.0),
                   engine=str(data.get("engine") or ""))


class Recognizer(Protocol):
    """A speech recognition engine."""

    def recognize(self, wav_path: str, hints: Sequence[str] = (), grammar: str | None = None,
                  lang: str | None = None) -> Result:
        """Recognise the speech in the WAV file at ``wav_path``.

        ``hints``: phrases the caller is likely to say (TwiML/Plivo ``hints``); ``grammar``: a grammar
        the answer must fit (a built-in name such as ``digits``/``yesno``, or JSGF text); ``lang``: a
        BCP-47 language (``en-US``, ``en-IN``...; None: the engine's own). Raises :class:`SpeechError`.
        """
        ...


def load_recognizer(spec: str) -> Recognizer:
    """The engine named by ``spec``: a short name of :data:`ENGINES` or ``module:attr`` / ``module.attr``.

    ``attr`` is called without arguments (a class or a factory). Raises :class:`SpeechError` with a
    readable message when it cannot be imported.
    """
    spec = (spec or "pocketsphinx").strip()
    target = ENGINES.get(spec, spec)
    if ":" in target:
        module_name, _, attr = target.partition(":")
    else:
        module_name, _, attr = target.rpartition(".")
    if not module_name or not attr:
        raise SpeechError(f"SPEECH_ENGINE={spec!r}: expected pocketsphinx or package.module:Class")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise SpeechError(f"SPEECH_ENGINE={spec!r}: cannot load it ({exc})") from None
    engine = factory()
    if not callable(getattr(engine, "recognize", None)):
        raise SpeechError(f"SPEECH_ENGINE={spec!r}: {target} has no recognize() method")
    return engine

"""PocketSphinx: offline recognition with the US English model its Python package ships.

The engine FreeSWITCH's own mod_pocketsphinx uses, here run on the recording rather than inside the
switch. One :class:`PocketSphinxRecognizer` holds one decoder (model loaded once, ~0.3 s) and is used by
one thread at a time (the speech worker process, or an RQ worker's job).

* No grammar, no hints: the model's trigram language model (open vocabulary, as a transcript needs).
* ``grammar``: a JSGF search (:func:`ivr.speech.grammar.jsgf`); the answer always fits it.
* ``hints``: the utterance is decoded freely and against a grammar of the hint phrases. The free text is
  kept when it contains a hint (the language model agreed), or when the hint grammar is less confident than
  the free decoding or below :data:`HINT_CONFIDENCE` (the caller said something else); otherwise the hint is
  the answer. Hints are a bias, as TwiML's are, not a cage.

Confidence is the mean posterior probability of the recognised words (from the word lattice).
"""

from __future__ import annotations

import logging
import time
from typing import Sequence

from ivr.speech import Result, SpeechError, audio, grammar as g

log = logging.getLogger(__name__)

#: The hint grammar's answer wins over the free text only at this confidence or above (and above the free text's).
HINT_CONFIDENCE = 0.6
#: Languages the shipped model understands (any English is decoded with the US model).
LANGS = ("en",)


class PocketSphinxRecognizer:
    """A PocketSphinx decoder on the shipped en-US model."""

    name = "pocketsphinx"

    def __init__(self, **options):
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise SpeechError(f"pocketsphinx is not installed ({exc})") from None
        self.decoder = Decoder(samprate=audio.RATE, loglevel="ERROR", **options)
        self._default = self.decoder.current_search()
        self._searches: dict[str, str] = {}  # JSGF text → search name

    def recognize(self, wav_path: str, hints: Sequence[str] = (), grammar: str | None = None,
                  lang: str | None = None) -> Result:
        """See :class:`ivr.speech.Recognizer`."""
        if lang and lang.strip().lower().split("-")[0] not in LANGS:
            raise SpeechError(f"language {lang!r}: the shipped PocketSphinx model is English; "
                              f"set SPEECH_ENGINE to an engine that has it")
        started = time.perf_counter()
        pcm, seconds = audio.read_pcm16k(wav_path)
        pcm = audio.trim_silence(pcm)
        grammar_text = g.jsgf(grammar)
        if grammar_text is not None:
            text, conf = self._decode(pcm, self._search(grammar_text))
            text = g.as_reported(grammar, text)
        else:
            text, conf = self._decode(pcm, self._default)
            spoken = self._known(g.phrases(hints))
            if spoken and not any(_contains(text, p) for p in spoken):
                hint, hint_conf = self._decode(pcm, self._search(g.hints_jsgf(spoken)))
                if hint and hint_conf >= HINT_CONFIDENCE and hint_conf > conf:
                    text, conf = hint, hint_conf
        return Result(text=text, confidence=round(conf, 3) if text else 0.0, audio_seconds=round(seconds, 3),
                      seconds=round(time.perf_counter() - started, 3), engine=self.name)

    def _decode(self, pcm: bytes, search: str) -> tuple[str, float]:
        d = self.decoder
        if d.current_search() != search:
            d.activate_search(search)
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        if hyp is None or not hyp.hypstr.strip():
            return "", 0.0
        # Confidence: the mean posterior of the words (silences and fillers left out). The posterior of the
        # whole hypothesis is split between alignments that differ only in a trailing silence, which every
        # recording ends with: a sure "sales" scored 0.49 there.
        posteriors = [s.prob for s in (d.seg() or ()) if s.word and s.word[0] not in "<[+"]
        conf = sum(posteriors) / len(posteriors) if posteriors else float(hyp.prob)
        return " ".join(hyp.hypstr.split()), max(0.0, min(1.0, float(conf)))

    def _search(self, jsgf_text: str) -> str:
        """A JSGF search for this grammar (added once, then reused)."""
        name = self._searches.get(jsgf_text)
        if name is None:
            name = f"jsgf{len(self._searches)}"
            try:
                self.decoder.add_jsgf_string(name, jsgf_text)
            except (RuntimeError, ValueError) as exc:
                raise SpeechError(f"grammar not accepted by PocketSphinx ({exc}); words must be in its "
                                  f"dictionary") from None
            self._searches[jsgf_text] = name
        return name

    def _known(self, phrases: Sequence[str]) -> tuple[str, ...]:
        """Hint phrases whose words are all in the model's dictionary (others cannot be decoded: dropped)."""
        kept = []
        for phrase in phrases:
            if all(self.decoder.lookup_word(w) for w in phrase.split()):
                kept.append(phrase)
            else:
                log.info("hint %r dropped: a word is not in the PocketSphinx dictionary", phrase)
        return tuple(kept)


def _contains(text: str, phrase: str) -> bool:
    return f" {phrase} " in f" {' '.join(g.words(text))} "

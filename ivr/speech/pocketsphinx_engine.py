"""PocketSphinx: offline recognition with the US English model its Python package ships.

The engine FreeSWITCH's own mod_pocketsphinx uses, here run on the recording rather than inside the
switch. One :class:`PocketSphinxRecognizer` holds one decoder (model loaded once, ~0.3 s) and is used by
one thread at a time (the speech worker process, or an RQ worker's job).

* No grammar, no hints: the model's trigram language model (open vocabulary, as a transcript needs).
* ``grammar``: a JSGF search (:func:`ivr.speech.grammar.jsgf`); the answer always fits it.
* ``hints``: the utterance is decoded freely; when the free text contains none of the hint phrases, the
  hints are looked for anywhere in it by keyword spotting. Phrases spotted (posterior at least
  :data:`HINT_CONFIDENCE`) are the answer, in the order said ("i would like billing please", misheard
  freely as "i would like going please", gives "billing"); nothing spotted keeps the free text (the caller
  said something else) — unless the free text is doubtful (:data:`FREE_DOUBTFUL`: spotting misses a short
  answer said alone, "sales" heard freely as "failed"), when the answer is decoded as a whole against the
  hint phrases and a sure match (:data:`WHOLE_HINT_CONFIDENCE`) wins. Hints are a bias, as TwiML's are, not
  a cage: a grammar of the hints alone would force every answer into one of them.

Confidence is the mean posterior probability of the recognised words (from the word lattice).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from typing import Sequence

from ivr.speech import Result, SpeechError, audio, grammar as g

log = logging.getLogger(__name__)

#: A spotted hint replaces the free text only at this posterior or above.
HINT_CONFIDENCE = 0.6
#: Below this the free text is doubtful, and a whole-answer hint at WHOLE_HINT_CONFIDENCE or above replaces it.
FREE_DOUBTFUL = 0.3
WHOLE_HINT_CONFIDENCE = 0.9
#: Keyword-spotting threshold of a hint phrase (PocketSphinx's kws_threshold; lower finds more): 1e-(2 × its
#: phones), at most 1e-40 — "no" 1e-4, "sales" 1e-8, "check my balance" 1e-22.
KWS_EXPONENT_PER_PHONE = 2
KWS_MAX_EXPONENT = 40
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
                hint, hint_conf = self._spot(pcm, spoken)
                if hint and hint_conf >= HINT_CONFIDENCE:
                    text, conf = hint, hint_conf
                elif conf < FREE_DOUBTFUL:
                    # Nothing spotted and the free text is doubtful: a short answer said alone (spotting
                    # misses a bare "sales"), tried as a whole against the hints.
                    hint, hint_conf = self._decode(pcm, self._search(g.hints_jsgf(spoken)))
                    if hint and hint_conf >= WHOLE_HINT_CONFIDENCE:
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

    def _spot(self, pcm: bytes, phrases: Sequence[str]) -> tuple[str, float]:
        """Keyword spotting of the hint phrases anywhere in the utterance: the phrases found, in order."""
        key = "\n".join(phrases)
        name = self._searches.get(key)
        if name is None:
            name = f"kws{len(self._searches)}"
            with tempfile.NamedTemporaryFile("w", suffix=".kws", delete=False) as fh:
                fh.write("".join(f"{p} /{self._threshold(p)}/\n" for p in phrases))
            try:
                self.decoder.add_kws(name, fh.name)
            except (RuntimeError, ValueError) as exc:
                raise SpeechError(f"hints not accepted by PocketSphinx ({exc})") from None
            finally:
                os.unlink(fh.name)
            self._searches[key] = name
        d = self.decoder
        d.activate_search(name)
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        found: dict[str, float] = {}
        for s in d.seg() or ():
            word = s.word.strip()
            if word and word not in found:  # each phrase once, in the order first said
                found[word] = s.prob
        if not found:
            return "", 0.0
        return " ".join(found), sum(found.values()) / len(found)

    def _threshold(self, phrase: str) -> str:
        """A phrase's spotting threshold: a short one needs a strict one, or it is "found" everywhere."""
        phones = sum(len((self.decoder.lookup_word(w) or "x").split()) for w in phrase.split())
        return f"1e-{min(KWS_MAX_EXPONENT, KWS_EXPONENT_PER_PHONE * phones)}"

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

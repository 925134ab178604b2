"""Word error rate: how far a recognised text is from what was said (tests, the bench, the docs' figures)."""

from __future__ import annotations

from typing import Iterable

from ivr.speech.grammar import words


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Substitutions + deletions + insertions that turn ``ref`` into ``hyp`` (Levenshtein over words)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(pairs: Iterable[tuple[str, str]]) -> float:
    """Corpus WER of (reference, hypothesis) pairs: total word errors / total reference words."""
    errors = total = 0
    for ref, hyp in pairs:
        r, h = words(ref), words(hyp)
        errors += edit_distance(r, h)
        total += len(r)
    return errors / total if total else 0.0

"""Grammars and hints: what a dialect says about the expected answer, as an engine can use it.

* ``grammar`` (KooKoo ``<recognize grammar=...>``): a built-in name — ``digits`` (a sequence of
  spoken digits, reported as the digits: ``four five six`` → ``456``; ``digits:N`` exactly N of them,
  which the runtime asks for when KooKoo's ``length`` is above 1), ``yesno``/``boolean``
  (``yes``/``no``) — or a whole JSGF grammar (text starting with ``#JSGF``). Anything else is refused
  (:class:`~ivr.speech.SpeechError`) rather than ignored.
* ``hints`` (TwiML ``Gather hints``, Plivo ``GetInput hints``): phrases the caller is likely to say,
  comma-separated in the documents. An engine uses them as a bias, not a cage: PocketSphinx decodes the
  utterance both freely and against the hints (:mod:`ivr.speech.pocketsphinx_engine`).
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

from ivr.speech import SpeechError

DIGIT_WORDS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
               "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_YESNO = ("yes", "no", "yeah", "nope", "correct", "wrong")

_JSGF_HEADER = "#JSGF V1.0;\ngrammar {name};\n"
BUILTIN = {
    "digits": _JSGF_HEADER + "<digit> = " + " | ".join(DIGIT_WORDS) + ";\npublic <digits> = <digit>+;\n",
    "yesno": _JSGF_HEADER + "public <answer> = " + " | ".join(_YESNO) + ";\n",
}
BUILTIN["boolean"] = BUILTIN["yesno"]
BUILTIN["number"] = BUILTIN["digits"]

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` (punctuation dropped): how results and hints are compared."""
    return _WORD.findall((text or "").lower())


def phrases(hints: Iterable[str] | str) -> tuple[str, ...]:
    """Hints as clean phrases: a comma-separated string or a list; empty and duplicate ones dropped."""
    if isinstance(hints, str):
        hints = hints.split(",")
    seen: list[str] = []
    for hint in hints or ():
        phrase = " ".join(words(str(hint)))
        if phrase and phrase not in seen:
            seen.append(phrase)
    return tuple(seen)


def jsgf(grammar: str | None, name: str = "g") -> str | None:
    """The JSGF text of ``grammar`` (None: no grammar)."""
    if grammar is None or not grammar.strip():
        return None
    text = grammar.strip()
    if text.startswith("#JSGF"):
        return text + ("\n" if not text.endswith("\n") else "")
    base, _, count = text.lower().partition(":")
    if base in ("digits", "number") and count:
        if not count.isdigit() or not 1 <= int(count) <= 32:
            raise SpeechError(f"grammar {grammar!r}: digits:N needs N from 1 to 32")
        # Exactly N digits (KooKoo's length): JSGF has no counted repeat, so the rule is written out.
        return (_JSGF_HEADER.format(name=name) + "<digit> = " + " | ".join(DIGIT_WORDS) + ";\npublic <digits> = "
                + " ".join(["<digit>"] * int(count)) + ";\n")
    builtin = BUILTIN.get(text.lower())
    if builtin is None:
        raise SpeechError(f"unknown grammar {grammar!r}: use digits, yesno, boolean or a JSGF grammar")
    return builtin.format(name=name)


def hints_jsgf(hint_phrases: Sequence[str], name: str = "hints") -> str:
    """A JSGF grammar whose sentences are exactly the hint phrases."""
    body = " | ".join(hint_phrases)
    return _JSGF_HEADER.format(name=name) + f"public <hint> = {body};\n"


def as_reported(grammar: str | None, text: str) -> str:
    """The text as the app gets it: digits for the ``digits``/``number`` grammar, the words otherwise."""
    if grammar and grammar.strip().lower().partition(":")[0] in ("digits", "number"):
        return "".join(DIGIT_WORDS.get(w, w) for w in words(text))
    return text

"""Random far ends: distributions of durations and populations of outcomes, drawn deterministically.

A scenario value may be a number (fixed), a ``[min, max]`` range (uniform), or a distribution
(``{lognormal: {mean: 120, sigma: 0.5}}``, ``{uniform: [a, b]}``, ``{fixed: 30}``). A ``population``
says which share of the numbers a rule matches get which outcome (``{answer: 0.3, machine: 0.15,
busy: 0.1, no_answer: rest}``), each entry optionally with its own settings (``{share: 0.3, ring: [2, 9]}``).

Draws are deterministic: the outcome of a number depends only on the scenario's ``seed`` and the
number (a contact is the same person every time it is called), while the durations of one call
(ring, greeting, talk time) are drawn from the seed, the number and how many calls that number has
had in this run (an agent's talk time differs from call to call, the same way each run). The
random generators are seeded with strings, which ``random.Random`` hashes with SHA-512: the same
in every process, whatever ``PYTHONHASHSEED`` is.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Greeting lengths (seconds of speech) a population's humans and machines say when their entry
# does not set one: "hello?" against a voicemail greeting.
HUMAN_GREETING = (0.5, 1.5)
MACHINE_GREETING = (6.0, 15.0)


class DistError(ValueError):
    """A duration or population that cannot be understood (the scenario reports it)."""


@dataclass(frozen=True)
class Dist:
    """A duration distribution: ``fixed`` (a), ``uniform`` (a..b) or ``lognormal`` (mean a, log-sigma b)."""

    kind: str
    a: float
    b: float = 0.0

    def draw(self, rng: random.Random) -> float:
        """One value (never negative)."""
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        # lognormal with the given arithmetic mean: mean = exp(mu + sigma^2 / 2)
        mu = math.log(self.a) - self.b * self.b / 2.0
        return rng.lognormvariate(mu, self.b)


def _number(value: Any, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DistError(f"{what}: {value!r} is not a number") from None
    if v < 0 or math.isnan(v) or math.isinf(v):
        raise DistError(f"{what}: {value!r} must be a finite number ≥ 0")
    return v


def is_dist_spec(value: Any) -> bool:
    """Does a scenario value describe a distribution rather than one number?"""
    return isinstance(value, (list, tuple, dict))


def parse_dist(value: Any, what: str) -> Dist:
    """``[a, b]``, ``{uniform: [a, b]}``, ``{lognormal: {mean, sigma}}``, ``{fixed: x}`` or a number."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise DistError(f"{what}: a range is [min, max], got {value!r}")
        lo, hi = _number(value[0], what), _number(value[1], what)
        if hi < lo:
            raise DistError(f"{what}: range {value!r} has max < min")
        return Dist("uniform", lo, hi) if hi > lo else Dist("fixed", lo)
    if isinstance(value, dict):
        if len(value) != 1:
            raise DistError(f"{what}: one of uniform, lognormal, fixed, got {sorted(value)}")
        (kind, arg), = value.items()
        kind = str(kind).lower()
        if kind == "fixed":
            return Dist("fixed", _number(arg, what))
        if kind == "uniform":
            return parse_dist(list(arg) if isinstance(arg, (list, tuple)) else arg, what)
        if kind == "lognormal":
            if not isinstance(arg, dict) or set(arg) - {"mean", "sigma"} or "mean" not in arg:
                raise DistError(f"{what}: lognormal takes {{mean: seconds, sigma: log-space sigma}}")
            mean, sigma = _number(arg["mean"], what), _number(arg.get("sigma", 0.5), what)
            if mean <= 0:
                raise DistError(f"{what}: a lognormal's mean must be > 0")
            return Dist("lognormal", mean, sigma) if sigma > 0 else Dist("fixed", mean)
        raise DistError(f"{what}: unknown distribution {kind!r} (uniform, lognormal, fixed)")
    return Dist("fixed", _number(value, what))


@dataclass(frozen=True)
class Population:
    """Outcome shares (summing to 1) and the settings each outcome's entry adds."""

    entries: tuple[tuple[str, float, dict], ...]   # (outcome, cumulative share, settings)

    def pick(self, rng: random.Random) -> tuple[str, dict]:
        """The outcome (and its settings) of one draw."""
        x = rng.random()
        for outcome, upto, settings in self.entries:
            if x < upto:
                return outcome, settings
        outcome, _, settings = self.entries[-1]
        return outcome, settings


def parse_population(spec: Any, outcomes, what: str, check: Callable[[dict, str], None]) -> Population:
    """``{outcome: share | rest | {share: s, <settings>...}}``; ``check`` validates an entry's settings."""
    if not isinstance(spec, dict) or not spec:
        raise DistError(f"{what}: population is a mapping of outcome to share, e.g. {{answer: 0.3, busy: rest}}")
    fixed: list[tuple[str, float, dict]] = []
    rest: list[tuple[str, dict]] = []
    for name, raw in spec.items():
        outcome = str(name).strip().lower().replace("-", "_")
        if outcome not in outcomes:
            raise DistError(f"{what}: population outcome {name!r} is not one of {', '.join(outcomes)}")
        settings: dict = {}
        share: Any = raw
        if isinstance(raw, dict):
            settings = {k: v for k, v in raw.items() if k != "share"}
            share = raw.get("share", "rest")
            if "outcome" in settings or "population" in settings:
                raise DistError(f"{what}: population entry {name!r} cannot set outcome or population")
            check(settings, f"{what}: population {name}")
        if isinstance(share, str) and share.strip().lower() == "rest":
            rest.append((outcome, settings))
            continue
        fixed.append((outcome, _number(share, f"{what}: population {name}"), settings))
    total = sum(s for _, s, _ in fixed)
    if total > 1.0 + 1e-9:
        raise DistError(f"{what}: population shares add up to {total:g} (> 1)")
    if len(rest) > 1:
        raise DistError(f"{what}: only one population entry can be 'rest'")
    if not rest and abs(total - 1.0) > 1e-6:
        raise DistError(f"{what}: population shares add up to {total:g}; make them 1 or mark one 'rest'")
    entries = fixed + [(o, 1.0 - total, s) for o, s in rest]
    cumulative, upto = [], 0.0
    for outcome, share, settings in entries:
        upto += share
        cumulative.append((outcome, upto, settings))
    return Population(tuple(cumulative))


def outcome_rng(seed: Any, number: str) -> random.Random:
    """The generator a number's population outcome is drawn from (the seed and the number only)."""
    return random.Random(f"vaani-sim:{seed}:{number}")


def call_rng(seed: Any, number: str, nth: int) -> random.Random:
    """The generator of one call's durations: the seed, the number and the call's rank to it in this run."""
    return random.Random(f"vaani-sim:{seed}:{number}:{nth}")


def default_greeting(outcome: str) -> Dist | None:
    """What a population's humans and machines say when their entry sets no greeting."""
    if outcome == "answer":
        return Dist("uniform", *HUMAN_GREETING)
    if outcome == "machine":
        return Dist("uniform", *MACHINE_GREETING)
    return None


def conversation_rng(draw_key: tuple | None, k: int) -> random.Random:
    """The generator of a persistent agent's k-th conversation on one call (``draw_key``: seed, number, nth)."""
    seed, number, nth = draw_key or ("0", "", 0)
    return random.Random(f"vaani-sim:{seed}:{number}:{nth}:conversation:{k}")

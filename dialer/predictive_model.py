"""The probability helpers of the predictive controller (:mod:`dialer.predictive`): pure functions, no state.

* when a ringing call becomes a live answer (:func:`live_chance`, Bayes on its age);
* when an agent on a call is free again (:func:`talk_free_chance`, the learned talk-time distribution
  conditioned on the elapsed talk, or renewal theory when the elapsed time is unknown);
* the binomial sums the shortfall model is made of (:func:`binomial`, :func:`shortfall`).

They take the learned statistics as an object with ``answer_rate``, ``ring_seconds``, ``attempt_seconds``,
``talk_seconds``, ``talk_log_var`` and ``wrap_seconds`` (:class:`dialer.predictive.DialStats`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

RING_SHAPE = 4  # the gamma shape of ring times to a live answer (coefficient of variation 0.5)
DEFAULT_TALK_LOG_VAR = 0.64  # lognormal sigma 0.8 (coefficient of variation ≈ 0.95) until talks are learned
_TAIL = 1e-12  # binomial probabilities below this are dropped


def survival_live(age: float, stats) -> float:
    """P(a live-bound call has not answered ``age`` s after launch): gamma of shape RING_SHAPE, learned mean."""
    x = max(0.0, age) * RING_SHAPE / max(0.1, stats.ring_seconds)
    term, total = 1.0, 1.0
    for j in range(1, RING_SHAPE):
        term *= x / j
        total += term
    return total * math.exp(-x)


def live_chance(age: float, stats, within: float = math.inf) -> float:
    """The probability that a call still in flight ``age`` seconds after its launch becomes a live answer
    (within the next ``within`` seconds).

    Bayes on survival: p·(S_live(age) − S_live(age + within)) / (p·S_live(age) + (1−p)·S_other(age)).
    Ring times to a live answer are peaked (people pick up after two to four rings): a gamma of shape
    :data:`RING_SHAPE` with the learned mean; the other attempts (busy, machines, no answer until the
    timeout) are taken as exponential with their learned mean. Both need only the means the dialer learns.
    """
    p = min(1.0, max(0.0, stats.answer_rate))
    if p <= 0.0:
        return 0.0
    s_now = survival_live(age, stats)
    later = 0.0 if within == math.inf else survival_live(age + within, stats)
    other = max(1.0, (stats.attempt_seconds - p * stats.ring_seconds) / (1.0 - p)) if p < 1.0 else 1.0
    den = p * s_now + (1.0 - p) * math.exp(-max(0.0, age) / other)
    return p * (s_now - later) / den if den > 0.0 else 0.0


def _lognormal_tail(x: float, mu: float, sigma: float) -> float:
    # P(T > x) for log T ~ N(mu, sigma²); erfc keeps the far tail accurate
    if x <= 0.0:
        return 1.0
    return 0.5 * math.erfc((math.log(x) - mu) / (sigma * math.sqrt(2.0)))


def talk_free_chance(elapsed: float | None, horizon: float, stats) -> float:
    """The chance an agent on a call is free (talk ended, wrap-up done) within ``horizon`` seconds.

    With the elapsed talk time known: P(T ≤ e + s | T > e), s = horizon − mean wrap-up, T lognormal with the
    learned mean and log-variance. A talk's hazard is far from constant (few calls end in their first 20 s,
    a long one is likelier to be near its end than a fresh one), so the elapsed time tells a lot. Without it
    (``elapsed`` None): renewal theory, a talk in progress at a random instant ends within s with
    probability ≈ s / mean talk.
    """
    spare = horizon - stats.wrap_seconds
    if spare <= 0.0:
        return 0.0
    mean = max(1.0, stats.talk_seconds)
    if elapsed is None:
        return min(1.0, spare / mean)
    return _conditional(max(0.0, elapsed), spare, mean, max(0.01, getattr(stats, "talk_log_var",
                                                                           DEFAULT_TALK_LOG_VAR)))


@functools.lru_cache(maxsize=16384)
def _conditional(elapsed: float, spare: float, mean: float, var: float) -> float:
    # Cached: the controller asks every 0.2 s with the same binned elapsed times, horizons and statistics.
    sigma = math.sqrt(var)
    mu = math.log(mean) - var / 2.0
    alive = _lognormal_tail(elapsed, mu, sigma)
    if alive <= 1e-12:  # far beyond any learned talk: it ends any moment
        return 1.0
    return min(1.0, max(0.0, (alive - _lognormal_tail(elapsed + spare, mu, sigma)) / alive))


TALK_BIN = 2.0  # talkers are grouped by elapsed time to this many seconds (100 talkers, 14 horizons: cheap)


def talker_bins(elapsed: Sequence[float | None]) -> dict[float | None, int]:
    """Talkers grouped by elapsed time (to :data:`TALK_BIN` s; None: unknown), for :func:`free_talkers`."""
    bins: dict[float | None, int] = {}
    for e in elapsed:
        b = None if e is None else round(max(0.0, e) / TALK_BIN) * TALK_BIN
        bins[b] = bins.get(b, 0) + 1
    return bins


def free_talkers(bins: dict[float | None, int], horizon: float, stats) -> tuple[int, list[float]]:
    """The number of talkers (:func:`talker_bins`) free within ``horizon`` as (first value, pmf): the
    Poisson-binomial of their chances, approximated by the binomial of the same mean and variance."""
    mean = var = 0.0
    n = 0
    for e, k in bins.items():
        c = talk_free_chance(e, horizon, stats)
        mean += k * c
        var += k * c * (1.0 - c)
        n += k
    if mean <= 1e-12:
        return 0, [1.0]
    if mean - var <= 1e-12:  # every chance ≈ 1: all of them free
        return round(mean), [1.0]
    trials = min(n, max(1, round(mean * mean / (mean - var))))
    return binomial(trials, min(1.0, mean / trials))


def expected_free_talkers(bins: dict[float | None, int], horizon: float, stats) -> float:
    """The expected number of talkers (:func:`talker_bins`) free within ``horizon``."""
    return sum(k * talk_free_chance(e, horizon, stats) for e, k in bins.items())


def shortfall(mean: float, var: float, free: float, extra: tuple[int, list[float]] = (0, [1.0])) -> float:
    """E[(X − free − Y)⁺]: X the binomial with this mean and variance (a Poisson-binomial's approximation),
    Y the agents freed by talks ending (``extra``: first value and pmf)."""
    if mean <= 0.0:
        return 0.0
    if mean - var > 1e-9:
        trials = max(1, round(mean * mean / (mean - var)))
    else:  # variance ≥ mean: Poisson-like
        trials = max(1, math.ceil(mean * 1e4))
    lo, pmf = binomial(trials, min(1.0, mean / trials))
    y0, ypmf = extra
    return sum(w * overflow(lo, pmf, free + y0 + j) for j, w in enumerate(ypmf))


def binomial(n: int, p: float) -> tuple[int, list[float]]:
    """Bin(n, p) as (first k, pmf from it), tails below _TAIL dropped; computed outwards from the mode."""
    if n <= 0 or p <= 0.0:
        return 0, [1.0]
    if p >= 1.0:
        return n, [1.0]
    mode = min(n, int((n + 1) * p))
    log_mode = (math.lgamma(n + 1) - math.lgamma(mode + 1) - math.lgamma(n - mode + 1)
                + mode * math.log(p) + (n - mode) * math.log1p(-p))
    odds = p / (1.0 - p)
    up, x, k = [], math.exp(log_mode), mode
    while k < n and x > _TAIL:  # P(k+1) = P(k) (n-k)/(k+1) p/(1-p)
        x *= (n - k) / (k + 1) * odds
        k += 1
        up.append(x)
    down, x, k = [], math.exp(log_mode), mode
    while k > 0 and x > _TAIL:
        x *= k / (n - k + 1) / odds
        k -= 1
        down.append(x)
    return mode - len(down), down[::-1] + [math.exp(log_mode)] + up


def overflow(lo: int, pmf: list[float], available: float) -> float:
    """E[(X − available)⁺], linear between the integers around a fractional ``available``."""
    if available < lo:  # all of X is above: E[X] − available
        return sum((lo + i) * x for i, x in enumerate(pmf)) - available
    a = math.floor(available)
    frac = available - a

    def excess(c: int) -> float:
        return sum((lo + i - c) * x for i, x in enumerate(pmf) if lo + i > c)

    low = excess(a)
    return low if frac == 0 else low + frac * (excess(a + 1) - low)

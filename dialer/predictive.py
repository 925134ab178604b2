"""The dial-mode controller of agent campaigns: how many calls to launch now, and the abandonment guard.

Pure and deterministic: no Redis, no SQL, no clock. The dialer's lane and
``bench/bench_predictive.py`` pass in the same inputs (agents, calls in
flight, learned statistics, abandonment so far) and get the same answer, so
the benchmark measures the code that dials.

Modes (see docs/agents.md, "The controller"):

* ``preview`` — dial exactly the contacts agents have accepted.
* ``progressive`` — one call per ready agent not already covered by a call
  in flight (dial level ≤ 1: an answered person always finds an agent).
* ``predictive`` — the largest number of calls such that the expected number
  of live answers finding no agent, divided by the expected live answers,
  stays under a risk budget. Live answers among the calls in flight and the
  new ones are binomial; the agents free by the time they answer are the
  ready ones, the wrap-ups ending within the ring time and the talkers
  expected to finish by then. The budget follows the measured abandonment
  (feedback towards a set point below the target). It falls back to
  progressive while statistics are too few or once the measured abandonment
  reaches the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

# --- The rules, in one place -------------------------------------------------------------------
FTC_WINDOW_SECONDS = 30 * 86400  # US FTC TSR 310.4(b)(4)(i): abandonment measured per campaign over 30 days
OFCOM_WINDOW_SECONDS = 86400  # UK Ofcom persistent-misuse policy: over 24 hours
REDIAL_BLOCK_SECONDS = 72 * 3600  # an abandoned number is not called again within 72 h (except straight to an agent)
CONNECT_SECONDS = 2.0  # an answered person not connected to an agent within 2 s is abandoned
DEFAULT_TARGET = 0.03  # the FTC's and Ofcom's 3 %
MAX_TARGET = 0.03  # a campaign may ask for less, never more

MODES = ("preview", "progressive", "predictive")

# --- The controller's constants ----------------------------------------------------------------
MIN_ATTEMPTS = 100  # finished attempts before the answer rate is trusted (±0.046 on 0.3 at 100)
CENSORING_RATIO = 3  # and finished attempts at least 3 × those in flight (see decide)
MIN_LIVE = 20  # live answers before ring and handle times are trusted
SETPOINT = 0.8  # the measured abandonment the feedback steers to, as a fraction of the target
RATIO = 1.5  # the expected abandoned share of the pipeline's live answers, as a fraction of the target
HEADROOM_SHARE = 0.5  # the share of the remaining headroom (in abandoned calls) the pipeline may risk
MAX_DIAL_LEVEL = 12.0  # never more calls in flight per agent counted available (a bad estimate's ceiling)
LOOKAHEAD_SECONDS = 60.0  # the wrap-ups worth passing in: those ending within this many seconds
RING_SHAPE = 4  # the gamma shape of ring times to a live answer (coefficient of variation 0.5)
_TAIL = 1e-12  # binomial probabilities below this are dropped


@dataclass(frozen=True)
class DialStats:
    """A campaign's learned statistics (exponentially weighted after a running mean; see :func:`observe_attempt`).

    ``answer_rate`` is live persons per finished attempt (machines and no
    answers count against it); ``ring_seconds`` the mean time from dial to a
    live answer; ``attempt_seconds`` the mean time any attempt stays in
    flight (until it is live-answered or ends); ``talk_seconds`` and
    ``wrap_seconds`` make the handle time.
    """

    answer_rate: float = 0.0
    ring_seconds: float = 10.0
    attempt_seconds: float = 20.0
    talk_seconds: float = 120.0
    wrap_seconds: float = 10.0
    attempts: int = 0
    live: int = 0

    @property
    def handle_seconds(self) -> float:
        """Mean handle time: talk plus wrap-up."""
        return self.talk_seconds + self.wrap_seconds

    @property
    def enough(self) -> bool:
        """Whether there are enough samples to dial predictively."""
        return self.attempts >= MIN_ATTEMPTS and self.live >= MIN_LIVE


ANSWER_WINDOW = 200  # the answer rate's EWMA weighs like the last ~200 attempts
TIME_WINDOW = 50  # ring, talk and wrap-up times like the last ~50 samples


def _ewma(old: float, new: float, n: int, window: int) -> float:
    # a running mean for the first `window` samples (no bias from the default), then weight 1/window
    return old + (new - old) / min(n, window)


def observe_attempt(stats: DialStats, live: bool, in_flight_seconds: float) -> DialStats:
    """Fold one finished attempt in: ``live`` if a person answered; ``in_flight_seconds`` from dial to answer or end."""
    n = stats.attempts + 1
    s = replace(stats, attempts=n, answer_rate=_ewma(stats.answer_rate, 1.0 if live else 0.0, n, ANSWER_WINDOW),
                attempt_seconds=_ewma(stats.attempt_seconds, max(0.0, in_flight_seconds), n, ANSWER_WINDOW))
    if live:
        s = replace(s, live=s.live + 1, ring_seconds=_ewma(s.ring_seconds, max(0.0, in_flight_seconds),
                                                           s.live + 1, TIME_WINDOW))
    return s


def observe_handle(stats: DialStats, talk_seconds: float, wrap_seconds: float, handled: int) -> DialStats:
    """Fold one connected call's talk and wrap-up in; ``handled`` counts the calls folded so far, this one included."""
    n = max(1, handled)
    return replace(stats, talk_seconds=_ewma(stats.talk_seconds, max(0.0, talk_seconds), n, TIME_WINDOW),
                   wrap_seconds=_ewma(stats.wrap_seconds, max(0.0, wrap_seconds), n, TIME_WINDOW))


def abandonment_rate(abandoned: int, live_answered: int) -> float:
    """Abandoned ÷ live-answered (0.0 before the first live answer), as the FTC and Ofcom define it."""
    return abandoned / live_answered if live_answered > 0 else 0.0


@dataclass(frozen=True)
class Abandonment:
    """A campaign's abandoned and live-answered counts over the rolling 24 h (Ofcom) and 30 days (FTC)."""

    abandoned_24h: int = 0
    live_24h: int = 0
    abandoned_30d: int = 0
    live_30d: int = 0

    def worst(self) -> float:
        """The higher of the two windows' rates: the guard holds if neither reaches the target."""
        return max(abandonment_rate(self.abandoned_24h, self.live_24h),
                   abandonment_rate(self.abandoned_30d, self.live_30d))


@dataclass(frozen=True)
class Agents:
    """The campaign's agents at the decision: ``ready`` now; ``wrapping`` seconds until each agent in wrap-up
    is available (those within :data:`LOOKAHEAD_SECONDS` suffice); ``talking`` agents on a call."""

    ready: int = 0
    wrapping: Sequence[float] = ()
    talking: int = 0


@dataclass(frozen=True)
class Calls:
    """Calls in flight: ``dialing`` (dialing or ringing, or answered and awaiting the AMD verdict) and
    ``waiting`` (a person answered, no agent yet). ``ages``, when known, holds the seconds since each
    dialing call was launched (then ``dialing`` is ignored): a young call is far likelier to become a live
    answer than one that has rung for 20 s, and without ages a burst of fresh calls would be undercounted."""

    dialing: int = 0
    waiting: int = 0
    ages: Sequence[float] | None = None

    @property
    def in_flight(self) -> int:
        """The number of dialing calls."""
        return len(self.ages) if self.ages is not None else self.dialing


@dataclass(frozen=True)
class Decision:
    """How many new calls to launch now; ``dial_level`` (calls in flight after the launch per agent counted
    available) and ``reason`` (``preview``, ``progressive``, ``learning``, ``guard``, ``predictive``) for stats."""

    launch: int
    dial_level: float
    reason: str
    budget: float = 0.0  # the risk budget used (predictive only)


def decide(mode: str, agents: Agents, calls: Calls, stats: DialStats, abandonment: Abandonment = Abandonment(),
           target: float = DEFAULT_TARGET, accepted: int = 0, limit: int | None = None) -> Decision:
    """How many calls the campaign launches now.

    ``accepted`` is, in preview mode, the contacts agents accepted and not yet
    dialed; ``limit`` an upper bound from elsewhere (contacts left, caps).
    ``target`` is capped at :data:`MAX_TARGET`. Never negative.
    """
    if mode not in MODES:
        raise ValueError(f"unknown dial mode {mode!r}")
    target = min(max(0.0, target), MAX_TARGET)
    cap = (lambda n: max(0, n if limit is None else min(n, limit)))
    if mode == "preview":
        n = cap(accepted)
        return Decision(n, _level(calls.dialing + n, agents.ready), "preview")
    dialing = calls.in_flight
    progressive = cap(agents.ready - dialing - calls.waiting)
    if mode == "progressive":
        return Decision(progressive, _level(dialing + progressive, agents.ready), "progressive")
    # Attempts are learned when they end, so the first ones are the short ones (busy, quick answers) and
    # overstate the answer rate until the no-answers, ringing to the timeout, have ended too: wait until the
    # finished attempts are also CENSORING_RATIO times those still in flight.
    if not stats.enough or stats.answer_rate <= 0.0 or stats.attempts < CENSORING_RATIO * dialing:
        return Decision(progressive, _level(dialing + progressive, agents.ready), "learning")
    if target <= 0.0 or abandonment.worst() >= target:
        return Decision(progressive, _level(dialing + progressive, agents.ready), "guard")
    budget, headroom = risk_budget(abandonment, target)
    available = agents_available(agents, stats, stats.ring_seconds + CONNECT_SECONDS) - calls.waiting
    n = max(progressive, cap(predictive_launch(calls, agents, stats, budget, headroom)))
    return Decision(n, _level(dialing + n, available), "predictive", budget)


def _level(in_flight: int, available: float) -> float:
    return round(in_flight / max(1.0, available), 3)


def risk_budget(abandonment: Abandonment, target: float) -> tuple[float, float]:
    """The risk the calls in flight may carry: (share of their live answers, absolute headroom).

    The share is ``RATIO`` × target. The headroom is the feedback: the abandonments the worst window can
    still take before its rate passes the set point (``SETPOINT`` × target), of which the pipeline may
    risk ``HEADROOM_SHARE``. It is integral control on the very counts the rule measures: a run of
    abandonments (the model errs: answers and agents are not really simultaneous) closes it, live answers
    without abandonment reopen it, so the measured rate settles under the set point instead of riding the
    guard.
    """
    headroom = min(SETPOINT * target * live - abandoned
                   for abandoned, live in ((abandonment.abandoned_24h, abandonment.live_24h),
                                           (abandonment.abandoned_30d, abandonment.live_30d)))
    return RATIO * target, HEADROOM_SHARE * headroom


def agents_available(agents: Agents, stats: DialStats, horizon: float) -> float:
    """Agents expected free within ``horizon`` seconds: ready, wrap-ups ending by then, and talkers whose
    remaining talk plus wrap-up fits (see :func:`_finishing`)."""
    return _free_by(agents, stats, horizon)[0] + agents.talking * _finishing(agents, stats, horizon)


def _free_by(agents: Agents, stats: DialStats, horizon: float) -> tuple[int, int]:
    # the agents certainly free by the horizon (ready, or wrap-up ending by then), and the talkers
    return agents.ready + sum(1 for s in agents.wrapping if s <= horizon), agents.talking


def _finishing(agents: Agents, stats: DialStats, horizon: float) -> float:
    """The chance a talker is free within ``horizon``: renewal theory, a talk in progress at a random
    instant ends within t with probability ≈ t / mean talk; then its wrap-up follows."""
    spare = horizon - stats.wrap_seconds
    return min(1.0, spare / max(1.0, stats.talk_seconds)) if spare > 0 else 0.0


def _survival_live(age: float, stats: DialStats) -> float:
    """P(a live-bound call has not answered ``age`` s after launch): gamma of shape RING_SHAPE, learned mean."""
    x = max(0.0, age) * RING_SHAPE / max(0.1, stats.ring_seconds)
    term, total = 1.0, 1.0
    for j in range(1, RING_SHAPE):
        term *= x / j
        total += term
    return total * math.exp(-x)


def live_chance(age: float, stats: DialStats, within: float = math.inf) -> float:
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
    s_now = _survival_live(age, stats)
    later = 0.0 if within == math.inf else _survival_live(age + within, stats)
    other = max(1.0, (stats.attempt_seconds - p * stats.ring_seconds) / (1.0 - p)) if p < 1.0 else 1.0
    den = p * s_now + (1.0 - p) * math.exp(-max(0.0, age) / other)
    return p * (s_now - later) / den if den > 0.0 else 0.0


_CHECKPOINTS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0)  # × the mean ring time: when answers and agents are compared
_AGE_BIN = 0.5  # calls in flight are grouped by age to this many seconds (the sums are then cheap)


def predictive_launch(calls: Calls, agents: Agents, stats: DialStats, budget: float,
                      headroom: float = math.inf) -> int:
    """The most new calls such that the expected live answers finding no agent stay ≤ ``budget`` × the
    expected live answers and ≤ ``headroom`` (abandoned calls the rule can still take, see :func:`risk_budget`).

    Answers and agents are compared at checkpoints t after now (fractions of the mean ring time): the live
    answers by t (each call in flight by :func:`live_chance` of its age, each new call with
    ``answer_rate`` × P(ring ≤ t); the sum approximated by the binomial of the same mean and variance)
    against the agents free by t + 2 s (:func:`agents_available`), less the persons already waiting.
    The expected shortfall is that of the worst checkpoint. Without ``calls.ages`` every call in flight is
    taken as half an attempt old. The largest feasible n is found by doubling then bisection.
    """
    p_new = min(1.0, stats.answer_rate)
    ages = calls.ages if calls.ages is not None else [stats.attempt_seconds / 2.0] * calls.dialing
    bins: dict[float, int] = {}
    for a in ages:
        b = round(a / _AGE_BIN) * _AGE_BIN
        bins[b] = bins.get(b, 0) + 1
    eventual = sum(k * live_chance(a, stats) for a, k in bins.items())
    points = []  # (old mean, old variance, new call's chance, agents free) per checkpoint
    for f in _CHECKPOINTS:
        t = f * stats.ring_seconds
        chances = [(live_chance(a, stats, t), k) for a, k in bins.items()]
        mean = sum(c * k for c, k in chances)
        var = sum(c * (1.0 - c) * k for c, k in chances)
        # Talkers finishing are random too: Bin(talking, q) more agents, kept apart from the answers (whose
        # right tail is what abandons) and summed over in _shortfall.
        sure, talking = _free_by(agents, stats, t + CONNECT_SECONDS)
        q = _finishing(agents, stats, t + CONNECT_SECONDS)
        points.append((mean, var, p_new * (1.0 - _survival_live(t, stats)), sure - calls.waiting,
                       _binomial(talking, q)))
    horizon_free = agents_available(agents, stats, _CHECKPOINTS[-1] * stats.ring_seconds + CONNECT_SECONDS) \
        - calls.waiting
    if horizon_free <= 0:
        return 0
    most = max(0, int(MAX_DIAL_LEVEL * horizon_free) - len(ages))

    base = [_shortfall(m, v, free, extra) for m, v, c, free, extra in points]

    def ok(n: int) -> bool:
        # A checkpoint already short from the calls in flight (new calls cannot answer that soon) does not
        # stop dialing; new calls may just not add to it.
        allowed = min(budget * (eventual + n * p_new), headroom)
        return all(_shortfall(m + n * c, v + n * c * (1.0 - c), free, extra) <= max(allowed, b0 + 1e-9)
                   for (m, v, c, free, extra), b0 in zip(points, base))

    if most == 0 or headroom <= 0:
        return 0
    lo, hi = 0, 1
    while hi <= most and ok(hi):
        lo, hi = hi, hi * 2
    hi = min(hi, most + 1)
    while hi - lo > 1:  # ok(lo), not ok(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def _shortfall(mean: float, var: float, free: float, extra: tuple[int, list[float]] = (0, [1.0])) -> float:
    """E[(X − free − Y)⁺]: X the binomial with this mean and variance (a Poisson-binomial's approximation),
    Y the agents freed by talks ending (``extra``: first value and pmf)."""
    if mean <= 0.0:
        return 0.0
    if mean - var > 1e-9:
        trials = max(1, round(mean * mean / (mean - var)))
    else:  # variance ≥ mean: Poisson-like
        trials = max(1, math.ceil(mean * 1e4))
    lo, pmf = _binomial(trials, min(1.0, mean / trials))
    y0, ypmf = extra
    return sum(w * _overflow(lo, pmf, free + y0 + j) for j, w in enumerate(ypmf))


def _binomial(n: int, p: float) -> tuple[int, list[float]]:
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


def _overflow(lo: int, pmf: list[float], available: float) -> float:
    """E[(X − available)⁺], linear between the integers around a fractional ``available``."""
    if available < lo:  # all of X is above: E[X] − available
        return sum((lo + i) * x for i, x in enumerate(pmf)) - available
    a = math.floor(available)
    frac = available - a

    def excess(c: int) -> float:
        return sum((lo + i - c) * x for i, x in enumerate(pmf) if lo + i > c)

    low = excess(a)
    return low if frac == 0 else low + frac * (excess(a + 1) - low)

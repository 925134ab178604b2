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
  expected to finish by then (from their elapsed talk time when the ACD
  passes it; probability helpers in :mod:`dialer.predictive_model`). The
  budget is calibrated (the model underestimates) and follows the measured
  abandonment through a smooth gain with a prior for new campaigns. It falls
  back to progressive while statistics are too few or once the measured
  abandonment reaches the target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from dialer.predictive_model import (
    DEFAULT_TALK_LOG_VAR,
    RING_SHAPE,
    expected_free_talkers,
    free_talkers,
    live_chance,
    shortfall,
    survival_live,
    talker_bins,
)

__all__ = [
    "RING_SHAPE",
    "Abandonment",
    "Agents",
    "Calls",
    "Decision",
    "DialStats",
    "abandonment_rate",
    "agents_available",
    "decide",
    "live_chance",
    "observe_attempt",
    "observe_handle",
    "predictive_launch",
    "risk_budget",
]

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
SETPOINT = 0.75  # the measured abandonment the feedback steers to, as a fraction of the target
# The model's expected shortfall underestimates realised abandonment several-fold (the worst checkpoint's
# E[(A − F)⁺] is below E[sup (A − F)⁺]; answers and talk ends are not independent across checkpoints).
# Measured on the simulation with the feedback off (docs/agents.md): a budget of 0.2 × target gave 2.3 %
# at 20 agents, 0.4 % at 5 and 3.4 % at 100; so the model's budget starts at RATIO × target and the
# feedback gain (risk_budget) finds the rest for each campaign.
RATIO = 0.25  # the expected abandoned share of the pipeline's live answers, as a fraction of the target, at gain 1
PRIOR_LIVE = 200  # pseudo-live answers at the set point in each window's rate (a new campaign's prior)
GAIN_K = 3.0  # the feedback gain's steepness: exp(GAIN_K × relative error of the rate)
GAIN_MIN, GAIN_MAX = 0.05, 8.0  # the gain's bounds
HEADROOM_SHARE = 0.5  # the share of the remaining headroom (in abandoned calls) the pipeline may risk
MAX_DIAL_LEVEL = 12.0  # never more calls in flight per agent counted available (a bad estimate's ceiling)
LOOKAHEAD_SECONDS = 60.0  # the wrap-ups worth passing in: those ending within this many seconds


@dataclass(frozen=True)
class DialStats:
    """A campaign's learned statistics (exponentially weighted after a running mean; see :func:`observe_attempt`).

    ``answer_rate`` is live persons per finished attempt (machines and no
    answers count against it); ``ring_seconds`` the mean time from dial to a
    live answer; ``attempt_seconds`` the mean time any attempt stays in
    flight (until it is live-answered or ends); ``talk_seconds`` and
    ``wrap_seconds`` make the handle time; ``talk_log_var`` is the variance of the
    talks' logarithm (a lognormal's σ², with the mean, its whole shape).
    """

    answer_rate: float = 0.0
    ring_seconds: float = 10.0
    attempt_seconds: float = 20.0
    talk_seconds: float = 120.0
    wrap_seconds: float = 10.0
    talk_log_var: float = DEFAULT_TALK_LOG_VAR  # the variance of log talk time (its shape; see observe_handle)
    talk_log_mean: float | None = None  # the running mean of log talk time (for talk_log_var's update)
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
    # The log-variance around the learned mean's log-median: σ² = E[(ln x − ln mean)²] − σ⁴/4 would need a
    # second moment; instead the running variance of ln x (Welford's update, then the same EWMA weight),
    # which is σ² for a lognormal whatever its mean. It starts from the default, so a few samples move it
    # only as far as they weigh.
    x = math.log(max(1.0, talk_seconds))
    w = 1.0 / min(n + 1, TIME_WINDOW)  # +1: the default counts as one sample
    mean_log = stats.talk_log_mean if stats.talk_log_mean is not None else x
    new_mean = mean_log + w * (x - mean_log)
    var = stats.talk_log_var + w * ((x - mean_log) * (x - new_mean) - stats.talk_log_var)
    return replace(stats, talk_seconds=_ewma(stats.talk_seconds, max(0.0, talk_seconds), n, TIME_WINDOW),
                   wrap_seconds=_ewma(stats.wrap_seconds, max(0.0, wrap_seconds), n, TIME_WINDOW),
                   talk_log_mean=new_mean, talk_log_var=max(0.01, var))


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
    is available (those within :data:`LOOKAHEAD_SECONDS` suffice); ``talking`` agents on a call;
    ``talking_for``, when known, the seconds each of them has talked (the ACD's ``since`` of ``on_call``;
    talkers beyond its length count as of unknown elapsed time)."""

    ready: int = 0
    wrapping: Sequence[float] = ()
    talking: int = 0
    talking_for: Sequence[float] | None = None

    def talkers(self) -> list[float | None]:
        """Each talker's elapsed talk time, None where unknown."""
        known = list(self.talking_for or ())
        return known + [None] * max(0, self.talking - len(known))


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

    The share is ``RATIO`` × target × a feedback gain. The measured rate of each window is taken with a
    prior of :data:`PRIOR_LIVE` pseudo-live answers at the set point (``SETPOINT`` × target), so that a
    new campaign starts at gain 1 instead of no headroom at all, and a handful of early abandonments
    moves it only as much as they weigh. The gain is exp(GAIN_K × (set point − worst rate) / set point),
    bounded to [GAIN_MIN, GAIN_MAX]: the rates are cumulative counts, so this is integral control of the
    abandonment rate, and smooth — below the set point the model may risk more, above it less, and the
    rate settles near the set point instead of riding the guard. The headroom caps the pipeline: at most
    ``HEADROOM_SHARE`` of the abandonments the worst window (with its prior) can still take before it
    reaches the target itself.
    """
    point = SETPOINT * target
    worst, headroom = 0.0, math.inf
    for abandoned, live in ((abandonment.abandoned_24h, abandonment.live_24h),
                            (abandonment.abandoned_30d, abandonment.live_30d)):
        a, n = abandoned + PRIOR_LIVE * point, live + PRIOR_LIVE
        worst = max(worst, a / n)
        headroom = min(headroom, target * n - a)
    gain = min(GAIN_MAX, max(GAIN_MIN, math.exp(GAIN_K * (point - worst) / point))) if point > 0 else 0.0
    return RATIO * target * gain, HEADROOM_SHARE * headroom


def agents_available(agents: Agents, stats: DialStats, horizon: float) -> float:
    """Agents expected free within ``horizon`` seconds: ready, wrap-ups ending by then, and talkers whose
    remaining talk plus wrap-up fits (:func:`dialer.predictive_model.talk_free_chance`)."""
    return _sure(agents, horizon) + expected_free_talkers(talker_bins(agents.talkers()), horizon, stats)


def _sure(agents: Agents, horizon: float) -> int:
    # the agents certainly free by the horizon: ready, or their wrap-up (whose end is known) ending by then
    return agents.ready + sum(1 for s in agents.wrapping if s <= horizon)


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
    talkers = talker_bins(agents.talkers())
    points = []  # (old mean, old variance, new call's chance, agents free) per checkpoint
    for f in _CHECKPOINTS:
        t = f * stats.ring_seconds
        chances = [(live_chance(a, stats, t), k) for a, k in bins.items()]
        mean = sum(c * k for c, k in chances)
        var = sum(c * (1.0 - c) * k for c, k in chances)
        # Talkers finishing are random too: a Poisson-binomial of more agents, kept apart from the answers
        # (whose right tail is what abandons) and summed over in shortfall().
        h = t + CONNECT_SECONDS
        points.append((mean, var, p_new * (1.0 - survival_live(t, stats)), _sure(agents, h) - calls.waiting,
                       free_talkers(talkers, h, stats)))
    last = _CHECKPOINTS[-1] * stats.ring_seconds + CONNECT_SECONDS
    horizon_free = _sure(agents, last) + expected_free_talkers(talkers, last, stats) - calls.waiting
    if horizon_free <= 0:
        return 0
    most = max(0, int(MAX_DIAL_LEVEL * horizon_free) - len(ages))

    base = [shortfall(m, v, free, extra) for m, v, c, free, extra in points]

    def ok(n: int) -> bool:
        # A checkpoint already short from the calls in flight (new calls cannot answer that soon) does not
        # stop dialing; new calls may just not add to it.
        allowed = min(budget * (eventual + n * p_new), headroom)
        return all(shortfall(m + n * c, v + n * c * (1.0 - c), free, extra) <= max(allowed, b0 + 1e-9)
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

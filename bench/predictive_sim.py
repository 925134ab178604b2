"""A discrete-event simulation, in simulated time, of an agent campaign paced by ``dialer/predictive.py``.

The population (every contact's outcome, ring time and talk time) is drawn
from the seed and the contact's index, so the three modes dial the same
people in the same order. The controller is called on a tick (every 0.2 s
simulated, as the dialer's lane asks it) with what the dialer would know:
ready agents, wrap-ups and their remaining seconds, talkers, calls in flight,
the statistics learned from finished attempts so far, and the abandonment so
far. Answered persons go to the longest-idle ready agent, or wait up to
:data:`~dialer.predictive.CONNECT_SECONDS` for one and are then abandoned.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from dataclasses import dataclass, field

from dialer import predictive as pc


@dataclass(frozen=True)
class Population:
    """Who is called and how the agents work. Shares are of all attempts; the rest (after live and machine)
    is busy (``busy_share`` of it) or rings until the originate timeout."""

    agents: int = 20
    live: float = 0.30
    machine: float = 0.15
    busy_share: float = 0.2
    talk_mean: float = 120.0
    talk_sigma: float = 0.8  # lognormal sigma: coefficient of variation 0.95, close to exponential's 1
    wrap: float = 10.0
    setup: float = 1.5  # dial to first ring
    ring_mean: float = 6.0  # ring to answer (lognormal, sigma 0.6), persons and machines alike
    amd: float = 2.5  # a machine is detected and hung up this long after it answers
    timeout: float = 25.0  # the originate timeout of a no-answer
    accept: float = 5.0  # preview: an agent reads and accepts a contact in this long
    hours: float = 2.0
    seed: int = 11

    def contact(self, i: int) -> tuple[str, float, float]:
        """Contact ``i``'s (outcome, seconds from dial to answer or end, talk seconds)."""
        rng = random.Random(self.seed * 1_000_003 + i)
        u = rng.random()
        sr = 0.6
        ring = self.setup + min(self.timeout - self.setup - 0.5,
                                rng.lognormvariate(math.log(self.ring_mean) - sr * sr / 2, sr))
        talk = rng.lognormvariate(math.log(self.talk_mean) - self.talk_sigma ** 2 / 2, self.talk_sigma)
        if u < self.live:
            return "live", ring, talk
        if u < self.live + self.machine:
            return "machine", ring, 0.0
        rest = (u - self.live - self.machine) / max(1e-9, 1.0 - self.live - self.machine)
        if rest < self.busy_share:
            return "busy", self.setup + 0.5 + 2.5 * rng.random(), 0.0
        return "noanswer", self.timeout, 0.0


@dataclass
class _Agent:
    state: str = "ready"  # ready, preview (reading a contact), held (its previewed call rings), talk, wrap
    since: float = 0.0
    until: float = 0.0  # end of talk or wrap-up
    talk: float = 0.0  # seconds talked so far


@dataclass
class Result:
    """A run's figures and its timeline (one sample per ``sample_every`` simulated seconds)."""

    figures: dict
    timeline: list = field(default_factory=list)  # (t, dial level, ready agents, abandonment %)


class Simulation:
    """One campaign in one mode on one population."""

    def __init__(self, pop: Population, mode: str, tick: float = 0.2, target: float = pc.DEFAULT_TARGET,
                 sample_every: float = 10.0, use_ages: bool = True, use_elapsed: bool = True):
        self.pop, self.mode, self.tick, self.target, self.sample_every = pop, mode, tick, target, sample_every
        self.use_ages = use_ages  # pass the calls' ages to the controller (the dialer knows when it dialed)
        self.use_elapsed = use_elapsed  # pass the talkers' elapsed times (the ACD knows since when they talk)
        self.end = pop.hours * 3600.0
        self.now = 0.0
        self.agents = [_Agent() for _ in range(pop.agents)]
        self.ready: deque[int] = deque(range(pop.agents))  # longest idle first
        self.events: list = []
        self.seq = 0
        self.next_contact = 0
        self.flight: dict[int, float] = {}  # contact index -> launch time of the calls dialing
        self.waiting: deque[list] = deque()  # [call id, answered at, agent or None] of persons awaiting an agent
        self.accepted: deque[int] = deque()  # preview: agents whose contact is accepted, not yet dialed
        self.stats = pc.DialStats()
        self.handled = 0
        self.live = self.abandoned = self.attempts = 0
        self.time_in = {"ready": 0.0, "preview": 0.0, "held": 0.0, "talk": 0.0, "wrap": 0.0}
        self.reasons: dict[str, int] = {}
        self.level_sum = self.level_n = 0.0
        self.timeline: list = []

    # -- plumbing
    def _at(self, t: float, kind: str, *data) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, data))

    def _set(self, a: int, state: str) -> None:
        ag = self.agents[a]
        self.time_in[ag.state] += min(self.now, self.end) - min(ag.since, self.end)
        ag.state, ag.since = state, self.now

    def run(self) -> Result:
        """Simulate ``hours`` and return the figures."""
        self._at(0.0, "tick")
        self._at(0.0, "sample")
        if self.mode == "preview":
            for a in range(self.pop.agents):
                self._preview(a)
        while self.events:
            t, _, kind, data = heapq.heappop(self.events)
            if t > self.end:
                break
            self.now = t
            getattr(self, "_on_" + kind)(*data)
        self.now = self.end
        for a in range(self.pop.agents):
            self._set(a, self.agents[a].state)
        return Result(self._figures(), self.timeline)

    # -- agents
    def _preview(self, a: int) -> None:
        self._set(a, "preview")
        self._at(self.now + self.pop.accept, "accept", a)

    def _on_accept(self, a: int) -> None:
        self.accepted.append(a)

    def _free(self, a: int) -> None:
        """The agent is available: a waiting person first, else (preview) the next contact, else the ready queue."""
        if self.waiting and self.mode != "preview":
            call = self.waiting.popleft()
            self._connect(a, call[0])
        elif self.mode == "preview":
            self._preview(a)
        else:
            self._set(a, "ready")
            self.ready.append(a)

    def _connect(self, a: int, call: int) -> None:
        talk = self.pop.contact(call)[2]
        self._set(a, "talk")
        self.agents[a].until = self.now + talk
        self._at(self.now + talk, "talk_end", a, talk)

    def _on_talk_end(self, a: int, talk: float) -> None:
        self.handled += 1
        self.stats = pc.observe_handle(self.stats, talk, self.pop.wrap, self.handled)
        self._set(a, "wrap")
        self.agents[a].until = self.now + self.pop.wrap
        self._at(self.now + self.pop.wrap, "wrap_end", a)

    def _on_wrap_end(self, a: int) -> None:
        self._free(a)

    # -- calls
    def _dial(self, agent: int | None) -> None:
        i = self.next_contact
        self.next_contact += 1
        self.attempts += 1
        self.flight[i] = self.now
        outcome, secs, _ = self.pop.contact(i)
        if agent is not None:
            self._set(agent, "held")
        if outcome in ("live", "machine"):
            self._at(self.now + secs, "answer", i, outcome, secs, agent)
        else:
            self._at(self.now + secs, "ended", i, secs, agent)

    def _on_ended(self, i: int, secs: float, agent: int | None) -> None:
        del self.flight[i]
        self.stats = pc.observe_attempt(self.stats, False, secs)
        if agent is not None:
            self._free(agent)

    def _on_answer(self, i: int, outcome: str, secs: float, agent: int | None) -> None:
        if outcome == "machine":  # AMD listens, then hangs up: the line stays in flight, no agent time
            self._at(self.now + self.pop.amd, "ended", i, secs + self.pop.amd, agent)
            return
        del self.flight[i]
        self.live += 1
        self.stats = pc.observe_attempt(self.stats, True, secs)
        if agent is not None:
            self._connect(agent, i)
        elif self.ready:
            self._connect(self.ready.popleft(), i)
        else:
            call = [i, self.now, None]
            self.waiting.append(call)
            self._at(self.now + pc.CONNECT_SECONDS, "deadline", call)

    def _on_deadline(self, call: list) -> None:
        try:
            self.waiting.remove(call)
        except ValueError:
            return  # connected in time
        self.abandoned += 1

    # -- the controller
    def _on_tick(self) -> None:
        wrapping = [ag.until - self.now for ag in self.agents
                    if ag.state == "wrap" and ag.until - self.now <= pc.LOOKAHEAD_SECONDS]
        # The ACD knows since when each agent is on its call (AgentState.since of on_call).
        talking_for = [self.now - ag.since for ag in self.agents if ag.state == "talk"]
        ab = pc.Abandonment(self.abandoned, self.live, self.abandoned, self.live)
        agents = pc.Agents(len(self.ready), wrapping, len(talking_for), talking_for if self.use_elapsed else None)
        d = pc.decide(self.mode, agents,
                      pc.Calls(len(self.flight), len(self.waiting), self._ages()), self.stats, ab, self.target,
                      accepted=len(self.accepted))
        self.reasons[d.reason] = self.reasons.get(d.reason, 0) + 1
        self.level_sum += d.dial_level
        self.level_n += 1
        self._level = d.dial_level
        for _ in range(d.launch):
            self._dial(self.accepted.popleft() if self.mode == "preview" else None)
        self._at(self.now + self.tick, "tick")

    def _ages(self) -> list[float] | None:
        return [self.now - t for t in self.flight.values()] if self.use_ages else None

    def _on_sample(self) -> None:
        rate = 100.0 * pc.abandonment_rate(self.abandoned, self.live)
        self.timeline.append((self.now, getattr(self, "_level", 0.0), len(self.ready), rate))
        self._at(self.now + self.sample_every, "sample")

    def _figures(self) -> dict:
        agent_hours = self.pop.agents * self.pop.hours
        total = sum(self.time_in.values()) or 1.0
        idle = self.time_in["ready"] + self.time_in["preview"] + self.time_in["held"]
        return {
            "talk_min_per_agent_hour": round(self.time_in["talk"] / 60.0 / agent_hours, 1),
            "abandonment_pct": round(100.0 * pc.abandonment_rate(self.abandoned, self.live), 2),
            "idle_pct": round(100.0 * idle / total, 1),
            "calls_per_hour": round(self.attempts / self.pop.hours),
            "connects_per_hour": round((self.live - self.abandoned) / self.pop.hours),
            "abandoned": self.abandoned,
            "live": self.live,
            "mean_dial_level": round(self.level_sum / max(1, self.level_n), 2),
            "reasons": {k: round(v / max(1, self.level_n), 3) for k, v in sorted(self.reasons.items())},
        }


def simulate(pop: Population, mode: str, **kw) -> Result:
    """Run one simulation (see :class:`Simulation`)."""
    return Simulation(pop, mode, **kw).run()

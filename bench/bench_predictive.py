"""Predictive dialing benchmark: preview, progressive and predictive on the same simulated population.

A discrete-event simulation in simulated time (``bench/predictive_sim.py``)
of the issue's population: answer rate 30 % (live persons), 15 % answering
machines (detected by AMD 2.5 s after they answer and hung up: no agent
time), the rest busy (a fifth of it, ~3 s) or no answer (rings to the 25 s
originate timeout); ring to answer 1.5 s + lognormal mean 6 s; talk
lognormal mean 120 s, sigma 0.8; wrap-up 10 s; the 2-second rule; preview
agents take 5 s to accept a contact; 2 simulated hours. The real controller
(``dialer/predictive.py``) decides every 0.2 s. Sizes 5, 20 and 100 agents;
then, for robustness (20 agents), answer rates 15 % and 50 % and mean talk
60 s and 300 s, and another seed (5 and 20 agents). Seeded: reruns give the same figures. Also writes
``var/bench/predictive.png`` (dial level, ready agents, abandonment; 20
agents, predictive), copied to ``docs/img/predictive.png``. Last, predictive at 5 and 20 agents on six
more seeds (:func:`seed_spread`), for the spread one seed hides.
Targets: predictive ≥ 50 talk-minutes per agent-hour with abandonment ≤ 3 %.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import replace

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.predictive_sim import Population, simulate  # noqa: E402

MODES = ("preview", "progressive", "predictive")
KEYS = ("talk_min_per_agent_hour", "abandonment_pct", "idle_pct", "calls_per_hour")


def plot(timeline: list, path: str) -> None:
    """Dial level, ready agents and abandonment (%) over the simulated hours, as a PNG (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [x[0] / 60.0 for x in timeline]
    fig, axes = plt.subplots(3, 1, figsize=(9, 7), sharex=True)
    for ax, i, label in ((axes[0], 1, "dial level"), (axes[1], 2, "ready agents"), (axes[2], 3, "abandonment %")):
        ax.plot(t, [x[i] for x in timeline], lw=0.8)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[2].axhline(3.0, color="red", lw=0.8, ls="--", label="3 % target")
    axes[2].legend(loc="upper right")
    axes[2].set_xlabel("simulated minutes")
    axes[0].set_title("Predictive, 20 agents, answer rate 30 %, talk 120 s (seeded simulation)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def table(figures: dict, names: list[str]) -> str:
    """The figures as a Markdown table: one row per population and mode."""
    rows = ["| population | mode | talk min/agent-h | abandonment % | idle % | calls/h |", "| --- " * 6 + "|"]
    for name in names:
        for mode in MODES:
            f = figures[f"{name}.{mode}"]
            rows.append(f"| {name} | {mode} | " + " | ".join(str(f[k]) for k in KEYS) + " |")
    return "\n".join(rows)


SPREAD_SEEDS = (1, 2, 3, 4, 5, 6)


def seed_spread(base: Population) -> dict:
    """Predictive at 5 and 20 agents on more seeds: two simulated hours of 5 agents are only ~250 live
    answers, so one seed's figure moves by a talk-minute or two; the mean, min and max say how much."""
    spread = {}
    for n in (5, 20):
        runs = [simulate(replace(base, agents=n, seed=s), "predictive").figures for s in SPREAD_SEEDS]
        talk = [f["talk_min_per_agent_hour"] for f in runs]
        ab = [f["abandonment_pct"] for f in runs]
        spread[f"{n}_agents"] = {"seeds": list(SPREAD_SEEDS), "talk_min_per_agent_hour": talk, "abandonment_pct": ab,
                                 "talk_mean": round(sum(talk) / len(talk), 1), "talk_min": min(talk),
                                 "talk_max": max(talk), "abandonment_max": max(ab)}
        print(f"predictive, {n} agents, seeds {SPREAD_SEEDS}: talk min/agent-h {talk} "
              f"(mean {spread[f'{n}_agents']['talk_mean']}), abandonment % {ab}", flush=True)
    return spread


def main() -> dict:
    """Run every mode at every size, then the robustness variants; returns the figures."""
    figures: dict = {}
    base = Population()
    runs = [(f"{n}_agents", replace(base, agents=n)) for n in (5, 20, 100)]
    runs += [("20_agents_answer_15", replace(base, live=0.15)), ("20_agents_answer_50", replace(base, live=0.50)),
             ("20_agents_talk_60", replace(base, talk_mean=60.0)), ("20_agents_talk_300", replace(base, talk_mean=300.0)),
             ("20_agents_seed_23", replace(base, seed=23)), ("5_agents_seed_23", replace(base, agents=5, seed=23))]
    timeline = None
    for name, pop in runs:
        for mode in MODES:
            result = simulate(pop, mode)
            figures[f"{name}.{mode}"] = {k: result.figures[k] for k in KEYS} | (
                {"mean_dial_level": result.figures["mean_dial_level"], "reasons": result.figures["reasons"]}
                if mode == "predictive" else {})
            if name == "20_agents" and mode == "predictive":
                timeline = result.timeline
    for name, _ in runs:
        f, prog = figures[f"{name}.predictive"], figures[f"{name}.progressive"]
        figures[f"{name}.predictive_meets_targets"] = (f["talk_min_per_agent_hour"] >= 50.0
                                                      and f["abandonment_pct"] <= 3.0)
        # the variants' bar: the guard holds and predictive is no worse than progressive
        figures[f"{name}.predictive_holds"] = (f["abandonment_pct"] <= 3.0
                                              and f["talk_min_per_agent_hour"] >= prog["talk_min_per_agent_hour"])
    figures["predictive_meets_targets"] = all(figures[f"{n}_agents.predictive_meets_targets"] for n in (5, 20, 100))
    figures["seed_spread"] = seed_spread(base)
    figures["predictive_holds_everywhere"] = all(figures[f"{name}.predictive_holds"] for name, _ in runs)
    print(table(figures, [name for name, _ in runs]), flush=True)
    os.makedirs(os.path.join("var", "bench"), exist_ok=True)
    png = os.path.join("var", "bench", "predictive.png")
    plot(timeline, png)
    docs = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "img")
    os.makedirs(docs, exist_ok=True)
    shutil.copy(png, os.path.join(docs, "predictive.png"))
    figures["plot"] = png
    return figures


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))

"""The far end: who answers a called number, and what the person (or machine) does once answered.

A scenario file (YAML or JSON, see docs/simulator.md) has ``defaults`` and an
ordered list of ``rules``; the first rule whose ``match`` fits the called
number wins and is laid over the defaults. One call can override everything
with ``sim_*`` channel variables in its originate string.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from freeswitch.sim import population as pop
from freeswitch.sim import speech

# outcome → (hangup cause when it fails, default ring seconds before it happens)
OUTCOMES = {
    "answer": (None, 1.0),
    "machine": (None, 2.0),
    "busy": ("USER_BUSY", 2.0),
    "no_answer": ("NO_ANSWER", None),
    "rejected": ("CALL_REJECTED", 1.0),
    "unallocated": ("UNALLOCATED_NUMBER", 0.2),
    "congestion": ("NORMAL_CIRCUIT_CONGESTION", 0.2),
    "fail": ("NORMAL_TEMPORARY_FAILURE", 0.2),
}

VAR_PREFIX = "sim_"


class ScenarioError(ValueError):
    """A scenario file or a sim_* variable that cannot be understood."""


@dataclass
class Behaviour:
    """What the far end of one leg does."""

    outcome: str = "answer"
    cause: str | None = None             # hangup cause of a failed outcome (default from OUTCOMES)
    ring: float | None = 1.0             # seconds before the outcome happens (None: ring forever)
    early_media: bool = False            # 183 with media instead of 180
    dtmf: list[tuple[float, str]] = field(default_factory=list)   # (seconds after answer, digits)
    talk: float = 3.0                    # seconds the person talks when a recording starts
    speech: list[str] = field(default_factory=list)  # what they say, one utterance per record (speech.py)
    hangup_after: float | None = None    # the person hangs up this long after answer (None: never)
    dtmf_interval: float = 0.25          # seconds between the digits of one entry
    # The far end's speech, for answering-machine detection (amd.py): None takes the outcome's default.
    greeting: float | None = None        # seconds of speech from the answer ("hello?", a voicemail greeting)
    beep: float | None = None            # a machine's beep after its greeting (seconds; 0: none)
    # Agents (agents.py): how long each conversation lasts, and a nailed-up agent that never hangs up.
    talk_time: float | None = None       # a ringing agent hangs up this long after answering
    persistent: bool = False             # stays up for ever; ends each conversation with end_dtmf
    end_dtmf: str = ""                   # digits a persistent agent presses when a conversation is over
    seed: str = "0"                      # what random draws are seeded with (population.py)
    population: Any = None               # population.Population: the outcome is drawn per number
    pop_settings: dict = field(default_factory=dict)   # settings laid over each drawn outcome
    draws: dict = field(default_factory=dict)          # key → population.Dist, drawn per call
    draw_key: tuple | None = None        # (seed, number, nth call): what this call's draws came from

    @property
    def greeting_seconds(self) -> float:
        """Seconds the far end speaks from the answer: a person's "hello?", a machine's greeting."""
        if self.greeting is not None:
            return self.greeting
        return {"answer": 1.0, "machine": 8.0}.get(self.outcome, 0.0)

    @property
    def beep_seconds(self) -> float:
        """A machine's beep after its greeting (0.5 s unless set; a person has none)."""
        if self.beep is not None:
            return self.beep
        return 0.5 if self.outcome == "machine" else 0.0

    @property
    def failure_cause(self) -> str | None:
        """The cause this leg fails with, or None if it answers."""
        if self.outcome in ("answer", "machine"):
            return None
        return self.cause or OUTCOMES[self.outcome][0]


def parse_dtmf(spec: Any) -> list[tuple[float, str]]:
    """DTMF plan from ``'1@2;2#@5'`` (digits@seconds;...) or a list of {at, digits} / [at, digits]."""
    if spec is None or spec == "":
        return []
    plan: list[tuple[float, str]] = []
    if isinstance(spec, str):
        for part in re.split(r"[;|]", spec):
            part = part.strip()
            if not part:
                continue
            digits, at, when = part.partition("@")
            if not at:
                raise ScenarioError(f"DTMF entry {part!r} must be digits@seconds, e.g. 1@2")
            plan.append((_seconds(when, "DTMF moment"), _digits(digits)))
    elif isinstance(spec, list):
        for item in spec:
            if isinstance(item, dict):
                plan.append((_seconds(item.get("at"), "DTMF 'at'"), _digits(str(item.get("digits", "")))))
            elif isinstance(item, (list, tuple)) and len(item) == 2:
                plan.append((_seconds(item[0], "DTMF moment"), _digits(str(item[1]))))
            else:
                raise ScenarioError(f"DTMF entry {item!r}: expected {{at: seconds, digits: '1'}}")
    else:
        raise ScenarioError(f"DTMF plan {spec!r}: expected '1@2;2#@5' or a list")
    return sorted(plan, key=lambda p: p[0])


def _digits(text: str) -> str:
    text = text.strip()
    if not text or not re.fullmatch(r"[0-9*#A-Da-dwW]+", text):
        raise ScenarioError(f"DTMF digits {text!r}: use 0-9 * # A-D")
    return text.upper()


def _seconds(value: Any, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ScenarioError(f"{what} {value!r} is not a number of seconds") from None
    if v < 0:
        raise ScenarioError(f"{what} {value!r} is negative")
    return v


def _optional_seconds(value: Any, what: str) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null", "never")):
        return None
    return _seconds(value, what)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


_FIELDS = {"outcome", "cause", "ring", "answer_after", "early_media", "dtmf", "talk", "hangup_after", "dtmf_interval",
           "greeting", "beep", "talk_time", "persistent", "end_dtmf", "seed", "population", "speech"}
# Keys whose value may be a range or a distribution (population.py), drawn per call.
_DIST_KEYS = ("ring", "answer_after", "talk", "hangup_after", "greeting", "beep", "talk_time")


def apply_settings(base: Behaviour, settings: dict, where: str) -> Behaviour:
    """Lay scenario keys (or sim_* variables without the prefix) over a behaviour."""
    unknown = set(settings) - _FIELDS - {"match"}
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if base.draws or base.population is not None or any(
            k == "population" or (k in _DIST_KEYS and pop.is_dist_spec(v)) for k, v in settings.items()):
        return _apply_drawn(base, settings, where)
    b = replace(base, dtmf=list(base.dtmf))
    _apply_plain(b, settings, where)
    return b


def _apply_drawn(base: Behaviour, settings: dict, where: str) -> Behaviour:
    # The keys of the random far ends: ranges and distributions go to `draws` (drawn per call, in
    # Scenario.behaviour), a population is kept with the settings laid over each outcome it draws.
    b = replace(base, dtmf=list(base.dtmf), draws=dict(base.draws), pop_settings=dict(base.pop_settings))
    plain = {}
    for key, value in settings.items():
        if key in _DIST_KEYS and pop.is_dist_spec(value):
            name = "ring" if key == "answer_after" else key
            try:
                b.draws[name] = pop.parse_dist(value, f"{where}: {key}")
            except pop.DistError as exc:
                raise ScenarioError(str(exc)) from None
        elif key != "population":
            plain[key] = value
            if key in _DIST_KEYS:
                b.draws.pop("ring" if key == "answer_after" else key, None)
    if "population" in settings:
        try:
            b.population = pop.parse_population(settings["population"], tuple(OUTCOMES), where, _check_entry)
        except pop.DistError as exc:
            raise ScenarioError(str(exc)) from None
        b.pop_settings = {k: v for k, v in settings.items() if k not in ("population", "outcome", "match")}
    elif "outcome" in settings:
        b.population, b.pop_settings = None, {}  # an outcome said outright replaces the mix
    elif b.population is not None:
        b.pop_settings.update((k, v) for k, v in settings.items() if k != "match")
    _apply_plain(b, plain, where)
    return b


def _check_entry(settings: dict, where: str) -> None:
    apply_settings(Behaviour(), settings, where)


def _apply_plain(b: Behaviour, settings: dict, where: str) -> None:
    if "outcome" in settings:
        outcome = str(settings["outcome"]).strip().lower().replace("-", "_")
        if outcome in ("answering_machine", "voicemail"):
            outcome = "machine"
        if outcome not in OUTCOMES:
            raise ScenarioError(f"{where}: outcome {settings['outcome']!r} is not one of {', '.join(OUTCOMES)}")
        if outcome != b.outcome and "ring" not in settings and "answer_after" not in settings:
            b.ring = OUTCOMES[outcome][1]
        b.outcome = outcome
        if outcome == "machine" and "hangup_after" not in settings and b.hangup_after is None:
            b.hangup_after = 30.0
        if outcome == "machine" and "talk" not in settings:
            b.talk = 8.0
    if "cause" in settings and settings["cause"] not in (None, ""):
        b.cause = str(settings["cause"]).strip().upper()
    for key in ("ring", "answer_after"):
        if key in settings:
            b.ring = _optional_seconds(settings[key], f"{where}: {key}")
    if "early_media" in settings:
        b.early_media = _bool(settings["early_media"])
    if "dtmf" in settings:
        b.dtmf = parse_dtmf(settings["dtmf"])
    if "talk" in settings:
        b.talk = _seconds(settings["talk"], f"{where}: talk")
    if "speech" in settings:
        b.speech = speech.parse(settings["speech"])
    if "hangup_after" in settings:
        b.hangup_after = _optional_seconds(settings["hangup_after"], f"{where}: hangup_after")
    if "dtmf_interval" in settings:
        b.dtmf_interval = _seconds(settings["dtmf_interval"], f"{where}: dtmf_interval")
    for key in ("greeting", "beep", "talk_time"):
        if key in settings:
            setattr(b, key, _optional_seconds(settings[key], f"{where}: {key}"))
    if "persistent" in settings:
        b.persistent = _bool(settings["persistent"])
    if "end_dtmf" in settings:
        b.end_dtmf = _digits(str(settings["end_dtmf"])) if settings["end_dtmf"] not in (None, "") else ""
    if "seed" in settings:
        b.seed = str(settings["seed"])


def draw(b: Behaviour, number: str, calls: dict) -> Behaviour:
    """The behaviour of one call: its outcome drawn from the population, its ranges drawn (population.py).

    ``calls`` counts the calls each number has had (it is what makes one agent's talk times differ).
    """
    if b.population is not None:
        outcome, entry = b.population.pick(pop.outcome_rng(b.seed, number))
        b = apply_settings(replace(b, population=None, pop_settings={}),
                           {"outcome": outcome, **b.pop_settings, **entry}, "population")
        if b.greeting is None and "greeting" not in b.draws:
            default = pop.default_greeting(outcome)
            if default is not None:
                b.draws = {**b.draws, "greeting": default}  # a copy: the scenario's own may be shared
    if not b.draws:
        return b
    nth = calls.get(number, 0)
    calls[number] = nth + 1
    rng = pop.call_rng(b.seed, number, nth)
    drawn = replace(b, draws={}, draw_key=(b.seed, number, nth))
    for key in sorted(b.draws):
        setattr(drawn, key, round(b.draws[key].draw(rng), 3))
    if "talk_time" in b.draws:
        drawn.draws = {"talk_time": b.draws["talk_time"]}  # a persistent agent draws one per conversation
    return drawn


@dataclass
class Rule:
    """One scenario rule: a number pattern and the settings it applies."""

    match: str
    settings: dict

    def matches(self, number: str) -> bool:
        """Exact number, ``/regex/``, or a glob (``*``, ``?``, ``[0-9]``)."""
        pat = self.match
        if len(pat) > 1 and pat.startswith("/") and pat.endswith("/"):
            return re.search(pat[1:-1], number) is not None
        if any(c in pat for c in "*?["):
            return fnmatch.fnmatchcase(number, pat)
        return number == pat or number.lstrip("+") == pat.lstrip("+")


class Scenario:
    """Defaults plus ordered rules; resolves the behaviour of one called number."""

    def __init__(self, defaults: dict | None = None, rules: list[dict] | None = None, source: str = "<inline>"):
        self.source = source
        self.calls: dict[str, int] = {}  # calls per number that had random draws (population.draw)
        self.defaults = apply_settings(Behaviour(), defaults or {}, f"{source}: defaults")
        self.rules: list[Rule] = []
        for i, raw in enumerate(rules or []):
            if not isinstance(raw, dict) or "match" not in raw:
                raise ScenarioError(f"{source}: rule {i + 1} needs a 'match' (number, glob or /regex/)")
            pattern = str(raw["match"])
            if pattern.startswith("/") and pattern.endswith("/") and len(pattern) > 1:
                try:
                    re.compile(pattern[1:-1])
                except re.error as exc:
                    raise ScenarioError(f"{source}: rule {i + 1}: bad regex {pattern}: {exc}") from None
            settings = {k: v for k, v in raw.items() if k != "match"}
            apply_settings(self.defaults, settings, f"{source}: rule {i + 1}")  # validate now
            self.rules.append(Rule(pattern, settings))

    def behaviour(self, number: str, variables: dict | None = None) -> Behaviour:
        """The far end of a call to ``number``, with ``sim_*`` variables applied last."""
        b = self.defaults
        for rule in self.rules:
            if rule.matches(number):
                b = apply_settings(b, rule.settings, f"{self.source}: rule {rule.match}")
                break
        if variables:
            overrides = {}
            for k, v in variables.items():
                if k.startswith(VAR_PREFIX):
                    key = k[len(VAR_PREFIX):]
                    if key == "talk_seconds":
                        key = "talk"
                    if key in _FIELDS:
                        overrides[key] = v
            if overrides:
                b = apply_settings(b, overrides, "sim_* variables")
        if b.population is not None or b.draws:
            b = draw(b, number, self.calls)
        return b

    @classmethod
    def from_data(cls, data: Any, source: str = "<inline>") -> "Scenario":
        """Build from parsed YAML/JSON."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ScenarioError(f"{source}: the top level must be a mapping with 'defaults' and 'rules'")
        unknown = set(data) - {"defaults", "rules", "description"}
        if unknown:
            raise ScenarioError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}")
        rules = data.get("rules") or []
        if not isinstance(rules, list):
            raise ScenarioError(f"{source}: 'rules' must be a list")
        return cls(data.get("defaults") or {}, rules, source)

    @classmethod
    def load(cls, path: str) -> "Scenario":
        """Read a YAML (.yaml/.yml) or JSON file."""
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise ScenarioError(f"cannot read scenario file {path}: {exc.strerror}") from None
        return cls.from_text(text, path)

    @classmethod
    def from_text(cls, text: str, source: str = "<inline>") -> "Scenario":
        """Parse YAML or JSON text."""
        if source.endswith(".json"):
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise ScenarioError(f"{source}: not valid JSON: {exc}") from None
        else:
            import yaml

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise ScenarioError(f"{source}: not valid YAML: {exc}") from None
        return cls.from_data(data, source)

    @classmethod
    def default(cls) -> "Scenario":
        """The scenario shipped with the package (freeswitch/sim/default_scenario.yaml)."""
        text = resources.files("freeswitch.sim").joinpath("default_scenario.yaml").read_text(encoding="utf-8")
        return cls.from_text(text, "default_scenario.yaml")


def load_scenario(path: str | None) -> Scenario:
    """The scenario at ``path``, or the shipped default when ``path`` is empty."""
    if not path:
        return Scenario.default()
    if not os.path.exists(path):
        raise ScenarioError(f"scenario file {path} does not exist")
    return Scenario.load(path)

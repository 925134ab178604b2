"""The automatic call distributor: agents' live state in Redis (see docs/agents.md, "Agent states").

Keys under ``<prefix>``:

- ``<p>:agent:<agent_id>`` — hash: ``state``, ``account``, ``campaigns`` (comma-separated), ``since``,
  ``reason``, ``call``, ``endpoint``, ``persistent``, ``channel``, ``available_at``, ``last_call`` (the previous
  call, which a late disposition names); while on a call also ``campaign`` (the call's campaign), ``prev_at``
  (the idle score before the reservation, restored by :meth:`Acd.unreserve`) and ``pending`` /
  ``pending_reason`` (a pause or logout asked for during the call, applied when it ends).
- ``<p>:acd:ready:<campaign_id>`` — sorted set of the available agents scored by ``available_at``.
- ``<p>:acd:agents:<campaign_id>`` — set of the agents logged into the campaign, whatever their state (counts).
- ``<p>:acd:call:<call_uuid>`` — the agent reserved for / on that call (:meth:`Acd.release_call`).

Every transition is one Lua script reading the clock with Redis ``TIME``: all processes (IVR runtimes, the
dialer, the API) then agree on "now", and no transition can interleave with a reservation. A wrap-up ends by
time alone: the agent sits in the ready sets with its wrap-up's end as score and the reservation script takes
only scores not later than now, so no timer has to fire.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import gevent

from ivr import acd_lua

#: Every state an agent can be in; a ``wrap_up`` whose end has passed reads as ``ready``.
STATES = ("logged_out", "ready", "paused", "reserved", "on_call", "wrap_up")

#: How often :meth:`Acd.wait_reserve` tries again (seconds).
POLL_INTERVAL = 0.05


class AcdError(ValueError):
    """A transition the agent's state does not allow, or an unknown agent; the message says which."""


@dataclass(frozen=True)
class AgentState:
    """One agent's live state as :meth:`Acd.state` reads it (times are epoch seconds, Redis clock)."""

    agent_id: str
    state: str
    account_id: str
    campaigns: tuple[str, ...]
    since: float
    endpoint: str
    persistent: bool = False
    channel: str | None = None
    reason: str = ""
    call: str | None = None
    campaign: str | None = None
    available_at: float | None = None
    pending: str | None = None
    #: The call the agent was on before (reserved or connected), for a disposition arriving after it.
    last_call: str | None = None

    @property
    def on_a_call(self) -> bool:
        """Reserved for or connected to a call."""
        return self.state in ("reserved", "on_call")


@dataclass(frozen=True)
class AgentCounts:
    """How many of a campaign's logged-in agents are in each state right now."""

    campaign_id: str
    ready: int = 0
    wrap_up: int = 0
    reserved: int = 0
    on_call: int = 0
    paused: int = 0
    logged_in: int = 0
    #: Seconds until each wrapping-up agent is available again (sorted).
    wrap_up_remaining: tuple[float, ...] = ()
    #: Seconds each agent on a call has been connected (its ``since``; sorted): the predictive controller's
    #: chance that the talk ends soon depends on it.
    on_call_elapsed: tuple[float, ...] = ()

    def available_within(self, seconds: float) -> int:
        """Agents available now or within ``seconds`` (ready ones plus wrap-ups ending by then)."""
        return self.ready + sum(1 for r in self.wrap_up_remaining if r <= seconds)


def _s(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _state_from(now: float, agent_id: str, flat: list) -> AgentState | None:
    """An AgentState from a flattened HGETALL; a wrap-up already over reads as ``ready`` since its end."""
    h = {_s(flat[i]): _s(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}
    if not h.get("state"):
        return None
    state, since = h["state"], float(h.get("since") or 0)
    available = float(h["available_at"]) if h.get("available_at") else None
    if state == "wrap_up" and available is not None and available <= now:
        state, since = "ready", available
    return AgentState(
        agent_id=agent_id,
        state=state,
        account_id=h.get("account", ""),
        campaigns=tuple(c for c in h.get("campaigns", "").split(",") if c),
        since=since,
        endpoint=h.get("endpoint", ""),
        persistent=h.get("persistent") == "1",
        channel=h.get("channel") or None,
        reason=h.get("reason", ""),
        call=h.get("call") or None,
        campaign=h.get("campaign") or None,
        available_at=available,
        pending=h.get("pending") or None,
        last_call=h.get("last_call") or None,
    )


def _check_id(what: str, value: str) -> str:
    # Ids are joined with commas in the hash and into key names: keep them plain.
    if not value or not isinstance(value, str) or any(c in value for c in ", \t\r\n"):
        raise AcdError(f"{what}: {value!r} is not a valid id")
    return value


class Acd:
    """The agents' live state for one Redis and key prefix; every method is one atomic Lua call."""

    def __init__(self, client, prefix: str):
        self.client = client
        self.prefix = prefix
        self._scripts = {name: client.register_script(src) for name, src in acd_lua.SCRIPTS.items()}

    # -- running the scripts ---------------------------------------------------------------------------------

    def _run(self, name: str, agent_id: str, *args) -> list:
        result = self._scripts[name](args=[self.prefix, agent_id, *[_s(a) for a in args]])
        if result and _s(result[0]) == "error":
            raise AcdError(_s(result[1]))
        return result

    def _agent(self, name: str, agent_id: str, *args) -> AgentState:
        """Run a transition that answers ``{'ok', now, hgetall...}`` and read the agent's new state."""
        result = self._run(name, _check_id("agent_id", agent_id), *args)
        return _state_from(float(result[1]), agent_id, result[2:])

    # -- sessions --------------------------------------------------------------------------------------------

    def login(self, agent_id: str, account_id: str, campaigns: list[str], endpoint: str, *,
              persistent: bool = False, channel: str | None = None, ready: bool = True) -> AgentState:
        """Log an agent into ``campaigns`` (ready at once unless ``ready=False``: then paused, reason 'login').

        Logging in again while logged in changes the campaigns and endpoint and keeps the state and idle
        time; it is refused while the agent is on a call, and for another account's agent.
        """
        campaigns = [_check_id("campaigns", c) for c in campaigns]
        if not campaigns:
            raise AcdError("campaigns: an agent logs into at least one campaign")
        if not endpoint:
            raise AcdError("endpoint: an agent needs an endpoint to be called on")
        return self._agent("login", agent_id, _check_id("account_id", account_id), ",".join(campaigns),
                           endpoint, "1" if persistent else "0", channel or "", "1" if ready else "0")

    def ready(self, agent_id: str) -> AgentState:
        """Paused or wrapping up → ready now. On a call: cancels a pause/logout asked for during it."""
        return self._agent("ready", agent_id)

    def pause(self, agent_id: str, reason: str = "") -> AgentState:
        """Ready or wrapping up → paused (no new call). On a call the agent stays on it and pauses after."""
        return self._agent("pause", agent_id, reason or "")

    def logout(self, agent_id: str) -> AgentState:
        """Leave every campaign. On a call the agent stays on it and logs out when it ends. Idempotent."""
        return self._agent("logout", agent_id)

    def set_channel(self, agent_id: str, channel: str | None) -> AgentState:
        """Record (or clear) a persistent agent's nailed-up channel uuid."""
        return self._agent("set_channel", agent_id, channel or "")

    # -- calls -----------------------------------------------------------------------------------------------

    def _reserve_once(self, campaign_id: str, call_uuid: str) -> tuple[AgentState | None, float | None]:
        result = self._run("reserve", _check_id("campaign_id", campaign_id), _check_id("call_uuid", call_uuid))
        if _s(result[0]) == "none":
            # The soonest wrap-up end in the set, so a waiting caller need not sleep past it.
            return None, (float(result[2]) - float(result[1])) if len(result) > 2 else None
        return _state_from(float(result[1]), _s(result[2]), result[3:]), None

    def reserve(self, campaign_id: str, call_uuid: str) -> AgentState | None:
        """Reserve the longest-idle available agent of the campaign for a call, or None if nobody is available.

        Atomic: two calls never get one agent. Asked again for a call that already holds an agent, it answers
        that agent (a retried request reserves nobody else).
        """
        return self._reserve_once(campaign_id, call_uuid)[0]

    def reserve_agent(self, agent_id: str, call_uuid: str) -> bool:
        """Reserve one given agent (preview mode); False unless it is available now."""
        result = self._run("reserve_agent", _check_id("agent_id", agent_id), _check_id("call_uuid", call_uuid))
        return _s(result[0]) == "ok"

    def wait_reserve(self, campaign_id: str, call_uuid: str, timeout: float = 2.0) -> AgentState | None:
        """:meth:`reserve`, tried again until ``timeout`` seconds have passed; None if nobody became available.

        Short polling rather than pub/sub: an agent becomes available by time alone when its wrap-up ends, which
        no message announces, and a poll every 50 ms costs Redis one script call per waiting call — a few
        hundred waiting calls are a few thousand cheap calls a second. The sleep is cut short when a wrap-up
        ends sooner.
        """
        deadline = time.monotonic() + timeout
        while True:
            agent, next_in = self._reserve_once(campaign_id, call_uuid)
            if agent is not None:
                return agent
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            pause = POLL_INTERVAL if next_in is None else max(0.001, min(POLL_INTERVAL, next_in))
            gevent.sleep(min(pause, left))

    def connected(self, agent_id: str, call_uuid: str) -> AgentState:
        """Reserved → on_call for that call (again for the same call: no change)."""
        return self._agent("connected", agent_id, _check_id("call_uuid", call_uuid))

    def release(self, agent_id: str, call_uuid: str, wrap_up_seconds: float) -> AgentState:
        """The call ended: on_call/reserved → wrap_up until now + ``wrap_up_seconds`` (0: ready at once).

        A pause or logout asked for during the call takes effect now instead.
        """
        return self._agent("release", agent_id, _check_id("call_uuid", call_uuid), _wrap(wrap_up_seconds))

    def release_call(self, call_uuid: str, wrap_up_seconds: float) -> str | None:
        """:meth:`release` of whichever agent holds the call; the agent id, or None if none does. Idempotent.

        The dialer calls it on every hangup, so that an agent whose call's runtime died is not stuck on it.
        """
        result = self._run("release_call", _check_id("call_uuid", call_uuid), _wrap(wrap_up_seconds))
        return _s(result[1]) if _s(result[0]) == "ok" else None

    def unreserve(self, agent_id: str, call_uuid: str) -> AgentState:
        """A reservation whose call never connected: back to the ready sets with the agent's old idle score."""
        return self._agent("unreserve", agent_id, _check_id("call_uuid", call_uuid))

    def end_wrap_up(self, agent_id: str) -> bool:
        """A disposition ends wrap-up now; False (no change) if the agent was not wrapping up any more."""
        result = self._run("end_wrap_up", _check_id("agent_id", agent_id))
        return _s(result[0]) == "ok"

    # -- reading ---------------------------------------------------------------------------------------------

    def state(self, agent_id: str) -> AgentState | None:
        """The agent's live state, or None if it never logged in."""
        pipe = self.client.pipeline(transaction=True)
        pipe.time()
        pipe.hgetall(f"{self.prefix}:agent:{agent_id}")
        (sec, usec), h = pipe.execute()
        flat = [x for kv in h.items() for x in kv]
        return _state_from(sec + usec / 1e6, agent_id, flat)

    def agents(self, campaign_id: str) -> list[AgentState]:
        """The live state of every agent logged into the campaign, by agent id."""
        ids = sorted(_s(m) for m in self.client.smembers(f"{self.prefix}:acd:agents:{campaign_id}"))
        pipe = self.client.pipeline(transaction=True)
        pipe.time()
        for agent_id in ids:
            pipe.hgetall(f"{self.prefix}:agent:{agent_id}")
        (sec, usec), *hashes = pipe.execute()
        now = sec + usec / 1e6
        out = [_state_from(now, a, [x for kv in h.items() for x in kv]) for a, h in zip(ids, hashes)]
        return [s for s in out if s is not None]

    def counts(self, campaign_id: str) -> AgentCounts:
        """The campaign's agents per state, in one script call (the predictive controller asks every tick)."""
        result = self._run("counts", _check_id("campaign_id", campaign_id))
        ready, reserved, on_call, paused, logged_in, wrapping = (int(x) for x in result[1:7])
        remaining = tuple(sorted(float(_s(x)) for x in result[7:7 + wrapping]))
        elapsed = tuple(sorted(float(_s(x)) for x in result[7 + wrapping:]))
        return AgentCounts(campaign_id, ready=ready, wrap_up=len(remaining), reserved=reserved, on_call=on_call,
                           paused=paused, logged_in=logged_in, wrap_up_remaining=remaining,
                           on_call_elapsed=elapsed)


def _wrap(seconds: float) -> str:
    seconds = float(seconds)
    if not 0 <= seconds <= 86400:
        raise AcdError(f"wrap_up_seconds: {seconds} is not between 0 and 86400")
    return f"{seconds:.6f}"

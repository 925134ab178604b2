"""Pacing: how fast and how many calls may be in flight, shared by every dialer worker through Redis.

Two kinds of limit, both enforced by Lua scripts so that any number of
workers on any number of machines see one truth:

* **Rates** (calls per minute per campaign and per account, sessions per
  second per FreeSWITCH node, calls per second per gateway) use virtual
  scheduling (GCRA without burst tolerance). Each rate keeps the theoretical
  time of its next call; a reservation takes the latest of those times over
  every rate that applies (so the lowest cap wins), grants exactly that
  instant, and moves each rate's next time one interval further. Grants of
  one rate are therefore never closer than ``60 / calls_per_minute`` seconds:
  calls are spread evenly, never burst at the start of a minute, and no
  60-second window holds more than the cap. A worker may reserve a slot up to
  ``horizon`` seconds ahead and sleeps until it; the clock is Redis ``TIME``,
  so machines with skewed clocks still agree.
* **Concurrency** (max simultaneous channels per campaign, max sessions per
  node) uses a sorted set of live call uuids scored by an expiry, so a slot
  held by a worker that died frees itself.

The dialer also learns, per campaign, the answer rate and how long calls ring
and talk (:class:`CallStats`); :func:`sustainable_cpm` turns that into the
rate the concurrency cap can carry, so a campaign is not dialed into its cap
and then stalled. ``dial_ratio`` is the hook for the later agent-based
predictive mode (more dials than free slots when few calls answer); it is 1.0
today, which never dials more channels than the cap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis as _redis

from dialer.lua import Lua

# KEYS: the rate keys. ARGV[1]: horizon seconds; ARGV[1+i]: interval of KEYS[i].
# Returns {1, grant_time, now} or {0, seconds_until_possible, now} (floats as strings).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local horizon = tonumber(ARGV[1])
local at = now
for i = 1, #KEYS do
  local tat = tonumber(redis.call('GET', KEYS[i]))
  if tat and tat > at then at = tat end
end
if at - now > horizon then
  return {0, tostring(at - now - horizon), tostring(now)}
end
for i = 1, #KEYS do
  local nxt = at + tonumber(ARGV[i + 1])
  local ttl = math.ceil((nxt - now) * 1000) + 120000
  redis.call('SET', KEYS[i], string.format('%.6f', nxt), 'PX', ttl)
end
return {1, string.format('%.6f', at), string.format('%.6f', now)}
"""

# KEYS[1]: slot set. ARGV: member, cap, ttl seconds. Returns 1 when the slot is held.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) * 1000) + 60000)
return 1
"""

# Slots and rates for a batch of calls at once (one round trip instead of several per call).
# KEYS: the slot sets, then the rate keys. ARGV: number of slot sets, horizon seconds, slot ttl seconds,
# then one cap per slot set, one interval per rate, then the members (call uuids) in dialing order.
# Calls are admitted in order while every slot set has room and the next grant lies within the horizon;
# each admitted call holds its slots and gets the next instant every rate allows (as _RESERVE does).
# Returns {reason, wait, now, at_1, ..., at_k}: reason 0 = all admitted, 1 = a slot set is full,
# 2 = the next grant lies beyond the horizon (wait = seconds until it would not).
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local ns = tonumber(ARGV[1])
local horizon = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local nr = #KEYS - ns
local first = 4 + ns + nr
local counts = {}
for i = 1, ns do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  counts[i] = redis.call('ZCARD', KEYS[i])
end
local tats = {}
for j = 1, nr do
  tats[j] = tonumber(redis.call('GET', KEYS[ns + j])) or 0
end
local out = {'0', '0', string.format('%.6f', now)}
local reason = 0
for m = first, #ARGV do
  local member = ARGV[m]
  local room = true
  for i = 1, ns do
    if counts[i] >= tonumber(ARGV[3 + i]) and not redis.call('ZSCORE', KEYS[i], member) then room = false end
  end
  if not room then reason = 1 break end
  local at = now
  for j = 1, nr do if tats[j] > at then at = tats[j] end end
  if at - now > horizon then
    reason = 2
    out[2] = tostring(at - now - horizon)
    break
  end
  for i = 1, ns do
    if redis.call('ZADD', KEYS[i], now + ttl, member) == 1 then counts[i] = counts[i] + 1 end
  end
  for j = 1, nr do tats[j] = at + tonumber(ARGV[3 + ns + j]) end
  out[#out + 1] = string.format('%.6f', at)
end
out[1] = tostring(reason)
if #out > 3 then
  for i = 1, ns do redis.call('PEXPIRE', KEYS[i], math.ceil(ttl * 1000) + 60000) end
  for j = 1, nr do
    redis.call('SET', KEYS[ns + j], string.format('%.6f', tats[j]), 'PX', math.ceil((tats[j] - now) * 1000) + 120000)
  end
end
return out
"""

_COUNT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""


class PacingError(ValueError):
    """A cap that makes no sense (zero or negative)."""


@dataclass(frozen=True)
class Rate:
    """One rate limit: its Redis key and the seconds between two of its calls."""

    key: str
    interval: float

    @classmethod
    def per_minute(cls, key: str, calls_per_minute: float) -> "Rate":
        """A calls-per-minute cap."""
        if not calls_per_minute or calls_per_minute <= 0:
            raise PacingError(f"calls per minute must be positive, got {calls_per_minute!r}")
        return cls(key, 60.0 / float(calls_per_minute))

    @classmethod
    def per_second(cls, key: str, calls_per_second: float) -> "Rate":
        """A calls-per-second cap (FreeSWITCH's sessions-per-second, a carrier's cps)."""
        if not calls_per_second or calls_per_second <= 0:
            raise PacingError(f"calls per second must be positive, got {calls_per_second!r}")
        return cls(key, 1.0 / float(calls_per_second))


@dataclass(frozen=True)
class Slots:
    """One concurrency cap: its Redis slot set and how many calls it holds at most."""

    key: str
    cap: int


@dataclass(frozen=True)
class Admission:
    """What :meth:`Pacer.admit` granted: one Redis-clock instant per admitted call, in order.

    ``times`` covers the first ``len(times)`` members asked for; the rest were not admitted because a
    slot set is full (``full``) or because their grants lie beyond the horizon (``wait`` seconds until
    they would not).
    """

    times: list[float]
    now: float
    full: bool
    wait: float


@dataclass(frozen=True)
class Grant:
    """The answer to a reservation: ``ok`` with the Redis-clock instant ``at``, or how long to wait."""

    ok: bool
    at: float  # Redis epoch seconds of the granted call (ok) or 0
    wait: float  # seconds until a reservation can succeed (not ok) or until ``at`` (ok)


class Pacer:
    """The shared limiters of one installation (keys under ``<prefix>:pace:`` and ``<prefix>:slots:``)."""

    def __init__(self, client: _redis.Redis, prefix: str):
        self.r = client
        self.prefix = prefix
        self._reserve = client.register_script(_RESERVE)
        self._acquire = client.register_script(_ACQUIRE)
        self._count = client.register_script(_COUNT)
        self._admit = client.register_script(_ADMIT)

    # -- names ---------------------------------------------------------------
    def rate_key(self, kind: str, ident: str) -> str:
        """Key of one rate: kind is campaign, account, node or gateway."""
        return f"{self.prefix}:pace:{kind}:{ident}"

    def slots_key(self, kind: str, ident: str) -> str:
        """Key of one concurrency set: kind is campaign or node."""
        return f"{self.prefix}:slots:{kind}:{ident}"

    # -- rates ---------------------------------------------------------------
    def reserve(self, rates: list[Rate], horizon: float = 1.0) -> Grant:
        """Reserve the next call under every rate at once; the slowest rate decides when."""
        if not rates:
            return Grant(True, self.now(), 0.0)
        keys = [r.key for r in rates]
        args = [horizon] + [r.interval for r in rates]
        ok, value, now = self._reserve(keys=keys, args=args)
        if int(ok):
            at = float(value)
            return Grant(True, at, max(0.0, at - float(now)))
        return Grant(False, 0.0, float(value))

    def now(self) -> float:
        """Redis's clock, the one every grant is expressed in."""
        sec, usec = self.r.time()
        return sec + usec / 1e6

    def wait_until(self, grant: Grant) -> None:
        """Sleep until a granted instant (measured against Redis's clock once, then locally)."""
        if grant.ok and grant.wait > 0:
            time.sleep(grant.wait)

    def admit(self, members: list[str], slots: list[Slots], rates: list[Rate], *, ttl: float,
              horizon: float = 1.0) -> Admission:
        """Hold slots and reserve grants for a batch of calls in one round trip (see ``_ADMIT``).

        The same limits as :meth:`acquire_slot` then :meth:`reserve` per call, applied atomically to as
        many of ``members`` (in order) as every cap allows right now.
        """
        for s in slots:
            if s.cap <= 0:
                raise PacingError(f"a concurrency cap must be positive, got {s.cap!r}")
        if not members:
            return Admission([], self.now(), False, 0.0)
        keys = [s.key for s in slots] + [r.key for r in rates]
        args = [len(slots), horizon, ttl] + [s.cap for s in slots] + [r.interval for r in rates] + list(members)
        out = self._admit(keys=keys, args=args)
        reason = int(out[0])
        return Admission([float(x) for x in out[3:]], float(out[2]), reason == 1, float(out[1]))

    # -- concurrency ---------------------------------------------------------
    def acquire_slot(self, key: str, member: str, cap: int, ttl: float) -> bool:
        """Hold one of ``cap`` slots for ``member`` (a call uuid) for at most ``ttl`` seconds."""
        if cap <= 0:
            raise PacingError(f"a concurrency cap must be positive, got {cap!r}")
        return bool(int(self._acquire(keys=[key], args=[member, cap, ttl])))

    def release_slot(self, key: str, member: str) -> None:
        """Give a slot back (the call ended or was never launched)."""
        self.r.zrem(key, member)

    def slots_in_use(self, key: str) -> int:
        """Live members of a slot set (expired ones dropped)."""
        return int(self._count(keys=[key]))


# ---------------------------------------------------------------------------
# What the campaign has learned
# ---------------------------------------------------------------------------

@dataclass
class CallStats:
    """Per-campaign averages learned from finished attempts (exponentially weighted)."""

    answer_rate: float = 1.0  # assume every call answers until we know better: the safe side
    ring_seconds: float = 20.0
    talk_seconds: float = 60.0
    samples: int = 0


_ALPHA = 0.1


def stats_key(prefix: str, campaign_id: str) -> str:
    """Redis hash holding a campaign's CallStats."""
    return f"{prefix}:stats:campaign:{campaign_id}"


def load_stats(client: _redis.Redis, prefix: str, campaign_id: str) -> CallStats:
    """The campaign's learned CallStats (defaults before the first call ends)."""
    raw = client.hgetall(stats_key(prefix, campaign_id))
    if not raw:
        return CallStats()
    get = lambda k, d: float(raw.get(k.encode(), raw.get(k, d)))  # noqa: E731
    return CallStats(get("answer_rate", 1.0), get("ring_seconds", 20.0), get("talk_seconds", 60.0),
                     int(get("samples", 0)))


# KEYS[1]: the campaign's stats hash. ARGV: answered (1/0), ring seconds, talk seconds, alpha, ttl seconds.
# The read-modify-write of learn() in one step: no round trip to read first, and concurrent learners
# (every worker applies its own calls' hangups) cannot overwrite each other's samples.
_LEARN = Lua("""
local v = redis.call('HMGET', KEYS[1], 'answer_rate', 'ring_seconds', 'talk_seconds', 'samples')
local function num(x, default)
  if x then return tonumber(x) or default end
  return default
end
local rate, ring, talk = num(v[1], 1.0), num(v[2], 20.0), num(v[3], 60.0)
local samples = math.floor(num(v[4], 0))
local answered = ARGV[1] == '1'
local a = tonumber(ARGV[4])
if samples == 0 then a = 1.0 end
rate = rate + a * ((answered and 1.0 or 0.0) - rate)
ring = ring + a * (math.max(0.0, tonumber(ARGV[2])) - ring)
if answered then talk = talk + a * (math.max(0.0, tonumber(ARGV[3])) - talk) end
samples = samples + 1
local out = {string.format('%.17g', rate), string.format('%.17g', ring), string.format('%.17g', talk),
             string.format('%d', samples)}
redis.call('HSET', KEYS[1], 'answer_rate', out[1], 'ring_seconds', out[2], 'talk_seconds', out[3],
           'samples', out[4])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return out
""")

_STATS_TTL = 7 * 86400


def _learn_call(prefix: str, campaign_id: str, answered: bool, ring_seconds: float, talk_seconds: float):
    return [stats_key(prefix, campaign_id)], ["1" if answered else "0", repr(float(ring_seconds)),
                                              repr(float(talk_seconds)), repr(_ALPHA), _STATS_TTL]


def learn(client: _redis.Redis, prefix: str, campaign_id: str, answered: bool,
          ring_seconds: float, talk_seconds: float) -> CallStats:
    """Fold one finished attempt into the campaign's CallStats (one atomic script) and return them."""
    out = _LEARN(client, *_learn_call(prefix, campaign_id, answered, ring_seconds, talk_seconds))
    return CallStats(float(out[0]), float(out[1]), float(out[2]), int(out[3]))


def queue_learn(pipe, prefix: str, campaign_id: str, answered: bool, ring_seconds: float,
                talk_seconds: float) -> None:
    """:func:`learn` added to a pipeline (send it with :func:`dialer.lua.execute`)."""
    _LEARN.queue(pipe, *_learn_call(prefix, campaign_id, answered, ring_seconds, talk_seconds))


def sustainable_cpm(max_concurrent: int, stats: CallStats, dial_ratio: float = 1.0) -> float:
    """Calls per minute that ``max_concurrent`` channels can carry at the learned ring/answer/talk times.

    A call holds a channel while it rings and, when answered, while it talks
    (Little's law: channels = rate x mean holding time). ``dial_ratio`` above
    1 is the predictive mode's over-dial; 1.0 keeps channels within the cap.
    """
    hold = max(0.5, stats.ring_seconds + stats.answer_rate * stats.talk_seconds)
    return 60.0 * max_concurrent * max(1.0, dial_ratio) / hold

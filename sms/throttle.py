"""The submit_sm rate of a system_id, admitted at the moment of the write: a sliding window on Redis's clock.

An SMSC counts the submit_sm it receives per second. A rate grant taken
*before* the write (GCRA, as the calls' pacer does) is only as good as the
time between the grant and the write: a commit, a lock or a descheduled
process there moves writes, and two grants 1 s apart become writes less than
1 s apart. So the rate is admitted here in the same Lua step that marks the
part "being written" (:data:`ADMIT`, with the worker's fence check), run right
before the socket write with nothing but the bind's write lock in between:

* a sorted set per system_id (``<prefix>:sms:sent:<system_id>``) holds one
  stamp per write of the last ``window`` seconds, on Redis ``TIME``;
* a write is admitted iff fewer than ``limit`` stamps lie in the trailing
  window (1 s and a small :data:`GUARD` for the SMSC's side), and the last admission is at least ``gap`` ago (so the writes of a
  backlog are spread over the second instead of burst at its start);
  otherwise the answer is how long to wait, and the writer waits and asks
  again — a slot is never given up, only waited for;
* a stamp is an *upper bound* of when the SMSC can have received the write:
  at admission it is ``now + IN_FLIGHT`` (the write has not happened yet), and
  once the PDU is in the socket :data:`CONFIRM` replaces it by Redis's time
  after the write. A new write is admitted at ``now`` only if the stamp
  ``limit`` writes back is at least ``window`` older — so the SMSC's receive
  times of those two writes are at least ``window`` apart, whatever happened
  between each admission and its write. The window holds exactly, not on
  average, at the price of the write's own duration per window (well under
  1 % of the rate).

A worker killed between admission and confirmation leaves its stamp at
``now + IN_FLIGHT``: counted a little longer than needed, never too short.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dialer.lua import Lua

#: Seconds an admitted write is assumed to take at most to reach the socket before it is confirmed.
IN_FLIGHT = 0.5
#: Seconds added to the SMSC's 1-second window: how much later than our stamp after the write the SMSC may
#: take a submit_sm as received (its own receive path's jitter; measured on loopback under load: up to
#: about 3 ms). It costs as much of the rate (0.5 %).
GUARD = 0.005
#: The least spacing of admissions, as a share of the mean interval (window / limit): room to catch up
#: after a late wake-up, while a backlog is still spread over the second.
GAP_SHARE = 0.9

# KEYS[1]: the worker's fence key, KEYS[2]: the part's writing key, KEYS[3]: the system_id's stamps (a
# sorted set), KEYS[4]: the system_id's last admission time.
# ARGV: worker id, writing-key ttl, limit, window seconds, gap seconds, in-flight seconds, member.
# Returns {-1} when the worker is fenced, {0, seconds to wait} when the window is full or the gap not yet
# over, {1, now} when admitted (the stamp and the writing mark are set).
ADMIT = Lua("""
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1, '0'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit, window, gap, flight = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. string.format('%.6f', now - window))
local wait = 0
local n = redis.call('ZCARD', KEYS[3])
if n >= limit then
  -- the (n - limit + 1)-th oldest stamp must leave the window first
  local s = redis.call('ZRANGE', KEYS[3], n - limit, n - limit, 'WITHSCORES')
  wait = tonumber(s[2]) + window - now
end
local last = tonumber(redis.call('GET', KEYS[4]))
if last and last + gap - now > wait then wait = last + gap - now end
if wait > 0 then return {0, string.format('%.6f', wait)} end
redis.call('ZADD', KEYS[3], now + flight, ARGV[7])
redis.call('PEXPIRE', KEYS[3], math.ceil((window + flight) * 1000) + 60000)
redis.call('SET', KEYS[4], string.format('%.6f', now), 'PX', math.ceil(gap * 1000) + 60000)
redis.call('SET', KEYS[2], ARGV[1], 'EX', tonumber(ARGV[2]))
return {1, string.format('%.6f', now)}
""")

# KEYS[1]: the stamps. ARGV[1]: member. The admitted write is in the socket: its stamp becomes Redis's time
# now (an upper bound of its arrival at the SMSC, and usually well below the admission's now + IN_FLIGHT).
CONFIRM = Lua("""
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
return string.format('%.6f', now)
""")


@dataclass(frozen=True)
class Window:
    """``limit`` submit_sm in any ``window`` seconds (the SMSC's second and :data:`GUARD`), admissions at
    least ``gap`` apart."""

    limit: int
    window: float
    gap: float

    @classmethod
    def per_second(cls, tps: float) -> "Window":
        """The window for SMPP_TPS: ``floor(tps)`` in any second (at least one per ``1 / tps`` below 1/s)."""
        if tps <= 0:
            raise ValueError("SMPP_TPS must be positive")
        limit = max(1, math.floor(tps))
        window = max(1.0, limit / tps) + GUARD
        return cls(limit, window, GAP_SHARE * window / limit)


def stamps_key(prefix: str, system_id: str) -> str:
    """The sorted set of a system_id's recent write stamps."""
    return f"{prefix}:sms:sent:{system_id}"


def last_key(prefix: str, system_id: str) -> str:
    """A system_id's last admission time."""
    return f"{prefix}:sms:sent-last:{system_id}"

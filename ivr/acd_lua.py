"""The Lua scripts of ``ivr.acd``: one per transition, each atomic and reading the clock with Redis ``TIME``.

Every script gets ``ARGV[1]`` = key prefix and ``ARGV[2]`` = the agent id (the campaign id for ``reserve`` and
``counts``, the call uuid for ``release_call``). Keys are built inside the scripts from the agent's own
campaign list, which only the scripts know at the time they run. A script answers ``{'ok', now, <the agent's
hash flattened>}``, ``{'none', ...}`` or ``{'error', message}``.
"""

from __future__ import annotations

_COMMON = r"""
local P = ARGV[1]
local t = redis.call('TIME')
local NOW = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function fmt(x) return string.format('%.6f', x) end
local function akey(a) return P .. ':agent:' .. a end
local function ckey(call) return P .. ':acd:call:' .. call end
local function split(s)
  local out = {}
  if s then for id in string.gmatch(s, '[^,]+') do out[#out + 1] = id end end
  return out
end
local function enqueue(a, campaigns, score)
  for _, c in ipairs(split(campaigns)) do redis.call('ZADD', P .. ':acd:ready:' .. c, score, a) end
end
local function dequeue(a, campaigns)
  for _, c in ipairs(split(campaigns)) do redis.call('ZREM', P .. ':acd:ready:' .. c, a) end
end
local function get(a)
  local v = redis.call('HMGET', akey(a), 'state', 'campaigns', 'available_at', 'call', 'pending',
                      'pending_reason', 'prev_at', 'account')
  return {state = v[1] or nil, campaigns = v[2] or nil, available_at = v[3] or nil, call = v[4] or nil,
          pending = v[5] or nil, pending_reason = v[6] or nil, prev_at = v[7] or nil, account = v[8] or nil}
end
local function available(h)
  return h.state == 'ready' or (h.state == 'wrap_up' and tonumber(h.available_at or '0') <= NOW)
end
local function on_a_call(h) return h.state == 'reserved' or h.state == 'on_call' end
local function answer(a, ...)
  local out = {'ok', fmt(NOW), ...}
  for _, v in ipairs(redis.call('HGETALL', akey(a))) do out[#out + 1] = v end
  return out
end
local function err(msg) return {'error', msg} end
local function unknown(a) return err('agent ' .. a .. ' is not logged in') end
local function logged_out(a, h)
  dequeue(a, h.campaigns)
  for _, c in ipairs(split(h.campaigns)) do redis.call('SREM', P .. ':acd:agents:' .. c, a) end
  redis.call('HSET', akey(a), 'state', 'logged_out', 'since', fmt(NOW), 'campaigns', '', 'reason', '')
  redis.call('HDEL', akey(a), 'available_at', 'pending', 'pending_reason')
end
local function paused(a, h, reason)
  dequeue(a, h.campaigns)
  redis.call('HSET', akey(a), 'state', 'paused', 'reason', reason, 'since', fmt(NOW))
  redis.call('HDEL', akey(a), 'available_at', 'pending', 'pending_reason')
end
local function ready_at(a, h, at, since)
  local state = 'ready'
  if at > NOW then state = 'wrap_up' end
  redis.call('HSET', akey(a), 'state', state, 'since', fmt(since), 'available_at', fmt(at), 'reason', '')
  enqueue(a, h.campaigns, fmt(at))
end
-- The call is over (or never connected): a pause/logout asked for during it applies now.
local function leave_call(a, h)
  redis.call('DEL', ckey(h.call))
  redis.call('HDEL', akey(a), 'call', 'campaign', 'prev_at')
  redis.call('HSET', akey(a), 'last_call', h.call)  -- a disposition may name it after the call
  if h.pending == 'paused' then paused(a, h, h.pending_reason or '') return true end
  if h.pending == 'logged_out' then logged_out(a, h) return true end
  return false
end
local function take(a, h, call, campaign)
  dequeue(a, h.campaigns)
  redis.call('HSET', akey(a), 'state', 'reserved', 'call', call, 'campaign', campaign, 'since', fmt(NOW),
             'prev_at', h.available_at or fmt(NOW), 'reason', '')
  redis.call('SET', ckey(call), a)
end
"""

_LOGIN = r"""
local a, account, campaigns = ARGV[2], ARGV[3], ARGV[4]
local h = get(a)
if h.account and h.account ~= '' and h.account ~= account then
  return err('agent ' .. a .. ' belongs to another account')
end
if on_a_call(h) then return err('agent ' .. a .. ' is on a call; log in again after it ends') end
if h.state and h.state ~= 'logged_out' then
  dequeue(a, h.campaigns)
  for _, c in ipairs(split(h.campaigns)) do redis.call('SREM', P .. ':acd:agents:' .. c, a) end
end
for _, c in ipairs(split(campaigns)) do redis.call('SADD', P .. ':acd:agents:' .. c, a) end
redis.call('HSET', akey(a), 'account', account, 'campaigns', campaigns, 'endpoint', ARGV[5],
           'persistent', ARGV[6], 'channel', ARGV[7])
h.campaigns = campaigns
if ARGV[8] ~= '1' then
  if h.state ~= 'paused' then paused(a, h, 'login') end
elseif h.state == 'ready' or h.state == 'wrap_up' then
  enqueue(a, campaigns, h.available_at)  -- a new campaign list, the same idle time
else
  ready_at(a, h, NOW, NOW)
end
return answer(a)
"""

_READY = r"""
local a = ARGV[2]
local h = get(a)
if not h.state or h.state == 'logged_out' then return unknown(a) end
if on_a_call(h) then
  redis.call('HDEL', akey(a), 'pending', 'pending_reason')
elseif available(h) then
  ready_at(a, h, tonumber(h.available_at), tonumber(h.available_at))  -- already idle: keep its place
else
  ready_at(a, h, NOW, NOW)
end
return answer(a)
"""

_PAUSE = r"""
local a, reason = ARGV[2], ARGV[3]
local h = get(a)
if not h.state or h.state == 'logged_out' then return unknown(a) end
if on_a_call(h) then
  redis.call('HSET', akey(a), 'pending', 'paused', 'pending_reason', reason)
elseif h.state == 'paused' then
  redis.call('HSET', akey(a), 'reason', reason)
else
  paused(a, h, reason)
end
return answer(a)
"""

_LOGOUT = r"""
local a = ARGV[2]
local h = get(a)
if not h.state then return unknown(a) end
if on_a_call(h) then
  redis.call('HSET', akey(a), 'pending', 'logged_out')
  redis.call('HDEL', akey(a), 'pending_reason')
elseif h.state ~= 'logged_out' then
  logged_out(a, h)
end
return answer(a)
"""

_SET_CHANNEL = r"""
local a = ARGV[2]
if not get(a).state then return unknown(a) end
redis.call('HSET', akey(a), 'channel', ARGV[3])
return answer(a)
"""

_RESERVE = r"""
local campaign, call = ARGV[2], ARGV[3]
local held = redis.call('GET', ckey(call))
if held then
  local r = answer(held)
  table.insert(r, 3, held)
  return r
end
local zkey = P .. ':acd:ready:' .. campaign
while true do
  local first = redis.call('ZRANGEBYSCORE', zkey, '-inf', fmt(NOW), 'LIMIT', 0, 1)
  if #first == 0 then break end
  local a = first[1]
  local h = get(a)
  if available(h) then
    take(a, h, call, campaign)
    local r = answer(a)
    table.insert(r, 3, a)
    return r
  end
  redis.call('ZREM', zkey, a)  -- not available after all (should not happen): repair the set
end
local nxt = redis.call('ZRANGEBYSCORE', zkey, '(' .. fmt(NOW), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
if #nxt > 0 then return {'none', fmt(NOW), nxt[2]} end
return {'none', fmt(NOW)}
"""

_RESERVE_AGENT = r"""
local a, call = ARGV[2], ARGV[3]
local held = redis.call('GET', ckey(call))
if held then
  if held == a then return {'ok'} end
  return {'none'}
end
local h = get(a)
if not available(h) then return {'none'} end
take(a, h, call, '')
return {'ok'}
"""

_CONNECTED = r"""
local a, call = ARGV[2], ARGV[3]
local h = get(a)
if not h.state or h.state == 'logged_out' then return unknown(a) end
if not on_a_call(h) or h.call ~= call then
  return err('agent ' .. a .. ' is not reserved for call ' .. call .. ' (it is ' .. h.state .. ')')
end
if h.state == 'reserved' then redis.call('HSET', akey(a), 'state', 'on_call', 'since', fmt(NOW)) end
return answer(a)
"""

_RELEASE = r"""
local a, call, wrap = ARGV[2], ARGV[3], tonumber(ARGV[4])
local h = get(a)
if not h.state or h.state == 'logged_out' then return unknown(a) end
if not on_a_call(h) or h.call ~= call then
  return err('agent ' .. a .. ' is not on call ' .. call .. ' (it is ' .. h.state .. ')')
end
if not leave_call(a, h) then ready_at(a, h, NOW + wrap, NOW) end
return answer(a)
"""

_RELEASE_CALL = r"""
local call, wrap = ARGV[2], tonumber(ARGV[3])
local a = redis.call('GET', ckey(call))
if not a then return {'none'} end
local h = get(a)
if not on_a_call(h) or h.call ~= call then
  redis.call('DEL', ckey(call))
  return {'none'}
end
if not leave_call(a, h) then ready_at(a, h, NOW + wrap, NOW) end
return {'ok', a}
"""

_UNRESERVE = r"""
local a, call = ARGV[2], ARGV[3]
local h = get(a)
if not h.state or h.state == 'logged_out' then return unknown(a) end
if h.state ~= 'reserved' or h.call ~= call then
  return err('agent ' .. a .. ' is not reserved for call ' .. call .. ' (it is ' .. h.state .. ')')
end
if not leave_call(a, h) then
  local at = tonumber(h.prev_at or fmt(NOW))
  local since = NOW
  if at <= NOW then since = at end
  ready_at(a, h, at, since)
end
return answer(a)
"""

_END_WRAP_UP = r"""
local a = ARGV[2]
local h = get(a)
if not h.state then return unknown(a) end
if h.state == 'wrap_up' and tonumber(h.available_at or '0') > NOW then
  ready_at(a, h, NOW, NOW)
  return {'ok'}
end
return {'none'}
"""

_COUNTS = r"""
local members = redis.call('SMEMBERS', P .. ':acd:agents:' .. ARGV[2])
local ready, reserved, on_call, paused_n, logged_in = 0, 0, 0, 0, 0
local remaining, talking = {}, {}
for _, a in ipairs(members) do
  local v = redis.call('HMGET', akey(a), 'state', 'available_at', 'since')
  local state = v[1]
  if state and state ~= 'logged_out' then logged_in = logged_in + 1 end
  if state == 'ready' then ready = ready + 1
  elseif state == 'wrap_up' then
    local at = tonumber(v[2] or '0')
    if at <= NOW then ready = ready + 1 else remaining[#remaining + 1] = fmt(at - NOW) end
  elseif state == 'reserved' then reserved = reserved + 1
  elseif state == 'on_call' then
    on_call = on_call + 1
    talking[#talking + 1] = fmt(math.max(0, NOW - tonumber(v[3] or tostring(NOW))))
  elseif state == 'paused' then paused_n = paused_n + 1 end
end
local out = {'ok', ready, reserved, on_call, paused_n, logged_in, #remaining}
for _, r in ipairs(remaining) do out[#out + 1] = r end
for _, e in ipairs(talking) do out[#out + 1] = e end
return out
"""

SCRIPTS = {
    name: _COMMON + body
    for name, body in {
        "login": _LOGIN,
        "ready": _READY,
        "pause": _PAUSE,
        "logout": _LOGOUT,
        "set_channel": _SET_CHANNEL,
        "reserve": _RESERVE,
        "reserve_agent": _RESERVE_AGENT,
        "connected": _CONNECTED,
        "release": _RELEASE,
        "release_call": _RELEASE_CALL,
        "unreserve": _UNRESERVE,
        "end_wrap_up": _END_WRAP_UP,
        "counts": _COUNTS,
    }.items()
}

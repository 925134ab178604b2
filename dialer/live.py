"""Live-call counters in Redis for seed 002's ``get_live_call_statistics``.

One hash ``<prefix>:live:channels`` maps each live channel uuid to
``"<category>|<account_id>"``; one hash per account,
``<prefix>:live:calls:<account_id>``, holds the counts per category. Both
change together in a Lua script, and a channel is counted only when it is
added to (or removed from) the first hash, so a duplicated ``CHANNEL_ANSWER``
or ``CHANNEL_HANGUP_COMPLETE`` changes nothing: the counters are idempotent
per channel uuid.

The ESL listener calls ``call_started(call_type, uuid=..., account_id=...)``
on ``CHANNEL_ANSWER`` and ``call_ended(uuid)`` on ``CHANNEL_HANGUP_COMPLETE``;
after a reconnect it calls ``reconcile_live(alive_uuids)`` with the uuids
FreeSWITCH still reports, which drops the channels whose hangup was missed.
The API reads ``live_counts(account_id)``. These take ``cfg`` (default: the
process configuration); the functions taking ``(client, prefix, ...)`` below
them are the same operations on an explicit Redis client, and
``queue_answered``/``queue_ended`` add them to a pipeline (the dialer sends
every side effect of a batch of events in one round trip).
"""

from __future__ import annotations

from typing import Iterable

from dialer.lua import Lua

#: Seed 002 live-statistics category of each call type.
CATEGORY_BY_CALL_TYPE = {
    "click2call": "c2c",
    "callback": "c2c",
    "campaign": "campaign",
    "konnect": "campaign",  # Konnect ``Calls`` and Kairos flows are outbound campaigns in their own vocabulary
    "kairos": "campaign",
    "inbound": "inbound",
    "otp": "otp",
}
CATEGORIES = ("c2c", "campaign", "inbound", "otp")

_ANSWER = Lua("""
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3]) == 1 then
  redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  return 1
end
return 0
""")

_END = Lua("""
local value = redis.call('HGET', KEYS[1], ARGV[1])
if not value then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local sep = string.find(value, '|', 1, true)
local category = string.sub(value, 1, sep - 1)
local account = string.sub(value, sep + 1)
local counter = ARGV[2] .. account
if redis.call('HINCRBY', counter, category, -1) < 0 then
  redis.call('HSET', counter, category, 0)
end
return 1
""")


def _channels_key(prefix: str) -> str:
    return f"{prefix}:live:channels"


def _counter_prefix(prefix: str) -> str:
    return f"{prefix}:live:calls:"


def category_for(call_type: str | None) -> str:
    """The live-statistics category of a call type (unknown types count as campaign calls)."""
    return CATEGORY_BY_CALL_TYPE.get(call_type or "", "campaign")


def _answer_call(prefix: str, uuid: str, call_type: str | None, account_id: str | None):
    if not uuid:
        raise ValueError("call_answered needs a channel uuid")
    account = account_id or ""
    if "|" in (account + uuid):
        raise ValueError("account ids and uuids must not contain '|'")
    return [_channels_key(prefix), _counter_prefix(prefix) + account], [uuid, category_for(call_type), account]


def answered(client, prefix: str, uuid: str, call_type: str | None, account_id: str | None) -> bool:
    """Count an answered channel once; returns False when it was already counted."""
    keys, args = _answer_call(prefix, uuid, call_type, account_id)
    return bool(_ANSWER(client, keys, args))


def queue_answered(pipe, prefix: str, uuid: str, call_type: str | None, account_id: str | None) -> None:
    """:func:`answered` added to a pipeline (send it with :func:`dialer.lua.execute`)."""
    keys, args = _answer_call(prefix, uuid, call_type, account_id)
    _ANSWER.queue(pipe, keys, args)


def ended(client, prefix: str, uuid: str) -> bool:
    """Uncount a channel that hung up; returns False when it was not counted (never answered, or already ended)."""
    if not uuid:
        return False
    return bool(_END(client, [_channels_key(prefix)], [uuid, _counter_prefix(prefix)]))


def queue_ended(pipe, prefix: str, uuid: str) -> None:
    """:func:`ended` added to a pipeline (nothing for an empty uuid)."""
    if uuid:
        _END.queue(pipe, [_channels_key(prefix)], [uuid, _counter_prefix(prefix)])


def live_call_statistics(client, prefix: str, account_id: str) -> dict[str, int]:
    """Seed 002 ``get_live_call_statistics`` result for one account."""
    raw = client.hgetall(_counter_prefix(prefix) + account_id)
    counts = {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in raw.items()}
    return {f"live_calls_{c}": max(0, counts.get(c, 0)) for c in CATEGORIES}


def live_channels(client, prefix: str, account_id: str | None = None) -> dict[str, tuple[str, str]]:
    """Live channel uuids → ``(category, account_id)``, optionally only one account's (e.g. for ``modify_call``)."""
    out = {}
    for uuid, value in client.hscan_iter(_channels_key(prefix), count=1000):
        uuid = uuid.decode() if isinstance(uuid, bytes) else uuid
        value = value.decode() if isinstance(value, bytes) else value
        category, _, account = value.partition("|")
        if account_id is None or account == account_id:
            out[uuid] = (category, account)
    return out


def reconcile(client, prefix: str, alive_uuids: Iterable[str]) -> int:
    """Uncount every channel FreeSWITCH no longer has (hangups missed during an ESL outage). Returns how many."""
    alive = set(alive_uuids)
    gone = [u for u in live_channels(client, prefix) if u not in alive]
    return sum(1 for u in gone if ended(client, prefix, u))


# ---------------------------------------------------------------- with the configuration


def _client(cfg):
    from dialer.callbacks import shared_redis

    return shared_redis(cfg.redis_url)


def _cfg(cfg):
    if cfg is not None:
        return cfg
    from config import settings

    return settings()


def call_started(call_type: str | None, cfg=None, *, uuid: str | None = None, account_id: str | None = None) -> bool:
    """Count an answered channel (``CHANNEL_ANSWER``); idempotent per ``uuid``."""
    if not uuid:
        raise ValueError("call_started needs the channel uuid (counters are idempotent per channel)")
    cfg = _cfg(cfg)
    return answered(_client(cfg), cfg.key_prefix, uuid, call_type, account_id)


def call_ended(uuid: str | None, cfg=None) -> bool:
    """Uncount a channel that hung up (``CHANNEL_HANGUP_COMPLETE``); harmless for a channel never counted."""
    cfg = _cfg(cfg)
    return ended(_client(cfg), cfg.key_prefix, uuid or "")


def live_counts(account_id: str, cfg=None) -> dict[str, int]:
    """Seed 002 ``get_live_call_statistics`` result for one account."""
    cfg = _cfg(cfg)
    return live_call_statistics(_client(cfg), cfg.key_prefix, account_id)


def reconcile_live(alive_uuids: Iterable[str], cfg=None) -> int:
    """:func:`reconcile` with the configured Redis."""
    cfg = _cfg(cfg)
    return reconcile(_client(cfg), cfg.key_prefix, alive_uuids)

"""The submit_sm admission at the moment of the write (sms/throttle.py), on a real Redis: no clocks asserted."""

from __future__ import annotations

import redis

from sms import throttle


def _admit(client, prefix, member, *, limit=3, window=60.0, gap=0.0, fenced_worker="w1"):
    keys = [f"{prefix}:sms:fenced:{fenced_worker}", f"{prefix}:sms:writing:{member}",
            throttle.stamps_key(prefix, "sys"), throttle.last_key(prefix, "sys")]
    ok, value = throttle.ADMIT(client, keys, ["w1", 60, limit, window, gap, throttle.IN_FLIGHT, member])
    return int(ok), float(value), keys


def test_a_full_window_answers_a_wait_and_marks_nothing(redis_url, key_prefix):
    client = redis.Redis.from_url(redis_url)
    for n in range(3):
        ok, _, keys = _admit(client, key_prefix, f"p{n}")
        assert ok == 1 and client.get(keys[1]) == b"w1"  # admitted: the part's writing mark is set
    ok, wait, keys = _admit(client, key_prefix, "p3")
    assert ok == 0 and 0 < wait <= 60 + throttle.IN_FLIGHT
    assert not client.exists(keys[1])  # refused: not marked as being written
    assert client.zcard(keys[2]) == 3


def test_the_gap_spaces_admissions_and_a_fenced_worker_is_refused(redis_url, key_prefix):
    client = redis.Redis.from_url(redis_url)
    assert _admit(client, key_prefix, "a", gap=30.0)[0] == 1
    ok, wait, _ = _admit(client, key_prefix, "b", gap=30.0)
    assert ok == 0 and 0 < wait <= 30
    client.set(f"{key_prefix}:sms:fenced:w1", "1")
    ok, _, keys = _admit(client, key_prefix, "c", limit=100)
    assert ok == -1 and not client.exists(keys[1])


def test_confirm_lowers_the_stamp_to_after_the_write(redis_url, key_prefix):
    client = redis.Redis.from_url(redis_url)
    _, now, keys = _admit(client, key_prefix, "p")
    assert abs(client.zscore(keys[2], "p") - (now + throttle.IN_FLIGHT)) < 1e-5  # an upper bound, unwritten
    confirmed = float(throttle.CONFIRM(client, [keys[2]], ["p"]))
    assert confirmed >= now
    assert abs(client.zscore(keys[2], "p") - confirmed) < 1e-5


def test_window_per_second():
    w = throttle.Window.per_second(25)
    assert (w.limit, w.window) == (25, 1.0 + throttle.GUARD)
    assert w.gap < w.window / w.limit
    slow = throttle.Window.per_second(0.5)
    assert (slow.limit, slow.window) == (1, 2.0 + throttle.GUARD)

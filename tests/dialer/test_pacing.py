"""Pacing against the real Redis: shared rate limits across processes, lowest cap wins, concurrency slots."""

import json
import subprocess
import sys

import pytest
import redis

from dialer.pacing import CallStats, Pacer, PacingError, Rate, learn, load_stats, sustainable_cpm

_WORKER = r"""
import json, sys, time, redis
from dialer.pacing import Pacer, Rate
url, prefix, cpm, n = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
p = Pacer(redis.Redis.from_url(url), prefix)
rates = [Rate.per_minute(p.rate_key("campaign", "C"), cpm)]
grants = []
while len(grants) < n:
    g = p.reserve(rates, horizon=0.05)
    if g.ok:
        grants.append(g.at)
    else:
        time.sleep(min(g.wait, 0.05))
print(json.dumps(grants))
"""


def test_rate_holds_across_four_worker_processes(redis_url, key_prefix):
    cpm, per_worker, workers = 6000.0, 30, 4
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, redis_url, key_prefix, str(cpm), str(per_worker)],
                              stdout=subprocess.PIPE, text=True) for _ in range(workers)]
    grants = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        grants += json.loads(out)
    grants.sort()
    assert len(grants) == workers * per_worker
    interval = 60.0 / cpm
    gaps = [b - a for a, b in zip(grants, grants[1:])]
    # Every grant is at least one interval after the previous one, whichever process got it.
    assert min(gaps) >= interval - 1e-5
    # ...and none is wasted: the schedule is contiguous once the workers are all running.
    assert sorted(gaps)[len(gaps) // 2] < interval * 1.5


def test_lowest_cap_wins_and_reserve_looks_ahead(redis_url, key_prefix):
    p = Pacer(redis.Redis.from_url(redis_url), key_prefix)
    campaign = Rate.per_minute(p.rate_key("campaign", "C"), 600)  # 0.1 s
    gateway = Rate.per_second(p.rate_key("gateway", "gw"), 5)  # 0.2 s: the stricter one
    first = p.reserve([campaign, gateway], horizon=1.0)
    second = p.reserve([campaign, gateway], horizon=1.0)
    assert first.ok and second.ok
    assert abs((second.at - first.at) - 0.2) < 1e-4
    # The campaign's own next slot moved too, so another campaign on the gateway waits its turn.
    other = Rate.per_minute(p.rate_key("campaign", "D"), 600)
    third = p.reserve([other, gateway], horizon=1.0)
    assert abs((third.at - second.at) - 0.2) < 1e-4
    # A slot further ahead than the horizon is refused with the time to wait, and nothing is consumed.
    refused = p.reserve([gateway], horizon=0.0)
    assert not refused.ok and refused.wait > 0
    fourth = p.reserve([gateway], horizon=1.0)
    assert abs((fourth.at - third.at) - 0.2) < 1e-4


def test_concurrency_slots(redis_url, key_prefix):
    p = Pacer(redis.Redis.from_url(redis_url), key_prefix)
    key = p.slots_key("campaign", "C")
    assert p.acquire_slot(key, "u1", 2, ttl=30)
    assert p.acquire_slot(key, "u2", 2, ttl=30)
    assert p.acquire_slot(key, "u1", 2, ttl=30)  # re-acquiring one's own slot is idempotent
    assert not p.acquire_slot(key, "u3", 2, ttl=30)
    p.release_slot(key, "u1")
    assert p.acquire_slot(key, "u3", 2, ttl=30)
    assert p.slots_in_use(key) == 2
    # A slot whose holder vanished expires by itself.
    assert p.acquire_slot(p.slots_key("campaign", "E"), "dead", 1, ttl=0.05)
    import time
    time.sleep(0.1)
    assert p.acquire_slot(p.slots_key("campaign", "E"), "alive", 1, ttl=30)


def test_bad_caps_are_refused():
    import pytest
    with pytest.raises(PacingError):
        Rate.per_minute("k", 0)
    with pytest.raises(PacingError):
        Rate.per_second("k", -1)


def test_learned_answer_rate_limits_the_dial_rate(redis_url, key_prefix):
    r = redis.Redis.from_url(redis_url)
    assert load_stats(r, key_prefix, "C") == CallStats()
    for _ in range(30):
        learn(r, key_prefix, "C", answered=False, ring_seconds=10, talk_seconds=0)
    s = load_stats(r, key_prefix, "C")
    assert s.answer_rate < 0.1 and abs(s.ring_seconds - 10) < 1
    # 10 channels holding ~10 s each carry ~60 calls a minute; with every call answered for 60 s far fewer.
    assert 50 < sustainable_cpm(10, s) <= 60
    assert sustainable_cpm(10, CallStats(answer_rate=1.0, ring_seconds=10, talk_seconds=50)) == 10.0


def test_admit_holds_slots_and_spaces_grants_for_a_batch(redis_url, key_prefix):
    from dialer.pacing import Slots

    p = Pacer(redis.Redis.from_url(redis_url), key_prefix)
    node = Slots(p.slots_key("node", "n1"), 3)
    camp = Slots(p.slots_key("campaign", "B"), 10)
    rate = Rate.per_second(p.rate_key("campaign", "B"), 100.0)  # 10 ms apart
    adm = p.admit(["a", "b", "c", "d", "e"], [node, camp], [rate], ttl=30, horizon=1.0)
    # The node's 3 slots bind first: three calls admitted, each 10 ms after the previous one.
    assert len(adm.times) == 3 and adm.full
    assert all(abs((b - a) - 0.01) < 1e-6 for a, b in zip(adm.times, adm.times[1:]))
    assert p.slots_in_use(node.key) == 3 and p.slots_in_use(camp.key) == 3
    # The next reservation of the same rate continues after the batch's last grant.
    g = p.reserve([rate], horizon=1.0)
    assert abs(g.at - (adm.times[-1] + 0.01)) < 1e-6
    # Re-admitting a call that already holds its slot is idempotent, and a freed slot admits one more.
    p.release_slot(node.key, "a")
    again = p.admit(["b", "d"], [node], [], ttl=30)
    assert len(again.times) == 2 and not again.full and p.slots_in_use(node.key) == 3


def test_admit_stops_at_the_horizon_and_says_how_long_to_wait(redis_url, key_prefix):
    p = Pacer(redis.Redis.from_url(redis_url), key_prefix)
    rate = Rate.per_second(p.rate_key("campaign", "H"), 10.0)  # 100 ms apart
    adm = p.admit([f"u{i}" for i in range(10)], [], [rate], ttl=30, horizon=0.25)
    assert len(adm.times) == 3  # now, +0.1, +0.2; +0.3 lies beyond the horizon
    assert not adm.full and 0.0 < adm.wait <= 0.05 + 1e-6
    nothing = p.admit(["late"], [], [rate], ttl=30, horizon=0.0)
    assert nothing.times == [] and nothing.wait > 0.2
    with pytest.raises(PacingError):
        p.admit(["x"], [__import__("dialer.pacing", fromlist=["Slots"]).Slots("k", 0)], [], ttl=1)


def test_learning_on_a_pipeline_matches_learning_on_the_client(redis_url, key_prefix):
    from dialer.lua import execute
    from dialer.pacing import queue_learn

    r = redis.Redis.from_url(redis_url)
    samples = [(True, 4.0, 30.0), (False, 25.0, 0.0), (True, -1.0, 12.5), (False, 3.0, 99.0)]
    direct = [learn(r, key_prefix, "D", *x) for x in samples]
    pipe = r.pipeline(transaction=False)
    for x in samples:
        queue_learn(pipe, key_prefix, "P", *x)
    execute(pipe)
    assert load_stats(r, key_prefix, "P") == load_stats(r, key_prefix, "D") == direct[-1]
    # The first sample replaces the defaults; later ones are weighted; talk time learns from answered calls only.
    first = direct[0]
    assert (first.answer_rate, first.ring_seconds, first.talk_seconds, first.samples) == (1.0, 4.0, 30.0, 1)
    assert direct[1].talk_seconds == 30.0 and abs(direct[1].answer_rate - 0.9) < 1e-12
    assert 0 < r.ttl(f"{key_prefix}:stats:campaign:P") <= 7 * 86400

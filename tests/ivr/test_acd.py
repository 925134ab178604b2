"""ivr.acd against the real Redis: the ready queue, atomic reservation, wrap-up, pauses, the safety net."""

from __future__ import annotations

import time

import gevent
import pytest
import redis

from ivr.acd import Acd, AcdError


@pytest.fixture
def acd(redis_url, key_prefix):
    client = redis.Redis.from_url(redis_url)
    yield Acd(client, key_prefix)
    client.close()


def login(acd, agent_id, campaigns=("c1",), **kw):
    state = acd.login(agent_id, "acc1", list(campaigns), f"user/{agent_id}", **kw)
    time.sleep(0.002)  # distinct idle scores, so the order is the login order
    return state


def test_longest_idle_agent_first(acd):
    for a in ("a1", "a2", "a3"):
        login(acd, a)
    assert acd.reserve("c1", "call-1").agent_id == "a1"
    assert acd.reserve("c1", "call-2").agent_id == "a2"
    # a1's call ends with no wrap-up: it is now the most recently idle, behind a3
    acd.connected("a1", "call-1")
    acd.release("a1", "call-1", 0)
    assert acd.reserve("c1", "call-3").agent_id == "a3"
    assert acd.reserve("c1", "call-4").agent_id == "a1"
    assert acd.reserve("c1", "call-5") is None


def test_reserve_only_agents_of_that_campaign_and_leaves_every_set(acd):
    login(acd, "a1", campaigns=("c1", "c2"))
    login(acd, "a2", campaigns=("c2",))
    assert acd.reserve("c3", "x") is None
    assert acd.reserve("c1", "call-1").agent_id == "a1"
    # a1 is reserved: c2 offers a2 only
    assert acd.reserve("c2", "call-2").agent_id == "a2"
    assert acd.reserve("c2", "call-3") is None
    state = acd.state("a1")
    assert (state.state, state.call, state.campaign) == ("reserved", "call-1", "c1")


def test_a_retried_reservation_answers_the_same_agent(acd):
    login(acd, "a1")
    login(acd, "a2")
    assert acd.reserve("c1", "call-1").agent_id == "a1"
    assert acd.reserve("c1", "call-1").agent_id == "a1"
    assert acd.counts("c1").reserved == 1


@pytest.mark.parametrize("agents,calls", [(5, 50), (40, 40)])
def test_no_agent_is_reserved_twice_under_concurrency(acd, redis_url, key_prefix, agents, calls):
    for i in range(agents):
        acd.login(f"a{i}", "acc1", ["c1"], f"user/{i}")
    # Each greenlet its own client, so the reservations really race on Redis.
    clients = [redis.Redis.from_url(redis_url) for _ in range(calls)]
    results = [None] * calls

    def one(i):
        results[i] = Acd(clients[i], key_prefix).reserve("c1", f"call-{i}")

    gevent.joinall([gevent.spawn(one, i) for i in range(calls)], raise_error=True)
    got = [r.agent_id for r in results if r is not None]
    assert len(got) == min(agents, calls)
    assert len(set(got)) == len(got)
    counts = acd.counts("c1")
    assert (counts.ready, counts.reserved) == (0, len(got))
    for c in clients:
        c.close()


def test_wrap_up_ends_by_time(acd):
    login(acd, "a1")
    acd.reserve("c1", "call-1")
    acd.connected("a1", "call-1")
    state = acd.release("a1", "call-1", 0.3)
    assert state.state == "wrap_up" and state.call is None
    counts = acd.counts("c1")
    assert (counts.ready, counts.wrap_up) == (0, 1)
    assert counts.available_within(0.1) == 0 and counts.available_within(0.5) == 1
    assert acd.reserve("c1", "call-2") is None
    time.sleep(0.35)
    assert acd.state("a1").state == "ready"
    assert acd.counts("c1").ready == 1
    assert acd.reserve("c1", "call-2").agent_id == "a1"


def test_a_disposition_ends_wrap_up_at_once(acd):
    login(acd, "a1")
    acd.reserve("c1", "call-1")
    acd.release("a1", "call-1", 60)
    assert acd.end_wrap_up("a1") is True
    assert acd.state("a1").state == "ready"
    assert acd.end_wrap_up("a1") is False  # a late second disposition changes nothing
    assert acd.reserve("c1", "call-2").agent_id == "a1"


def test_pause_during_a_call_applies_when_it_ends(acd):
    login(acd, "a1")
    acd.reserve("c1", "call-1")
    acd.connected("a1", "call-1")
    state = acd.pause("a1", "lunch")
    assert (state.state, state.pending, state.call) == ("on_call", "paused", "call-1")
    assert acd.reserve("c1", "call-2") is None
    state = acd.release("a1", "call-1", 10)
    assert (state.state, state.reason, state.pending) == ("paused", "lunch", None)
    assert acd.reserve("c1", "call-2") is None
    assert acd.ready("a1").state == "ready"
    assert acd.reserve("c1", "call-2").agent_id == "a1"


def test_logout_during_a_call_and_ready_cancelling_it(acd):
    login(acd, "a1")
    acd.reserve("c1", "call-1")
    assert acd.logout("a1").state == "reserved"
    acd.ready("a1")  # changed its mind
    acd.release("a1", "call-1", 0)
    assert acd.state("a1").state == "ready"
    acd.reserve("c1", "call-2")
    acd.logout("a1")
    acd.release_call("call-2", 5)
    state = acd.state("a1")
    assert state.state == "logged_out" and state.campaigns == ()
    assert acd.counts("c1").logged_in == 0 and acd.agents("c1") == []
    assert acd.logout("a1").state == "logged_out"  # idempotent


def test_release_call_is_idempotent_and_finds_the_agent(acd):
    login(acd, "a1")
    acd.reserve("c1", "call-1")
    acd.connected("a1", "call-1")
    assert acd.release_call("call-1", 0) == "a1"
    assert acd.release_call("call-1", 0) is None
    assert acd.release_call("never-seen", 0) is None
    assert acd.state("a1").state == "ready"
    # after the agent's app released it, the dialer's safety net changes nothing
    acd.reserve("c1", "call-2")
    acd.release("a1", "call-2", 30)
    assert acd.release_call("call-2", 0) is None
    assert acd.state("a1").state == "wrap_up"


def test_unreserve_keeps_the_old_idle_score(acd):
    login(acd, "a1")
    login(acd, "a2")
    acd.reserve("c1", "call-1")  # a1
    state = acd.unreserve("a1", "call-1")
    assert state.state == "ready" and state.call is None
    assert acd.reserve("c1", "call-2").agent_id == "a1"  # still the longest idle
    acd.connected("a1", "call-2")
    with pytest.raises(AcdError, match="not reserved"):
        acd.unreserve("a1", "call-2")


def test_reserve_agent_for_preview(acd):
    login(acd, "a1")
    login(acd, "a2", ready=False)
    assert acd.reserve_agent("a2", "call-1") is False  # paused
    assert acd.reserve_agent("a1", "call-1") is True
    assert acd.reserve_agent("a1", "call-1") is True  # the same call again
    assert acd.reserve_agent("a1", "call-2") is False  # taken
    assert acd.reserve_agent("nobody", "call-3") is False
    assert acd.state("a1").call == "call-1"


def test_wait_reserve_gets_an_agent_ready_at_one_second(acd):
    login(acd, "a1", ready=False)
    gevent.spawn_later(1.0, acd.ready, "a1")
    started = time.monotonic()
    got = acd.wait_reserve("c1", "call-1", timeout=2.0)
    assert got is not None and got.agent_id == "a1"
    assert 0.9 <= time.monotonic() - started < 1.5


def test_wait_reserve_gives_up_at_the_timeout(acd):
    login(acd, "a1", ready=False)
    gevent.spawn_later(2.5, acd.ready, "a1")
    started = time.monotonic()
    assert acd.wait_reserve("c1", "call-1", timeout=2.0) is None
    assert 1.95 <= time.monotonic() - started < 2.4


def test_wait_reserve_gets_an_agent_whose_wrap_up_ends(acd):
    login(acd, "a1")
    acd.reserve("c1", "call-0")
    acd.release("a1", "call-0", 0.2)
    got = acd.wait_reserve("c1", "call-1", timeout=1.0)
    assert got is not None and got.agent_id == "a1"


def test_counts_and_agents(acd):
    login(acd, "a1")
    login(acd, "a2")
    login(acd, "a3", ready=False)
    login(acd, "a4", campaigns=("c1", "c2"))
    acd.reserve("c1", "call-1")  # a1
    acd.reserve("c1", "call-2")  # a2
    acd.connected("a2", "call-2")
    c = acd.counts("c1")
    assert (c.ready, c.wrap_up, c.reserved, c.on_call, c.paused, c.logged_in) == (1, 0, 1, 1, 1, 4)
    # the one agent on a call, with how long it has been connected (a2, just now)
    assert len(c.on_call_elapsed) == 1 and 0.0 <= c.on_call_elapsed[0] < 3600.0
    assert [s.agent_id for s in acd.agents("c1")] == ["a1", "a2", "a3", "a4"]
    assert acd.agents("c1")[2].reason == "login"
    assert acd.counts("c2").logged_in == 1


def test_relogin_changes_campaigns_and_keeps_idle_time(acd):
    login(acd, "a1", campaigns=("c1",))
    login(acd, "a2", campaigns=("c1", "c2"))
    login(acd, "a1", campaigns=("c2",))
    assert acd.counts("c1").logged_in == 1
    assert acd.reserve("c2", "call-1").agent_id == "a1"
    with pytest.raises(AcdError, match="on a call"):
        acd.login("a1", "acc1", ["c1"], "user/a1")
    with pytest.raises(AcdError, match="another account"):
        acd.login("a2", "acc2", ["c1"], "user/a2")


def test_transitions_not_allowed_are_readable_errors(acd):
    with pytest.raises(AcdError, match="not logged in"):
        acd.ready("ghost")
    with pytest.raises(AcdError, match="not logged in"):
        acd.pause("ghost", "x")
    login(acd, "a1")
    with pytest.raises(AcdError, match="not reserved for call"):
        acd.connected("a1", "call-1")
    with pytest.raises(AcdError, match="not on call"):
        acd.release("a1", "call-1", 0)
    with pytest.raises(AcdError, match="at least one campaign"):
        acd.login("a2", "acc1", [], "user/2")
    with pytest.raises(AcdError, match="not a valid id"):
        acd.login("a2", "acc1", ["c,1"], "user/2")
    with pytest.raises(AcdError, match="wrap_up_seconds"):
        acd.release_call("x", -1)
    assert isinstance(AcdError("x"), ValueError)


def test_persistent_agent_fields(acd):
    state = login(acd, "a1", persistent=True, channel="chan-1")
    assert state.persistent and state.channel == "chan-1"
    assert acd.set_channel("a1", None).channel is None
    assert acd.state("nobody") is None

"""Live-call counters in the real Redis: per category, per account, idempotent per channel."""

from __future__ import annotations

import redis as redislib
import pytest

from dialer import live


@pytest.fixture
def r(redis_url):
    client = redislib.Redis.from_url(redis_url)
    yield client
    client.close()


def test_counts_per_category_and_account(r, key_prefix):
    assert live.live_call_statistics(r, key_prefix, "account_1") == {
        "live_calls_c2c": 0, "live_calls_campaign": 0, "live_calls_inbound": 0, "live_calls_otp": 0}
    for uuid, call_type in [("u1", "click2call"), ("u2", "callback"), ("u3", "campaign"), ("u4", "kairos"),
                            ("u5", "inbound"), ("u6", "otp")]:
        assert live.answered(r, key_prefix, uuid, call_type, "account_1")
    live.answered(r, key_prefix, "u7", "otp", "account_2")
    assert live.live_call_statistics(r, key_prefix, "account_1") == {
        "live_calls_c2c": 2, "live_calls_campaign": 2, "live_calls_inbound": 1, "live_calls_otp": 1}
    assert live.live_call_statistics(r, key_prefix, "account_2")["live_calls_otp"] == 1
    assert set(live.live_channels(r, key_prefix, "account_2")) == {"u7"}
    assert live.live_channels(r, key_prefix)["u1"] == ("c2c", "account_1")


def test_duplicates_change_nothing(r, key_prefix):
    assert live.answered(r, key_prefix, "u1", "otp", "account_1")
    assert not live.answered(r, key_prefix, "u1", "otp", "account_1")  # duplicated CHANNEL_ANSWER
    assert live.live_call_statistics(r, key_prefix, "account_1")["live_calls_otp"] == 1
    assert live.ended(r, key_prefix, "u1")
    assert not live.ended(r, key_prefix, "u1")  # duplicated hangup
    assert not live.ended(r, key_prefix, "never-answered")
    assert live.live_call_statistics(r, key_prefix, "account_1")["live_calls_otp"] == 0


def test_reconcile_drops_channels_freeswitch_no_longer_has(r, key_prefix):
    for u in ("a", "b", "c"):
        live.answered(r, key_prefix, u, "campaign", "account_1")
    assert live.reconcile(r, key_prefix, ["b", "zzz"]) == 2
    assert live.live_call_statistics(r, key_prefix, "account_1")["live_calls_campaign"] == 1
    assert set(live.live_channels(r, key_prefix)) == {"b"}


def test_bad_input(r, key_prefix):
    with pytest.raises(ValueError):
        live.answered(r, key_prefix, "", "otp", "account_1")
    with pytest.raises(ValueError):
        live.answered(r, key_prefix, "u|x", "otp", "account_1")


def test_configured_entry_points(redis_url, key_prefix):
    from config import load

    cfg = load({"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": key_prefix})
    assert live.call_started("click2call", cfg, uuid="c1", account_id="account_1")
    assert not live.call_started("click2call", cfg, uuid="c1", account_id="account_1")
    assert live.live_counts("account_1", cfg)["live_calls_c2c"] == 1
    assert live.reconcile_live([], cfg) == 1
    assert live.live_counts("account_1", cfg)["live_calls_c2c"] == 0
    assert not live.call_ended("c1", cfg)
    with pytest.raises(ValueError, match="uuid"):
        live.call_started("otp", cfg)


def test_counters_queued_on_a_pipeline_behave_the_same(r, key_prefix):
    from dialer.lua import execute

    pipe = r.pipeline(transaction=False)
    live.queue_answered(pipe, key_prefix, "p1", "otp", "account_1")
    live.queue_answered(pipe, key_prefix, "p1", "otp", "account_1")  # duplicated CHANNEL_ANSWER
    live.queue_answered(pipe, key_prefix, "p2", "campaign", "account_1")
    live.queue_ended(pipe, key_prefix, "p2")
    live.queue_ended(pipe, key_prefix, "p2")  # duplicated hangup
    live.queue_ended(pipe, key_prefix, "")  # nothing queued
    assert execute(pipe) == [1, 0, 1, 1, 0]
    assert live.live_call_statistics(r, key_prefix, "account_1") == {
        "live_calls_c2c": 0, "live_calls_campaign": 0, "live_calls_inbound": 0, "live_calls_otp": 1}
    with pytest.raises(ValueError):
        live.queue_answered(pipe, key_prefix, "", "otp", "account_1")

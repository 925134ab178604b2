"""Lua scripts by SHA on a client and on a pipeline, against the real Redis (a script it has never seen included)."""

from __future__ import annotations

import uuid

import pytest
import redis as redislib
from redis.exceptions import ResponseError

from dialer.lua import Lua, execute


@pytest.fixture
def r(redis_url):
    client = redislib.Redis.from_url(redis_url)
    yield client
    client.close()


def _fresh_script(body: str) -> Lua:
    # A comment unique to this run: Redis cannot hold this script yet, so the first call answers NOSCRIPT.
    return Lua(f"-- {uuid.uuid4().hex}\n{body}")


def test_a_script_redis_never_saw_runs_on_a_client(r, key_prefix):
    incr = _fresh_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert not r.script_exists(incr.sha)[0]
    assert incr(r, [f"{key_prefix}:n"], [2]) == 2
    assert incr(r, [f"{key_prefix}:n"], [3]) == 5


def test_a_pipeline_reruns_only_the_calls_redis_refused_with_noscript(r, key_prefix):
    incr = _fresh_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    pipe = r.pipeline(transaction=False)
    pipe.incrby(f"{key_prefix}:plain", 1)
    incr.queue(pipe, [f"{key_prefix}:n"], [2])
    pipe.incrby(f"{key_prefix}:plain", 1)
    incr.queue(pipe, [f"{key_prefix}:n"], [3])
    assert execute(pipe) == [1, 2, 2, 5]
    # Each command ran exactly once: the plain ones were not sent again with the refused ones.
    assert int(r.get(f"{key_prefix}:plain")) == 2
    assert int(r.get(f"{key_prefix}:n")) == 5
    pipe = r.pipeline(transaction=False)
    incr.queue(pipe, [f"{key_prefix}:n"], [1])
    assert execute(pipe) == [6]


def test_other_errors_are_raised_after_the_rest_ran(r, key_prefix):
    boom = _fresh_script("return redis.error_reply('boom')")
    pipe = r.pipeline(transaction=False)
    boom.queue(pipe)
    pipe.set(f"{key_prefix}:after", "ran")
    with pytest.raises(ResponseError, match="boom"):
        execute(pipe)
    assert r.get(f"{key_prefix}:after") == b"ran"

"""The end-to-end suite on a real FreeSWITCH (``make e2e``); skipped unless FREESWITCH_PREFIX names one."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.harness import real_freeswitch_prefix, start_platform


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Every test here is an e2e test; without a real FreeSWITCH (and sipp) they are skipped, never failed."""
    prefix = real_freeswitch_prefix()
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)
            if prefix is None:
                item.add_marker(pytest.mark.skip(reason="no real FreeSWITCH (set FREESWITCH_PREFIX) or no sipp"))


@pytest.fixture(scope="session")
def platform(tmp_path_factory):
    """Real FreeSWITCH + sipp carrier + the whole Vaani stack, for the session."""
    import redis

    key_prefix = f"e2e{uuid.uuid4().hex[:8]}"
    redis_url = "redis://127.0.0.1:6379/0"
    p = start_platform(tmp_path_factory.mktemp("e2e"), real_freeswitch_prefix(), key_prefix=key_prefix,
                       redis_url=redis_url)
    yield p
    p.stop()
    r = redis.Redis.from_url(redis_url)
    for key in r.scan_iter(f"{key_prefix}*"):
        r.delete(key)

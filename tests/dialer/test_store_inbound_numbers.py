"""Inbound numbers: SQL truth, the Redis table the runtime reads (contract 2), rebuild at start-up."""

from __future__ import annotations

import json

import pytest
import redis as redislib

from dialer import inbound_numbers as inb
from dialer.store import db
from tests.dialer.store_helpers import cfg, make_account, store  # noqa: F401


def test_set_publish_remove_and_rebuild(store, cfg):
    make_account(store)
    make_account(store, "account_2")
    r = redislib.Redis.from_url(cfg.redis_url)
    row = inb.set_inbound_number(cfg, account_id="account_1", number="918000680000", app_url="http://a/app",
                                 fallback_url="http://a/alt", dialect="KML", callback_url="http://a/cb")
    assert row.number == "+918000680000" and row.ref_id.startswith("AC")
    assert inb.lookup(r, cfg.key_prefix, "+918000680000") == {
        "account_id": "account_1", "app_url": "http://a/app", "fallback_url": "http://a/alt",
        "dialect": "kml", "method": "GET"}
    # update keeps one entry
    inb.set_inbound_number(cfg, account_id="account_1", number="+91 80006 80000", app_url="http://a/v2",
                           dialect="kookoo", method="post")
    assert inb.lookup(r, cfg.key_prefix, "+918000680000")["app_url"] == "http://a/v2"
    assert inb.lookup(r, cfg.key_prefix, "+918000680000")["method"] == "POST"
    with pytest.raises(inb.InboundNumberError, match="another account"):
        inb.set_inbound_number(cfg, account_id="account_2", number="918000680000", app_url="http://b/app")
    with pytest.raises(inb.InboundNumberError, match="too short"):
        inb.set_inbound_number(cfg, account_id="account_1", number="12", app_url="http://a/app")
    with pytest.raises(inb.InboundNumberError, match="dialect"):
        inb.set_inbound_number(cfg, account_id="account_1", number="918000680001", app_url="x", dialect="vxml")

    inb.set_inbound_number(cfg, account_id="account_2", number="918000680002", app_url="http://b/app")
    # Redis loses its copy (restart without persistence, a stray delete): start-up rebuilds it from SQL
    r.delete(inb.table_key(cfg.key_prefix))
    r.hset(inb.table_key(cfg.key_prefix), "+10000000000", "stale")
    assert inb.rebuild_from_config(cfg) == 2
    table = {k.decode(): json.loads(v) for k, v in r.hgetall(inb.table_key(cfg.key_prefix)).items()}
    assert set(table) == {"+918000680000", "+918000680002"}
    assert table["+918000680002"]["account_id"] == "account_2"

    assert not inb.remove_inbound_number("account_2", "918000680000", cfg)  # not theirs
    assert inb.remove_inbound_number("account_1", "918000680000", cfg)
    assert inb.lookup(r, cfg.key_prefix, "+918000680000") is None
    with db.session_scope(store) as s:
        assert [n.number for n in inb.list_numbers(s, "account_2")] == ["+918000680002"]
    r.close()

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


def test_a_number_configured_without_a_dialect_is_auto(store, cfg):
    """Nobody said what the app speaks: the runtime detects it (docs/ivr.md), so the table says "auto"."""
    make_account(store)
    inb.set_inbound_number(cfg, account_id="account_1", number="918000680010", app_url="http://a/app")
    inb.set_inbound_number(cfg, account_id="account_1", number="918000680011", app_url="http://a/app",
                           dialect="Auto")
    r = redislib.Redis.from_url(cfg.redis_url)
    assert inb.lookup(r, cfg.key_prefix, "+918000680010")["dialect"] == "auto"
    assert inb.lookup(r, cfg.key_prefix, "+918000680011")["dialect"] == "auto"
    r.close()


def test_migration_0003_makes_numbers_stored_as_kml_auto(tmp_path):
    """Before 0003 a Konnect doc_url number was stored as kml whatever its app spoke; after it, auto."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = db.get_engine(url)
    alembic_cfg = Config()
    alembic_cfg.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    with engine.begin() as conn:
        alembic_cfg.attributes["connection"] = conn
        command.upgrade(alembic_cfg, "0002")
    make_account(url)
    with engine.begin() as conn:
        for number, dialect in (("+918000680020", "kml"), ("+918000680021", "kookoo")):
            conn.execute(sa.text("INSERT INTO inbound_numbers (number, account_id, app_url, dialect, method, "
                                 "created_at) VALUES (:n, 'account_1', 'http://a/app', :d, 'GET', '2026-01-01')"),
                         {"n": number, "d": dialect})
    db.init_db(url)
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT number, dialect FROM inbound_numbers")).all())
    assert rows == {"+918000680020": "auto", "+918000680021": "kookoo"}
    db.dispose(url)

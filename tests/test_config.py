"""The one configuration module: parsing, defaults, and the README table kept in step with it."""

from __future__ import annotations

import os

import pytest

from config import ConfigError, SETTINGS, Settings, load, markdown_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_setting_is_a_field_and_has_a_meaning():
    fields = set(Settings.__dataclass_fields__)
    assert {s.attr for s in SETTINGS} == fields
    assert all(s.doc.strip() for s in SETTINGS)
    assert len({s.env for s in SETTINGS}) == len(SETTINGS)


def test_defaults_and_overrides():
    cfg = load({})
    assert cfg.http_port == 8080 and cfg.freeswitch_simulator is True
    assert cfg.sqlalchemy_url.startswith("sqlite:///") and cfg.sqlalchemy_url.endswith("vaani.db")
    cfg = load({"HTTP_PORT": "9000", "FREESWITCH_SIMULATOR": "no", "DATABASE_URL": "postgresql://x/y"})
    assert cfg.http_port == 9000 and cfg.freeswitch_simulator is False
    assert cfg.sqlalchemy_url == "postgresql://x/y"
    assert cfg.base_url == "http://127.0.0.1:9000"
    assert load({"IVR_LISTEN": "0.0.0.0:8084"}).ivr_address == "0.0.0.0:8084"


def test_a_bad_value_names_the_variable():
    with pytest.raises(ConfigError, match="HTTP_PORT='eighty'"):
        load({"HTTP_PORT": "eighty"})
    with pytest.raises(ConfigError, match="FREESWITCH_SIMULATOR"):
        load({"FREESWITCH_SIMULATOR": "maybe"})


def test_readme_table_is_the_generated_one():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        readme = fh.read()
    assert markdown_table() in readme, "README's configuration table is stale: paste `python -m config --markdown`"

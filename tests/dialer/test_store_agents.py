"""Migration 0004 (agents): existing campaigns and CDRs get the models' defaults, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from dialer.store import db
from dialer.store.models import Agent, AgentEvent, Campaign, Cdr
from tests.dialer.store_helpers import make_account


def test_migration_0004_gives_existing_rows_the_defaults(db_url):
    from alembic import command
    from alembic.config import Config

    engine = db.get_engine(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    make_account(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO contact_lists (id, account_id, name, created_at) "
                             "VALUES ('LS1', 'account_1', 'l', '2026-01-01')"))
        conn.execute(sa.text(
            "INSERT INTO campaigns (id, account_id, name, campaign_type, list_id, dynamic_announcement, repeat, "
            "dialect, calls_per_minute, max_retries, retry_time, retry_on_statuses, time_zone, "
            "use_contact_time_zone, status, total_contacts, dialed, answered, failed, dnd, created_at, updated_at) "
            "VALUES ('CM1', 'account_1', 'c', 0, 'LS1', false, 1, 'kookoo', 10, 0, 60, '[]', 'UTC', false, "
            "'scheduled', 0, 0, 0, 0, 0, '2026-01-01', '2026-01-01')"))
        conn.execute(sa.text(
            "INSERT INTO cdrs (uniqueid, account_id, call_type, agent_number, customer_number, dialed_number, "
            "caller_id, call_direction, destination_context, call_date, dial_status, dtmf_inputs, recording_name, "
            "recordings, dial_results, app_errors, is_dnd, hangup_recorded, ivr_recorded, callback_queued, "
            "created_at, updated_at) VALUES ('u1', 'account_1', 'campaign', '', '+1', '+1', '', '', '', "
            "'2026-01-01', '', '', '', '[]', '[]', '[]', false, false, false, false, '2026-01-01', '2026-01-01')"))
    db.init_db(db_url)
    with db.session_scope(db_url) as s:
        c = s.get(Campaign, "CM1")
        assert (c.dial_mode, c.wrap_up_seconds, c.abandon_target, c.amd, c.machine_action) == (
            None, 10, 0.03, False, "hangup")
        cdr = s.query(Cdr).one()
        assert (cdr.agent_id, cdr.abandoned, cdr.amd_result, cdr.disposition) == (None, False, "", "")
        s.add(Agent(id="AG1", account_id="account_1", name="Asha", endpoint="user/1001"))
        s.flush()
        s.add(AgentEvent(agent_id="AG1", account_id="account_1", state="ready", campaign_ids=["CM1"]))
    with db.session_scope(db_url) as s:
        assert s.get(Agent, "AG1").persistent is False
        assert s.query(AgentEvent).one().campaign_ids == ["CM1"]
    names = {ix["name"] for ix in sa.inspect(engine).get_indexes("cdrs")}
    assert {"ix_cdrs_campaign_abandoned", "ix_cdrs_customer_date"} <= names
    db.dispose(db_url)

"""The store on SQLite and PostgreSQL: migrations, pragmas, constraints, credentials."""

from __future__ import annotations

import sqlalchemy as sa
import pytest
from sqlalchemy.exc import IntegrityError

from dialer.store import accounts, db
from dialer.store.models import Account, Attempt, CallRequest, Cdr, Contact, ContactList


@pytest.fixture
def store(db_url):
    db.init_db(db_url)
    yield db_url
    db.dispose(db_url)


def test_init_db_creates_every_table_and_is_repeatable(store):
    db.init_db(store)  # a second start-up finds the schema current and changes nothing
    names = set(sa.inspect(db.get_engine(store)).get_table_names())
    for table in ("accounts", "flows", "announce_templates", "contact_lists", "contacts", "dnd_lists",
                  "dnd_numbers", "campaigns", "call_requests", "attempts", "cdrs", "callback_deliveries",
                  "callback_tries", "inbound_numbers", "agents", "agent_events", "alembic_version"):
        assert table in names
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    heads = set(ScriptDirectory.from_config(cfg).get_heads())  # features branch off 0004: one row per head
    with db.session_scope(store) as s:
        assert set(s.execute(sa.text("select version_num from alembic_version")).scalars()) == heads


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    url = f"sqlite:///{tmp_path / 'x' / 'v.db'}"
    db.init_db(url)
    with db.get_engine(url).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.SQLITE_BUSY_TIMEOUT_MS
    db.dispose(url)


def test_foreign_keys_are_enforced(store):
    with pytest.raises(IntegrityError):
        with db.session_scope(store) as s:
            s.add(ContactList(id="LSnope", account_id="no-such-account", name="x"))


def test_session_scope_rolls_back_on_error(store):
    with pytest.raises(RuntimeError):
        with db.session_scope(store) as s:
            accounts.create_account(s, "a", account_id="account_1")
            raise RuntimeError("boom")
    with db.session_scope(store) as s:
        assert s.get(Account, "account_1") is None


def test_immediate_session_reads_and_writes(store):
    with db.session_scope(store) as s:
        accounts.create_account(s, "a", account_id="account_1")
    with db.session_scope(store, immediate=True) as s:
        s.get(Account, "account_1").name = "renamed"
    with db.session_scope(store) as s:
        assert s.get(Account, "account_1").name == "renamed"


def test_credentials_are_hashed_and_verified(store):
    with db.session_scope(store) as s:
        new = accounts.create_account(s, "Demo", account_id="account_1", ip_allowlist=["10.0.0.0/8", "127.0.0.1"])
    with db.session_scope(store) as s:
        row = s.get(Account, "account_1")
        assert new.auth not in (row.auth_hash, row.api_token_hash)
        assert accounts.verify_auth(s, "account_1", new.auth).id == "account_1"
        assert accounts.verify_auth(s, "account_1", new.api_token) is None
        assert accounts.verify_auth(s, "account_1", "") is None
        assert accounts.verify_auth(s, "account_2", new.auth) is None
        assert accounts.verify_auth(s, None, None) is None
        assert accounts.verify_api_token(s, "account_1", new.api_token).id == "account_1"
        assert accounts.ip_allowed(row, "10.2.3.4") and accounts.ip_allowed(row, "127.0.0.1")
        assert not accounts.ip_allowed(row, "192.168.1.1") and not accounts.ip_allowed(row, "garbage")
        with pytest.raises(accounts.AccountError, match="already exists"):
            accounts.create_account(s, "again", account_id="account_1")
        with pytest.raises(accounts.AccountError, match="not an IP"):
            accounts.set_ip_allowlist(s, "account_1", ["nope"])
        rotated = accounts.rotate_secrets(s, "account_1")
        assert accounts.verify_auth(s, "account_1", new.auth) is None
        assert accounts.verify_auth(s, "account_1", rotated.auth) is not None


def test_flow_security_id(store):
    with db.session_scope(store) as s:
        accounts.create_account(s, "a", account_id="account_1")
        flow, security_id = accounts.create_flow(s, "account_1", "http://127.0.0.1:1/app")
        assert len(flow.id) == 8 and len(security_id) == 64
    with db.session_scope(store) as s:
        assert accounts.verify_flow(s, flow.id, security_id) == (s.get(type(flow), flow.id), True)
        found, ok = accounts.verify_flow(s, flow.id, "x" * 64)
        assert found is not None and not ok
        assert accounts.verify_flow(s, "unknown1", security_id) == (None, False)


def test_idempotency_key_unique_per_account_and_kind(store):
    with db.session_scope(store) as s:
        accounts.create_account(s, "a", account_id="account_1")
        accounts.create_account(s, "b", account_id="account_2")
        s.add(CallRequest(id="r1", account_id="account_1", kind="konnect", idempotency_key="A1"))
        s.add(CallRequest(id="r2", account_id="account_2", kind="konnect", idempotency_key="A1"))
        s.add(CallRequest(id="r3", account_id="account_1", kind="kairos", idempotency_key="A1"))
        s.add(CallRequest(id="r4", account_id="account_1", kind="click2call"))
        s.add(CallRequest(id="r5", account_id="account_1", kind="click2call"))  # no key: no constraint
    with pytest.raises(IntegrityError):
        with db.session_scope(store) as s:
            s.add(CallRequest(id="r6", account_id="account_1", kind="konnect", idempotency_key="A1"))


def test_unique_channel_and_contact_constraints(store):
    with db.session_scope(store) as s:
        accounts.create_account(s, "a", account_id="account_1")
        s.add(ContactList(id="LS1", account_id="account_1", name="l"))
        s.flush()
        s.add(Contact(list_id="LS1", number="+919999900001", fields={"field1": "Añkit"}))
        s.add(Attempt(account_id="account_1", call_type="otp", number="+91", origination_uuid="u-1"))
        s.add(Cdr(account_id="account_1", uniqueid="u-1"))
        s.add(Cdr(account_id="account_1", uniqueid=None, is_dnd=True))
        s.add(Cdr(account_id="account_1", uniqueid=None, is_dnd=True))  # DND rows have no channel
    for row in (
        Contact(list_id="LS1", number="+919999900001"),
        Attempt(account_id="account_1", call_type="otp", number="+91", origination_uuid="u-1"),
        Cdr(account_id="account_1", uniqueid="u-1"),
    ):
        with pytest.raises(IntegrityError):
            with db.session_scope(store) as s:
                s.add(row)
    with db.session_scope(store) as s:
        assert s.scalars(sa.select(Contact)).one().fields == {"field1": "Añkit"}


def test_migrations_match_the_models(store):
    """A model change without a migration (or the reverse) fails here, on both databases."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from dialer.store.models import Base

    with db.get_engine(store).connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []


def test_sqlite_writers_in_greenlets_queue_instead_of_freezing(tmp_path):
    """A write transaction paused on I/O must not freeze another greenlet's writer (SQLite busy waits block)."""
    import gevent

    url = f"sqlite:///{tmp_path / 'g.db'}"
    db.init_db(url)
    order = []

    def writer(name, pause):
        with db.session_scope(url, immediate=True) as s:
            order.append(f"{name}-in")
            accounts.create_account(s, name, account_id=name)
            gevent.sleep(pause)  # e.g. a Redis round trip inside the transaction
            order.append(f"{name}-out")

    jobs = [gevent.spawn(writer, "a", 0.3), gevent.spawn(writer, "b", 0)]
    gevent.joinall(jobs, timeout=8, raise_error=True)
    assert all(j.successful() for j in jobs)
    assert order == ["a-in", "a-out", "b-in", "b-out"]
    with db.session_scope(url) as s:
        assert {a.id for a in accounts.list_accounts(s)} == {"a", "b"}
    db.dispose(url)


def test_plain_sqlite_sessions_that_write_also_queue(tmp_path):
    """The same protection for writes in ordinary sessions (the driver's implicit BEGIN)."""
    import gevent

    url = f"sqlite:///{tmp_path / 'g.db'}"
    db.init_db(url)
    order = []

    def writer(name, pause):
        with db.session_scope(url) as s:
            s.execute(sa.select(Account)).all()  # reads take no lock
            order.append(f"{name}-in")
            accounts.create_account(s, name, account_id=name)
            s.flush()
            gevent.sleep(pause)
            order.append(f"{name}-out")

    def reader():
        with db.session_scope(url) as s:
            order.append(("read", len(s.scalars(sa.select(Account)).all())))

    jobs = [gevent.spawn(writer, "a", 0.3), gevent.spawn(writer, "b", 0), gevent.spawn(reader)]
    gevent.joinall(jobs, timeout=8, raise_error=True)
    assert order.index("a-out") < order.index("b-out")
    assert ("read", 0) in order  # a reader is not held up by the paused writer
    with pytest.raises(RuntimeError):
        with db.session_scope(url) as s:
            accounts.create_account(s, "c", account_id="c")
            s.flush()
            raise RuntimeError("rolled back: the lock must be given back")
    writer("d", 0)
    db.dispose(url)

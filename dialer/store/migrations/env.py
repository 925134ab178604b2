"""Alembic environment: runs on the connection that ``dialer.store.db.init_db`` passes in.

No ``alembic.ini`` is needed; ``init_db`` builds the configuration in code.
On PostgreSQL a transaction-scoped advisory lock makes concurrent start-ups
(several dialer workers and the API at once) migrate one after the other.
"""

from __future__ import annotations

from alembic import context

from dialer.store.models import Base

#: Arbitrary constant identifying "Vaani schema migration" among advisory locks.
PG_MIGRATION_LOCK = 0x5641414E49


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through dialer.store.db.init_db(url)")
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()

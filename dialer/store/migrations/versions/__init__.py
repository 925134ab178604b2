"""Alembic revisions of the store, applied in order by dialer.store.db.init_db."""

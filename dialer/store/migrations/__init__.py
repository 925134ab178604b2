"""Alembic environment and revisions of the store (run from code by dialer.store.db.init_db; no alembic.ini)."""

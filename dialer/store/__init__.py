"""The durable store: SQLAlchemy models, engine/session set-up, migrations and small repository helpers.

``dialer.store.db`` opens the database (``init_db``, ``session_scope``);
``dialer.store.models`` holds the tables; ``dialer.store.accounts`` creates
accounts and flows and verifies their credentials. See docs/store.md.
"""

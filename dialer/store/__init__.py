"""The durable store: SQLAlchemy models, engine/session set-up, migrations and small repository helpers.

``dialer.store.db`` opens the database (``init_db``, ``session_scope``);
``dialer.store.models`` holds the tables; the other modules are helpers the
API and the dialer share (accounts and credentials, lists and contacts, call
requests).
"""

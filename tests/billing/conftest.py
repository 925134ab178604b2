"""The billing tests use the API fixtures of tests/api (the real app over real HTTP, SQLite and PostgreSQL)."""

from tests.api.conftest import api_stack, sqlite_stack  # noqa: F401

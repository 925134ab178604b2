"""The billing tests use fixtures of other test packages: the API over real HTTP (tests/api), a migrated store
(tests/dialer) and the SMS stack with its SMSC stand-in (tests/sms); SQLite and PostgreSQL."""

from tests.api.conftest import api_stack, sqlite_stack  # noqa: F401
from tests.dialer.store_helpers import store  # noqa: F401
from tests.sms.conftest import sms_stack  # noqa: F401

"""Small helpers of the billing tests: top-ups and rate cards written through the billing package itself."""

from __future__ import annotations

from billing import ledger, money, rates
from dialer.store import db


def topup(db_url: str, account_id: str, amount: str, actor: str = "test") -> ledger.Balance:
    """Credit ``amount`` (text, currency units) to ``account_id``."""
    with db.session_scope(db_url, immediate=True) as s:
        return ledger.topup(s, account_id, money.parse(amount), actor=actor, note="test top-up")


def set_rates(db_url: str, account_id: str, csv_text: str) -> None:
    """Replace the account's rate card from CSV text."""
    with db.session_scope(db_url, immediate=True) as s:
        rates.replace_card(s, account_id, rates.parse_csv(csv_text))


def balance(db_url: str, account_id: str) -> ledger.Balance:
    """The account's balance now."""
    with db.session_scope(db_url) as s:
        return ledger.balance(s, account_id)


class VoiceRig:
    """The simulator (inbound calls to the IVR runtime), the IVR runtime and a dialer on an API stack's database
    and Redis prefix, and a callbacks worker run on demand: what a call needs beyond the API."""

    def __init__(self, stack_cfg, monkeypatch):
        import config
        from dialer.engine import Dialer, EngineOptions
        from ivr.runtime import build_runtime
        from ivr.server import IvrServer
        from tests.conftest import free_port
        from tests.dialer.engine_helpers import Sim, settings_for

        self.stack_cfg = stack_cfg
        # Jobs (records, callbacks) read their settings from the environment, as a worker does.
        for name, value in (("DATABASE_URL", stack_cfg.sqlalchemy_url), ("REDIS_URL", stack_cfg.redis_url),
                            ("REDIS_KEY_PREFIX", stack_cfg.key_prefix)):
            monkeypatch.setenv(name, value)
        config.settings.cache_clear()
        ivr_port, self.port = free_port(), free_port()
        self.cfg = settings_for(stack_cfg.sqlalchemy_url, stack_cfg.key_prefix, self.port, ivr_port,
                                REDIS_URL=stack_cfg.redis_url)
        self.server = IvrServer(build_runtime(self.cfg), f"127.0.0.1:{ivr_port}").start()
        self.sim = Sim(self.port, speed=20)
        self.sim.args += ["--inbound-socket", f"127.0.0.1:{ivr_port}"]
        self.sim.restart()
        self.dialer = Dialer(self.cfg, options=EngineOptions(foreign_delay=0.1)).start()

    def work(self) -> None:
        """Run the records and callbacks jobs queued so far."""
        import redis as redislib
        from rq import Queue, SimpleWorker

        conn = redislib.Redis.from_url(self.stack_cfg.redis_url)
        prefix = self.stack_cfg.key_prefix
        SimpleWorker([Queue(f"{prefix}-records", connection=conn), Queue(f"{prefix}-callbacks", connection=conn)],
                     connection=conn).work(burst=True)

    def esl_api(self, command: str) -> str:
        """One ESL api command to the simulator."""
        from tests.ivr.harness import EslClient

        esl = EslClient("127.0.0.1", self.port)
        try:
            return esl.api(command)
        finally:
            esl.close()

    def stop(self) -> None:
        import config

        self.dialer.stop()
        self.sim.stop()
        self.server.stop(timeout=1)
        config.settings.cache_clear()

"""DIALER_NUMBER_FORMAT in the dialer's originates, as the simulator receives them (real engine, real sockets)."""

import re

import pytest
import sqlalchemy as sa

from dialer import submit
from dialer.engine import Dialer, EngineOptions
from dialer.store import db
from dialer.store.models import Cdr
from tests.conftest import free_port

from .engine_helpers import Monitor, Sim, make_campaign, settings_for, wait_for

NUMBERS = ["+919812345678", "+12015550123"]  # one of the carrier's country (DEFAULT_REGION IN), one abroad
CALLER_ID = "+918000681234"
EXPECTED = {  # format -> (numbers dialled, caller id sent)
    "e164": ({"919812345678", "12015550123"}, "918000681234"),
    "e164_plus": ({"+919812345678", "+12015550123"}, "+918000681234"),
    "national": ({"9812345678", "0012015550123"}, "8000681234"),
    "national_trunk": ({"09812345678", "0012015550123"}, "08000681234"),
}


@pytest.fixture
def sim():
    s = Sim(free_port(), speed=50)
    yield s
    s.stop()


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_originates_write_numbers_and_caller_id_in_the_format(db_url, key_prefix, sim, fmt):
    cfg = settings_for(db_url, key_prefix, sim.port, free_port(), DIALER_NUMBER_FORMAT=fmt, DEFAULT_REGION="IN")
    _, camp = make_campaign(db_url, NUMBERS, caller_id=CALLER_ID, calls_per_minute=6000)
    monitor = Monitor(sim.port, key_prefix)
    d = Dialer(cfg, options=EngineOptions(foreign_delay=0.3, recovery_grace=1.0)).start()
    try:
        submit.start_campaign(camp, cfg=cfg)
        wait_for(lambda: submit.campaign_progress(camp, cfg=cfg)["status"] == "completed")
    finally:
        d.stop()
        monitor.stop()
    numbers, caller_id = EXPECTED[fmt]
    assert set(monitor.numbers) == numbers and len(monitor.numbers) == 2
    sent = [re.search(r"origination_caller_id_number=([^,}]+)", c).group(1) for c in monitor.commands]
    assert sent == [caller_id, caller_id]
    # The records keep the numbers as the platform stores them, whatever the carrier was sent.
    with db.session_scope(db_url) as s:
        rows = s.execute(sa.select(Cdr).where(Cdr.campaign_id == camp)).scalars().all()
    db.dispose(db_url)  # PostgreSQL's connections are few: give them back now, not at the end of the session
    assert sorted(r.dialed_number for r in rows) == sorted(NUMBERS)
    assert {r.dial_status for r in rows} == {"ANSWER"}

"""An inbound call's CDR is completed by its own hangup event, not by the stale sweep.

Real sockets end to end: the simulator (a caller dials one of our numbers; its dialplan hands the call
to the IVR runtime's outbound socket), the IVR runtime in this process, a dialer whose ESL listener sees
the hangup, and the call facts delivered through the real RQ records queue.
"""

from __future__ import annotations

import redis as redislib
import sqlalchemy as sa
from rq import Queue, SimpleWorker

from dialer import inbound_numbers as inb
from dialer.engine import Dialer, EngineOptions
from dialer.listener import is_inbound_call
from dialer.store import db
from dialer.store.models import CallbackDelivery, Cdr
from ivr.runtime import build_runtime
from ivr.server import IvrServer
from tests.conftest import free_port
from tests.dialer.store_helpers import make_account, store  # noqa: F401
from tests.ivr.appserver import AppServer

from .engine_helpers import Sim, settings_for, wait_for


def test_is_inbound_call():
    assert is_inbound_call({"Call-Direction": "inbound"})
    assert not is_inbound_call({"Call-Direction": "outbound"})
    assert not is_inbound_call({"Call-Direction": "inbound", "variable_vaani_call": "e30"})


def test_inbound_cdr_is_final_from_the_hangup_event(store, redis_url, key_prefix, monkeypatch):
    app = AppServer().start()
    app.route("/ivr", lambda p: "<response><playtext>Welcome</playtext><hangup/></response>")
    ivr_port = free_port()
    cfg = settings_for(store, key_prefix, 0, ivr_port, REDIS_URL=redis_url)
    runtime = build_runtime(cfg)
    server = IvrServer(runtime, f"127.0.0.1:{ivr_port}").start()
    port = free_port()
    sim = Sim(port, speed=20)
    sim.args += ["--inbound-socket", f"127.0.0.1:{ivr_port}"]
    sim.restart()
    cfg = settings_for(store, key_prefix, port, ivr_port, REDIS_URL=redis_url)
    dialer = Dialer(cfg, options=EngineOptions(foreign_delay=0.1)).start()
    try:
        make_account(store)
        inb.set_inbound_number(cfg, account_id="account_1", number="918000680000", app_url=app.url("/ivr"),
                               dialect="kookoo", callback_url=app.url("/cb"))
        from tests.ivr.harness import EslClient

        esl = EslClient("127.0.0.1", port)
        reply = esl.api("sim_inbound 919979270001 918000680000")
        esl.close()
        assert reply.startswith("+OK"), reply
        wait_for(lambda: [r for r in app.requests_to("/ivr") if r["params"].get("event") == "Disconnect"], 20)
        # The runtime's facts go through the real records queue, as a records worker would run them.
        # A records worker reads its settings from the environment.
        for name, value in (("DATABASE_URL", store), ("REDIS_URL", redis_url), ("REDIS_KEY_PREFIX", key_prefix)):
            monkeypatch.setenv(name, value)
        import config

        config.settings.cache_clear()
        conn = redislib.Redis.from_url(redis_url)
        queue = Queue(f"{key_prefix}-records", connection=conn)
        wait_for(lambda: queue.count, 10)
        SimpleWorker([queue], connection=conn).work(burst=True)

        def final():
            with db.session_scope(store) as s:
                row = s.execute(sa.select(Cdr).where(Cdr.call_type == "inbound")).scalar()
                return row if row is not None and row.callback_queued else None

        row = wait_for(final, 10)
        assert row.hangup_recorded and row.ivr_recorded
        assert (row.dial_status, row.call_status, row.hangup_cause) == ("ANSWER", "ANSWERED", "NORMAL_CLEARING")
        assert row.billsec is not None and row.billsec >= 0 and row.answer is not None
        assert (row.dialed_number, row.customer_number) == ("+918000680000", "+919979270001")
        # Whichever half came first, the row finds its inbound number: the status callback is queued to its URL.
        with db.session_scope(store) as s:
            urls = s.execute(sa.select(CallbackDelivery.url).where(CallbackDelivery.cdr_id == row.id)).scalars().all()
        assert urls == [app.url("/cb")]
    finally:
        import config

        config.settings.cache_clear()
        dialer.stop()
        sim.stop()
        server.stop(timeout=1)
        app.stop()

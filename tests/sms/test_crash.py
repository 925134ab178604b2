"""SIGKILL an SMS worker in the middle of a batch: no message written to the SMSC twice, none lost.

Two ``python -m sms worker`` processes share one PostgreSQL database, Redis and the stand-in's TPS limit;
one is killed with SIGKILL once the stand-in holds a third of the batch. The survivor recovers the dead
worker's claimed messages once its heartbeat expires (SMS_WORKER_TIMEOUT). (PostgreSQL because several
worker processes writing one SQLite file wait on SQLite's busy handler, which stalls a gevent process: on
SQLite run one SMS worker, docs/sms.md. The claim's SQL itself runs on both in the API tests.)
The stand-in answers each submit_sm after 5 ms, so the killed worker has submits in flight.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from tests.sms.conftest import free_number, sms_env

N = 40


def _worker(env):
    log = open(os.path.join(env["DATA_DIR"], f"worker-{time.monotonic_ns()}.log"), "wb")
    return subprocess.Popen([sys.executable, "-m", "sms", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_sigkill_of_a_worker_neither_duplicates_nor_loses_a_message(tmp_path, redis_url, key_prefix, db_url):
    from config import load
    from dialer.store import accounts, db
    from dialer.store.sms_models import SmsMessage, SmsPart
    from sms import messages
    from tests.sms.conftest import start_smsc

    smsc = start_smsc(resp_delay=0.005)
    env = {**os.environ, "DATA_DIR": str(tmp_path), "DATABASE_URL": db_url,
           "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": key_prefix, "METRICS_ENABLED": "0",
           **sms_env(smsc.port, SMPP_TPS="40", SMS_WORKER_TIMEOUT="1.5")}
    cfg = load(env)
    db.init_db(cfg.sqlalchemy_url)
    numbers = [free_number() for _ in range(N)]
    with db.session_scope(cfg.sqlalchemy_url) as s:
        acct = accounts.create_account(s, "crash")
        msgs = messages.accept(s, messages.Request(account_id=acct.account_id, recipients=numbers,
                                                   body="crash test", sender="VAANI"), base_url=cfg.base_url)
        queued = [(m.id, m.priority) for m in msgs]
    messages.enqueue(cfg, queued)
    procs = [_worker(env), _worker(env)]
    try:
        deadline = time.monotonic() + 20
        while len(smsc.received) < N // 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(smsc.received) >= N // 3, "the workers did not start sending"
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(5)
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            with db.session_scope(cfg.sqlalchemy_url) as s:
                left = s.scalar(sa.select(sa.func.count()).select_from(SmsMessage).where(
                    SmsMessage.status.notin_(("delivered", "undelivered", "failed"))))
            if not left:
                break
            time.sleep(0.2)
        with db.session_scope(cfg.sqlalchemy_url) as s:
            states = dict(s.execute(sa.select(SmsMessage.to_number, SmsMessage.status)).all())
            parts = s.execute(sa.select(SmsPart.state, sa.func.count()).group_by(SmsPart.state)).all()
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        smsc.stop()
        db.dispose(cfg.sqlalchemy_url)
    written = {}
    for rec in smsc.received:
        written[rec.destination] = written.get(rec.destination, 0) + 1
    twice = {n: c for n, c in written.items() if c > 1}
    lost = [n for n in numbers if n[1:] not in written]
    assert not twice, f"written twice: {twice}"
    assert not lost, f"never written: {lost} (parts: {parts})"
    assert set(states.values()) == {"delivered"}, (states, parts)

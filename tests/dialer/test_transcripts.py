"""Transcripts after the call, end to end: the simulator's far end speaks (flite), the real runtime records the
call and reports its facts on the records queue, a real RQ worker merges them into the CDR and runs the
transcript job (PocketSphinx in its worker subprocess), the CDR carries the text, and TwiML's transcribeCallback
receives Twilio's form parameters over real HTTP."""

from __future__ import annotations

import pytest
import redis

import config
from rq import Queue, SimpleWorker
from sqlalchemy import select

from dialer import callbacks, transcripts
from dialer.cdr_reports import to_seed
from dialer.store import db
from dialer.store.models import Cdr
from freeswitch.sim import speech as sim_speech
from freeswitch.sim.scenario import Scenario
from ivr.call_spec import CallSpec, ClickToCall
from tests.dialer.store_helpers import make_account, store  # noqa: F401
from tests.ivr.harness import Rig

pytestmark = pytest.mark.skipif(sim_speech.synthesiser() is None,
                                reason="no speech synthesiser: apt-get install flite (or espeak-ng)")


@pytest.fixture
def rig(tmp_path, redis_url, key_prefix, store, monkeypatch):  # noqa: F811
    make_account(store)
    r = Rig(tmp_path, redis_url, key_prefix, database_url=store)
    # The RQ jobs read the process configuration, as they do in a dialer worker process.
    for name, value in {"DATABASE_URL": store, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": key_prefix,
                        "DATA_DIR": str(tmp_path), "RECORDINGS_DIR": str(tmp_path / "recordings"),
                        "PUBLIC_URL": "http://api.example", "CALLBACK_BACKOFF": "0"}.items():
        monkeypatch.setenv(name, value)
    config.settings.cache_clear()
    r.settings = config.settings()
    yield r
    config.settings.cache_clear()
    r.runtime.exec_config.speech.close()
    r.stop()
    for pool in transcripts._pools.values():
        pool.close()
    transcripts._pools.clear()


def _work(cfg) -> None:
    """The dialer worker's queues, drained by a real RQ SimpleWorker (records, callbacks, transcripts)."""
    conn = redis.Redis.from_url(cfg.redis_url)
    queues = [Queue(f"{cfg.key_prefix}-{s}", connection=conn) for s in ("records", "callbacks", "transcripts")]
    for _ in range(5):
        SimpleWorker(queues, connection=conn).work(burst=True)
        callbacks.drain(timeout=10)
        if not any(q.count for q in queues):
            break
    conn.close()


def _cdr(url: str, uuid: str) -> Cdr:
    with db.session_scope(url) as s:
        row = s.scalars(select(Cdr).where(Cdr.uniqueid == uuid)).one()
        s.expunge(row)
        return row


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL: the TwiML test (time budget)
def test_click2call_transcript_on_is_transcribed_into_the_cdr(rig):
    """seed 002 click2call transcript=on with recording_option off: the call is still recorded, then transcribed."""
    rig.sim.switch.scenario = Scenario.from_data({"rules": [
        {"match": "919900000222", "speech": ["say:check my balance"], "hangup_after": 4}]})
    spec = CallSpec(call_type="click2call", request_id="c2c-tx-1", account_id="account_1", caller_id="918000000000",
                    click2call=ClickToCall(destination="919900000222", recording_option="off", transcript="on"))
    uuid = rig.call(spec, number="919900000201")
    call = rig.wait(uuid, timeout=30)
    assert call.facts.recordings and call.facts.recordings[0]["transcribe"] is True
    _work(rig.settings)
    row = _cdr(rig.settings.sqlalchemy_url, uuid)
    assert row.transcript_status == "done", row.transcripts
    assert row.transcript == "check my balance"
    out = to_seed(row)
    assert out["transcript"] == "check my balance" and out["recording_name"] == call.facts.recordings[0]["name"]


def test_twiml_transcribe_callback_gets_twilios_parameters(rig):
    rig.sim.switch.scenario = Scenario.from_data({"rules": [
        {"match": "919900000301", "speech": ["say:cancel my order"]}]})
    app = rig.app
    app.route("/ivr", lambda p: ('<Response><Record maxLength="20" timeout="1" transcribe="true" '
                                 'transcribeCallback="/tx" action="/after"/></Response>'))
    app.route("/after", lambda p: "<Response><Hangup/></Response>")
    app.route("/tx", lambda p: "")
    uuid = rig.call(CallSpec(call_type="konnect", account_id="account_1", app_url=app.url("/ivr")),
                    number="919900000301")
    call = rig.wait(uuid, timeout=30)
    assert call.facts.recordings[0]["transcribe_callback"] == app.url("/tx")
    _work(rig.settings)
    row = _cdr(rig.settings.sqlalchemy_url, uuid)
    assert row.transcript_status == "done" and row.transcripts[0]["status"] == "done"
    sent = app.requests_to("/tx")
    assert len(sent) == 1 and sent[0]["method"] == "POST"
    form = sent[0]["params"]
    assert form["CallSid"] == uuid and form["TranscriptionStatus"] == "completed"
    assert form["TranscriptionText"] == row.transcript == "cancel my order"
    assert form["RecordingUrl"] == call.facts.recordings[0]["url"] and form["AccountSid"] == "account_1"
    # A second job for the same call finds nothing pending: no second callback, the text unchanged.
    assert transcripts.transcribe_call(uuid, cfg=rig.settings)["skipped"]

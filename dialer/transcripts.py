"""Transcripts of call recordings, made after the call as an RQ job and stored with the CDR.

Who asks: seed 002's click2call ``transcript: "on"`` (the call is recorded, both sides when
``recording_option`` is off) and TwiML's ``<Record transcribe="true" transcribeCallback=...>``. The IVR
runtime marks those recordings in its call facts (``transcribe``, ``transcribe_callback``);
:func:`dialer.records.record_ivr_facts` sets the CDR's ``transcript_status`` to ``pending`` and, once the
facts are committed, :func:`enqueue` puts :func:`transcribe_call` on ``<REDIS_KEY_PREFIX>-transcripts``
(served by the dialer workers after their records and callbacks queues).

The job reads each recording from ``RECORDINGS_DIR`` (the FreeSWITCH host's recordings directory must be
this same path: docs/speech.md), recognises it with ``SPEECH_ENGINE`` in a worker subprocess
(:class:`ivr.speech.pool.SpeechPool`: the decoder holds the GIL, and a dialer worker runs its engine on
gevent), and writes ``transcripts`` (one entry per recording: name, url, text, confidence, engine,
status, error), ``transcript`` (the texts, in order) and ``transcript_status`` ``done`` or ``failed``. A
recording not yet on disk (FreeSWITCH closes a session recording at hangup) is waited for with a few
re-queued tries. Each ``transcribe_callback`` gets TwiML's form parameters (``TranscriptionText``,
``TranscriptionStatus``, ``RecordingUrl``, ``CallSid``, ...) through the callback outbox
(:mod:`dialer.callbacks`: retries, backoff, every try logged). A duplicate job finds nothing pending and
does nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from dialer import callbacks
from dialer.store import db
from dialer.store.models import Cdr

log = logging.getLogger(__name__)

QUEUE_SUFFIX = "transcripts"
#: Tries (RETRY_SECONDS apart) while a recording is not yet on disk, before it is recorded as missing.
MISSING_TRIES = 4
RETRY_SECONDS = 3.0
#: The longest one recording's recognition may take (a long call on a busy machine).
RECOGNITION_TIMEOUT = 600.0

_pools: dict[str, Any] = {}


def _settings():
    from config import settings

    return settings()


def queue_for(cfg):
    """The RQ queue of transcript jobs: ``<prefix>-transcripts``."""
    from rq import Queue

    return Queue(f"{cfg.key_prefix}-{QUEUE_SUFFIX}", connection=callbacks.shared_redis(cfg.redis_url))


def enqueue(uniqueid: str, *, cfg=None, delay: float = 0.0, tries: int = 0) -> None:
    """Queue :func:`transcribe_call` for the call ``uniqueid`` (after the transaction that marked it pending)."""
    cfg = cfg or _settings()
    queue = queue_for(cfg)
    kwargs = {**callbacks._job_kwargs(cfg), "tries": tries}  # the same rule as callbacks' jobs
    options = {"job_timeout": int(RECOGNITION_TIMEOUT * 2)}
    if delay > 0:
        queue.enqueue_in(timedelta(seconds=delay), transcribe_call, uniqueid, **kwargs, **options)
    else:
        queue.enqueue(transcribe_call, uniqueid, **kwargs, **options)


def _engine(cfg):
    """One recogniser subprocess per engine per process (started on the first transcript)."""
    from ivr.speech.pool import SpeechPool

    pool = _pools.get(cfg.speech_engine)
    if pool is None:
        pool = _pools[cfg.speech_engine] = SpeechPool(cfg.speech_engine, 1, timeout=RECOGNITION_TIMEOUT)
    return pool


def transcribe_call(uniqueid: str, cfg=None, tries: int = 0) -> dict:
    """RQ job: transcribe the recordings of call ``uniqueid`` that ask for it; store them with its CDR."""
    from ivr.speech import SpeechError

    cfg = cfg or _settings()
    with db.session_scope(cfg.sqlalchemy_url) as session:
        row = session.scalars(select(Cdr).where(Cdr.uniqueid == uniqueid)).first()
        if row is None or row.transcript_status != "pending":
            return {"uniqueid": uniqueid, "skipped": True}
        wanted = [dict(r) for r in (row.recordings or []) if isinstance(r, dict) and r.get("transcribe")]
    directory = cfg.path(cfg.recordings_dir)
    paths = [os.path.join(directory, os.path.basename(str(r.get("name") or r.get("url") or ""))) for r in wanted]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing and tries + 1 < MISSING_TRIES:
        enqueue(uniqueid, cfg=cfg, delay=RETRY_SECONDS, tries=tries + 1)
        return {"uniqueid": uniqueid, "waiting_for": missing}
    entries = []
    for rec, path in zip(wanted, paths):
        entry = {"name": rec.get("name") or "", "url": rec.get("url") or "", "text": "", "confidence": 0.0,
                 "engine": "", "status": "done", "error": ""}
        try:
            result = _engine(cfg).recognize(path)
            entry.update(text=result.text, confidence=result.confidence, engine=result.engine)
        except SpeechError as exc:
            entry.update(status="failed", error=str(exc))
            log.warning("transcript of %s failed: %s", path, exc)
        entries.append(entry)
    deliveries: list[int] = []
    with db.session_scope(cfg.sqlalchemy_url, immediate=True) as session:
        row = session.scalars(select(Cdr).where(Cdr.uniqueid == uniqueid).with_for_update()).first()
        if row is None or row.transcript_status != "pending":
            return {"uniqueid": uniqueid, "skipped": True}
        row.transcripts = entries
        row.transcript = " ".join(e["text"] for e in entries if e["text"])
        row.transcript_status = "done" if any(e["status"] == "done" for e in entries) else "failed"
        session.flush()
        for rec, entry in zip(wanted, entries):
            url = rec.get("transcribe_callback")
            if url:
                deliveries.append(callbacks.create_delivery(
                    session, url=url, payload={callbacks.FORM: twiml_params(row, entry)}, kind="transcript",
                    account_id=row.account_id, request_id=row.request_id, cdr_id=row.id,
                    dedupe_key=f"transcript:{uniqueid}:{entry['name']}"))
        status = row.transcript_status
    if deliveries:
        callbacks.enqueue(deliveries, cfg=cfg)
    return {"uniqueid": uniqueid, "status": status, "recordings": len(entries), "callbacks": len(deliveries)}


def twiml_params(row: Cdr, entry: dict) -> dict[str, str]:
    """What TwiML's ``transcribeCallback`` receives (Twilio's parameter names) for one recording."""
    name = entry.get("name") or ""
    sid = "TR" + hashlib.sha1(f"{row.uniqueid}:{name}".encode()).hexdigest()[:32]
    return {
        "AccountSid": row.account_id or "",
        "CallSid": row.uniqueid or "",
        "From": row.customer_number or row.caller_id or "",
        "To": row.dialed_number or "",
        "RecordingSid": os.path.splitext(name)[0],
        "RecordingUrl": entry.get("url") or "",
        "TranscriptionSid": sid,
        "TranscriptionText": entry.get("text") or "",
        "TranscriptionStatus": "completed" if entry.get("status") == "done" else "failed",
        "TranscriptionType": "fast",
        "TranscriptionUrl": "",
        "Confidence": f"{float(entry.get('confidence') or 0.0):.3f}",
    }

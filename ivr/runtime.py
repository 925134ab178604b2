"""What every call of one runtime process shares: configuration, the HTTP client, Redis, metrics.

:func:`build_runtime` makes a :class:`Runtime` from :class:`config.Settings`;
the outbound-socket server (:mod:`ivr.server`) hands each accepted connection
to :meth:`Runtime.handle`, which runs the call (:mod:`ivr.call`) in the
connection's own greenlet.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Callable

from config import Settings
from ivr import tts
from ivr.execute import ExecConfig
from ivr.fetch import AppFetcher
from ivr import metrics as _metrics
from ivr.metrics import Metrics
from ivr.speech.pool import SpeechPool

log = logging.getLogger(__name__)

APOLOGY = "We are sorry, this service is not available right now. Please try again later. Goodbye."

#: observer(call, kind, text): kind is request / response / instruction / heard / error / end.
Observer = Callable[[object, str, str], None]


@dataclass
class Runtime:
    """Process-wide state of the IVR runtime."""

    settings: Settings
    fetcher: AppFetcher
    exec_config: ExecConfig
    redis: object | None = None
    reporter: object | None = None
    metrics: Metrics = field(default_factory=Metrics)
    observers: list[Observer] = field(default_factory=list)
    #: Called with each Call once it has fully ended (facts reported, socket closed).
    on_finished: list[Callable[[object], None]] = field(default_factory=list)
    #: Calls in progress, by channel UUID (for stats and the bench).
    calls: dict = field(default_factory=dict)
    apology: str = APOLOGY

    def handle(self, sock, address) -> None:
        """Run one call on a freshly accepted outbound-socket connection (the server's handler)."""
        from freeswitch.outbound import OutboundSession
        from ivr.call import Call

        accepted = time.perf_counter()
        session = OutboundSession(sock)
        Call(self, session, accepted).run()

    def notify(self, call, kind: str, text: str) -> None:
        """Tell observers (transcripts, logs) what a call did."""
        for observer in self.observers:
            try:
                observer(call, kind, text)
            except Exception:  # noqa: BLE001 - an observer must never break a call
                log.exception("IVR observer failed")


def tune_gc() -> None:
    """Garbage-collector settings for a long-running runtime with thousands of live calls.

    A full collection walks every tracked object — with 2,000 calls up that
    is a pause of hundreds of milliseconds in which no call moves
    (``bench/bench_ivr.py`` reports the pauses). Calls break their own
    reference cycles when they end, so reference counting frees almost
    everything; the collector can run far less often. ``gc.freeze()`` moves
    what start-up allocated (modules, configuration) out of its reach for good.
    """
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def build_runtime(settings: Settings, *, redis_conn=None, report: bool = True) -> Runtime:
    """A runtime from configuration; ``redis_conn`` defaults to one on REDIS_URL.

    Raises ValueError with a readable message when TTS_VOICE_MAP is malformed.
    """
    import redis

    if redis_conn is None:
        redis_conn = redis.Redis.from_url(settings.redis_url)
    fetcher = AppFetcher(settings.app_connect_timeout, settings.app_read_timeout, settings.app_max_bytes)
    exec_config = ExecConfig(
        tts_engine=settings.tts_engine,
        voice_map=tts.parse_voice_map(settings.tts_voice_map),
        # FreeSWITCH resolves a relative path against its own directory: always hand it an absolute one.
        recordings_dir=os.path.abspath(settings.path(settings.recordings_dir)),
        public_url=settings.base_url,
        dial_endpoint=settings.ivr_dial_endpoint,
        sip_endpoint=settings.ivr_sip_endpoint,
        client_endpoint=settings.ivr_client_endpoint,
        number_format=settings.dialer_number_format,
        region=settings.default_region,
        # Recognition runs in worker subprocesses, started on the first <recognize> (ivr/speech/pool.py).
        speech=SpeechPool(settings.speech_engine, settings.speech_workers),
    )
    reporter = None
    if report:
        from ivr.report import FactsReporter

        reporter = FactsReporter(redis_conn, settings.key_prefix)
    runtime = Runtime(settings=settings, fetcher=fetcher, exec_config=exec_config, redis=redis_conn,
                      reporter=reporter)
    _metrics.track(runtime)
    return runtime

"""Recognition off the call loop: a few worker subprocesses, waited on cooperatively under gevent.

Decoding holds the GIL for the whole utterance (PocketSphinx's Cython calls do not release it), so a
thread would stop every call of the runtime while it runs. :class:`SpeechPool` instead keeps up to
``workers`` processes of :mod:`ivr.speech.worker`, started on the first request (a runtime that never
recognises starts none). A request checks an idle worker out (waiting cooperatively when all are busy),
writes one JSON line and reads one back through gevent's pipes; the call's greenlet sleeps meanwhile and
thousands of other calls go on. A worker that dies or overruns ``timeout`` is killed and replaced; that
request fails with :class:`~ivr.speech.SpeechError` (the call carries on, the app gets no speech).
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Sequence

import gevent
import gevent.lock
import gevent.queue
from gevent import subprocess

from ivr.speech import Result, SpeechError

log = logging.getLogger(__name__)

#: Seconds one recognition may take before its worker is taken for stuck.
DEFAULT_TIMEOUT = 60.0


class _Worker:
    def __init__(self, engine: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "ivr.speech.worker", engine], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        hello = self._read()
        if not hello.get("ok"):
            self.kill()
            raise SpeechError(f"speech engine {engine!r} did not start: {hello.get('error')}")

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise SpeechError("the speech worker exited")
        return json.loads(line)

    def ask(self, request: dict) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=2)
        except Exception:  # noqa: BLE001
            pass


class SpeechPool:
    """Up to ``workers`` recogniser subprocesses running engine ``engine`` (SPEECH_ENGINE)."""

    def __init__(self, engine: str = "pocketsphinx", workers: int = 2, timeout: float = DEFAULT_TIMEOUT):
        self.engine = engine
        self.size = max(1, int(workers))
        self.timeout = timeout
        self._idle: gevent.queue.Queue = gevent.queue.Queue()
        self._started = 0
        self._lock = gevent.lock.Semaphore()
        self._all: list[_Worker] = []

    def recognize(self, wav_path: str, hints: Sequence[str] = (), grammar: str | None = None,
                  lang: str | None = None, timeout: float | None = None) -> Result:
        """Recognise ``wav_path`` in a worker; same contract as :meth:`ivr.speech.Recognizer.recognize`."""
        worker = self._checkout()
        request = {"wav": wav_path, "hints": list(hints or ()), "grammar": grammar, "lang": lang}
        try:
            with gevent.Timeout(timeout or self.timeout, SpeechError(f"recognition took over "
                                                                     f"{timeout or self.timeout:g} s")):
                answer = worker.ask(request)
        except (SpeechError, OSError, ValueError) as exc:
            self._discard(worker)
            raise SpeechError(str(exc)) from None
        except BaseException:  # the call's greenlet was killed mid-request: the worker's answer is lost
            self._discard(worker)
            raise
        self._idle.put(worker)
        if not answer.get("ok"):
            raise SpeechError(answer.get("error") or "recognition failed")
        return Result.from_dict(answer.get("result") or {})

    def _checkout(self) -> _Worker:
        try:
            return self._idle.get_nowait()
        except gevent.queue.Empty:
            pass
        with self._lock:
            if self._started < self.size:
                self._started += 1
                try:
                    worker = _Worker(self.engine)
                except BaseException:
                    self._started -= 1
                    raise
                self._all.append(worker)
                return worker
        return self._idle.get()

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        if worker in self._all:
            self._all.remove(worker)
        self._started -= 1

    def close(self) -> None:
        """Stop every worker."""
        for worker in list(self._all):
            worker.kill()
        self._all.clear()
        self._started = 0
        self._idle = gevent.queue.Queue()

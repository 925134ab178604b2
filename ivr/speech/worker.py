"""A speech worker process: ``python -m ivr.speech.worker ENGINE`` recognises one request at a time.

Protocol (one JSON object per line): the pool writes ``{"wav", "hints", "grammar", "lang"}`` on stdin,
the worker answers ``{"ok": true, "result": {...Result...}}`` or ``{"ok": false, "error": "..."}`` on
stdout. The engine is loaded once, at start; the worker exits when its stdin closes (its runtime is
gone). It lowers its own priority (``nice`` 5) so that recognition never takes the CPU from calls.
"""

from __future__ import annotations

import json
import os
import sys

from ivr.speech import SpeechError, load_recognizer

NICE = 5


def serve(engine_spec: str, stdin=None, stdout=None) -> int:
    """Answer requests until stdin closes; returns the exit status."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    try:
        engine = load_recognizer(engine_spec)
        hello = {"ok": True, "ready": True}
    except Exception as exc:  # noqa: BLE001 - reported to the pool, which reports it on every request
        engine, hello = None, {"ok": False, "error": str(exc)}
    stdout.write(json.dumps(hello) + "\n")
    stdout.flush()
    for line in stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            if engine is None:
                raise SpeechError(hello["error"])
            result = engine.recognize(req["wav"], tuple(req.get("hints") or ()), req.get("grammar"), req.get("lang"))
            answer = {"ok": True, "result": result.to_dict()}
        except SpeechError as exc:
            answer = {"ok": False, "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - one bad request must not end the worker
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the worker subprocess."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        os.nice(NICE)
    except OSError:
        pass
    return serve(argv[0] if argv else "pocketsphinx")


if __name__ == "__main__":
    sys.exit(main())

"""``ivr`` command line: ``ivr serve`` runs the runtime; ``ivr try URL`` is a phone in the terminal.

``ivr serve [--listen HOST:PORT]``
    The outbound-socket server on IVR_LISTEN (default 127.0.0.1:8084).

``ivr try URL [--caller N] [--dtmf 1,2#] [--speak-seconds 5] [--dialect auto|kookoo|kml]``
    Places a simulated call through the FreeSWITCH simulator and an in-process
    runtime against the app at URL, and prints a transcript: every request
    (with its parameters), every instruction, what the caller hears, how the
    call ended. Exits 1 when the app erred (unreachable, malformed, ...).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402

from config import ConfigError, settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ivr`` console script."""
    parser = argparse.ArgumentParser(prog="ivr", description="Vaani IVR runtime")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the outbound-socket server")
    serve.add_argument("--listen", help="host:port (default IVR_LISTEN)")
    serve.add_argument("--log-level", default="INFO")
    try_ = sub.add_parser("try", help="call an IVR app through the simulator and print a transcript")
    try_.add_argument("url", help="the app's URL (KooKoo XML or KML)")
    try_.add_argument("--caller", default="919900000001", help="the number that calls (the contact)")
    try_.add_argument("--called", default="918000000000", help="the DID being called")
    try_.add_argument("--dtmf", default="", help="digits the caller presses, one entry per prompt: 1,2#")
    try_.add_argument("--speak-seconds", type=float, default=3.0, help="how long the caller talks when recorded")
    try_.add_argument("--say", action="append", default=[], metavar="TEXT",
                      help="what the caller says (spoken by flite), one --say per record/recognize, in order")
    try_.add_argument("--hangup-after", type=float, default=None, help="the caller hangs up after N seconds")
    try_.add_argument("--dialect", choices=("auto", "kookoo", "kml", "twiml", "plivo"), default="auto",
                      help="the app's dialect (default auto: detected from its first document)")
    try_.add_argument("--method", choices=("GET", "POST"), default="GET")
    try_.add_argument("--speed", type=float, default=10.0, help="simulator time factor (default 10)")
    try_.add_argument("--press-after", type=float, default=1.0,
                      help="simulated seconds after a digit prompt starts before the caller presses (default 1)")
    args = parser.parse_args(argv)
    try:
        cfg = settings()
    except ConfigError as exc:
        print(f"ivr: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(cfg, args)
    from ivr.tryout import try_app

    try:
        return try_app(cfg, args)
    except ValueError as exc:
        print(f"ivr try: {exc}", file=sys.stderr)
        return 2


def _serve(cfg, args) -> int:
    from ivr.runtime import build_runtime, tune_gc
    from ivr.server import IvrServer

    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        runtime = build_runtime(cfg)
        server = IvrServer(runtime, args.listen or cfg.ivr_listen)
    except ValueError as exc:
        print(f"ivr serve: {exc}", file=sys.stderr)
        return 2
    tune_gc()
    import prom

    prom.configure(cfg.metrics_enabled)
    from ivr import metrics as ivr_metrics

    metrics_server = prom.serve(cfg.metrics_host, cfg.ivr_metrics_port, name="ivr runtime", only=ivr_metrics.OWN)
    import signal

    import gevent

    def _stop() -> None:
        # In a greenlet of its own (gevent runs signal handlers so): calls in progress get stop()'s grace
        # period, then serve_forever returns. A KeyboardInterrupt would instead surface in whatever greenlet
        # runs, and SIGTERM's default action would cut every call without a word.
        log = logging.getLogger("ivr.serve")
        log.info("IVR runtime stopping")
        server.stop()
        if metrics_server is not None:
            metrics_server.stop(timeout=1)

    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, _stop)
    try:
        server.serve_forever()
    except OSError as exc:
        print(f"ivr serve: cannot listen on {args.listen or cfg.ivr_listen}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

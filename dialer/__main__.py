"""``python -m dialer worker``: run dialer worker processes.

    python -m dialer worker [--workers N] [--node host:port:password[:max_sessions[:sps]]]...
                            [--gateway NAME] [--gateway-cps N] [--originate-timeout S] [--no-jobs]
                            [--metrics-port N]

Configuration comes from the environment (see ``python -m config --markdown``);
``--node`` replaces FREESWITCH_NODES for this run.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run; returns the exit status (2 for bad arguments)."""
    parser = argparse.ArgumentParser(prog="python -m dialer", description="Vaani dialer")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="run dialer worker process(es)")
    w.add_argument("--workers", type=int, default=1, help="processes to start (default 1)")
    w.add_argument("--node", action="append", default=[], help="FreeSWITCH node host:port:password[:max_sessions[:sps]]")
    w.add_argument("--gateway", default=None, help="sofia gateway to dial through (default DIALER_GATEWAY)")
    w.add_argument("--gateway-cps", type=float, default=None, help="calls per second it allows (DIALER_GATEWAY_CPS)")
    w.add_argument("--originate-timeout", type=int, default=None, help="seconds a call may ring (ORIGINATE_TIMEOUT)")
    w.add_argument("--worker-id", default=None, help="name of this worker (default host:pid:random)")
    w.add_argument("--metrics-port", type=int, default=None,
                   help="port of this worker's /metrics (default DIALER_METRICS_PORT; 0: none)")
    w.add_argument("--no-jobs", action="store_true", help="dial only: do not serve the records/callbacks RQ queues")
    w.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)

    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from config import ConfigError, load

    try:
        cfg = load()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.node:
        cfg = cfg.replace(freeswitch_nodes=",".join(args.node))
    from dialer.engine import EngineOptions
    from dialer.nodes import parse_nodes

    try:
        parse_nodes(cfg.freeswitch_nodes)
    except ValueError as exc:
        print(f"bad FreeSWITCH node: {exc}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("--workers must be at least 1", file=sys.stderr)
        return 2
    if args.workers > 1:
        from dialer.worker import run_many

        rest = [a for a in (argv if argv is not None else sys.argv[1:])[1:]]
        rest = [a for i, a in enumerate(rest) if not (a.startswith(("--workers", "--metrics-port"))
                                                      or (i and rest[i - 1] in ("--workers", "--metrics-port")))]
        base = cfg.dialer_metrics_port if args.metrics_port is None else args.metrics_port
        return run_many(args.workers, rest, base if cfg.metrics_enabled else 0)
    opts = EngineOptions(gateway=args.gateway, gateway_cps=args.gateway_cps,
                         originate_timeout=args.originate_timeout)
    from dialer.worker import run

    return run(cfg, options=opts, jobs=not args.no_jobs, worker_id=args.worker_id, metrics_port=args.metrics_port)


if __name__ == "__main__":
    raise SystemExit(main())

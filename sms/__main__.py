"""``python -m sms worker`` (one SMS worker; ``--workers N`` for several) and ``python -m sms standin``."""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run it."""
    ap = argparse.ArgumentParser(prog="python -m sms")
    sub = ap.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="run SMS workers (SMPP bind + RQ jobs of <prefix>-sms)")
    w.add_argument("--workers", type=int, default=1)
    sub.add_parser("standin", help="run the SMSC stand-in (see python -m sms.standin --help)")
    args, rest = ap.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.command == "standin":
        from sms.standin import main as standin_main

        return standin_main(rest)
    if args.workers > 1:
        procs = [subprocess.Popen([sys.executable, "-m", "sms", "worker"]) for _ in range(args.workers)]
        return max(p.wait() for p in procs)
    import billing.sms
    from sms.worker import run

    # Messages stored here (a call's <sendsms>, queued by the IVR runtime) are charged per part as the API's are.
    billing.sms.install()
    return run()


if __name__ == "__main__":
    raise SystemExit(main())

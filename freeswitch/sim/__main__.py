"""``python -m freeswitch.sim`` / ``fs-sim``: run the FreeSWITCH simulator in the foreground."""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line flags (defaults from the platform configuration where it has them)."""
    defaults = {}
    try:
        from config import settings

        cfg = settings()
        defaults = {"speed": cfg.sim_speed, "max_sessions": cfg.sim_max_sessions, "sps": cfg.sim_sps,
                    "scenario": cfg.sim_scenario}
    except Exception:  # the simulator must start even with a broken environment
        pass
    p = argparse.ArgumentParser(prog="fs-sim", description="ESL-faithful FreeSWITCH 1.10 simulator")
    p.add_argument("--host", default="127.0.0.1", help="address of the inbound event socket (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8021, help="port of the inbound event socket (default 8021; 0: any)")
    p.add_argument("--password", default="ClueCon", help="event socket password (default ClueCon)")
    p.add_argument("--scenario", default=defaults.get("scenario", ""), metavar="FILE",
                   help="scenario file, YAML or JSON (default: the bundled one)")
    p.add_argument("--speed", type=float, default=defaults.get("speed", 1.0), metavar="FACTOR",
                   help="time factor: 20 makes a 60 s call last 3 s (default 1)")
    p.add_argument("--max-sessions", type=int, default=defaults.get("max_sessions", 1000),
                   help="max concurrent sessions (FreeSWITCH default 1000)")
    p.add_argument("--sps", type=int, default=defaults.get("sps", 30),
                   help="sessions per second (FreeSWITCH default 30)")
    p.add_argument("--inbound-socket", default="", metavar="HOST:PORT",
                   help="where the dialplan sends inbound calls and extension originates "
                        "(`socket HOST:PORT async full`); empty: park")
    p.add_argument("--recordings-dir", default="", help="FreeSWITCH's recordings directory (the recordings_dir "
                   "global variable; relative record paths are under sound_prefix, as in FreeSWITCH)")
    p.add_argument("--sounds-dir", default="", help="base directory of relative playback paths")
    p.add_argument("--hostname", default="", help="FreeSWITCH-Hostname reported in events")
    p.add_argument("--heartbeat", type=float, default=20.0, help="seconds between HEARTBEAT events (0: none)")
    p.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING (default), ERROR")
    return p.parse_args(argv)


def raise_fd_limit(wanted: int = 65536) -> int:
    """Raise the soft open-files limit towards the hard limit (thousands of channels need sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        except (ValueError, OSError):
            return soft
    return soft


def main(argv=None) -> int:
    """Run until SIGINT/SIGTERM. Prints one ready line with the bound address."""
    args = parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from freeswitch.sim.core import SwitchConfig
    from freeswitch.sim.scenario import ScenarioError, load_scenario
    from freeswitch.sim.server import Simulator

    if args.speed <= 0:
        print("fs-sim: --speed must be a positive number", file=sys.stderr)
        return 2
    if args.max_sessions <= 0 or args.sps <= 0:
        print("fs-sim: --max-sessions and --sps must be positive", file=sys.stderr)
        return 2
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        print(f"fs-sim: {exc}", file=sys.stderr)
        return 2
    raise_fd_limit()
    config = SwitchConfig(host=args.host, port=args.port, password=args.password, speed=args.speed,
                          max_sessions=args.max_sessions, sps=args.sps, inbound_socket=args.inbound_socket,
                          recordings_dir=args.recordings_dir, sounds_dir=args.sounds_dir,
                          heartbeat=args.heartbeat)
    if args.hostname:
        config.hostname = args.hostname
    sim = Simulator(config, scenario)
    try:
        sim.start()
    except OSError as exc:
        print(f"fs-sim: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    host, port = sim.address
    print(f"fs-sim ready on {host}:{port} (password {args.password}, speed {args.speed:g}, "
          f"scenario {scenario.source}, max-sessions {args.max_sessions}, sps {args.sps})", flush=True)
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    stop.wait()
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

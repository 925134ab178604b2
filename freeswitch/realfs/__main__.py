"""``python -m freeswitch.realfs install-conf|setup|start|stop|status``: a real FreeSWITCH for Vaani.

install-conf DIR   install freeswitch/conf/ into a FreeSWITCH configuration directory (e.g. /etc/freeswitch)
setup              a private tree under REALFS_DIR from the FreeSWITCH under FREESWITCH_PREFIX, our conf in it
start / stop       run that FreeSWITCH in the background / stop it by pid
status             whether it runs, and where
"""

from __future__ import annotations

import argparse
import sys

from config import load
from freeswitch.realfs.conf import ConfError, install_conf
from freeswitch.realfs.process import RealFreeSwitch, RealFsError


def _variables(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set wants NAME=VALUE, not {pair!r}")
        out[name] = value
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m freeswitch.realfs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["install-conf", "setup", "start", "stop", "status"])
    parser.add_argument("dir", nargs="?", help="install-conf: the FreeSWITCH configuration directory")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a vars_vaani.xml variable (repeatable), e.g. --set vaani_esl_password=s3cret")
    args = parser.parse_args(argv)
    settings = load()
    try:
        if args.command == "install-conf":
            if not args.dir:
                parser.error("install-conf needs the configuration directory")
            for line in install_conf(args.dir, _variables(args.set)):
                print(line)
            return 0
        fs = RealFreeSwitch(settings.freeswitch_prefix, settings.path(settings.realfs_dir))
        if args.command == "setup":
            for line in fs.setup(_variables(args.set)):
                print(line)
            print(f"configuration ready in {fs.dirs()['conf']}")
        elif args.command == "start":
            print(f"FreeSWITCH pid {fs.start()}, logs in {fs.dirs()['log']}")
        elif args.command == "stop":
            print("stopped" if fs.stop() else "not running")
        else:
            pid = fs.pid()
            print(f"running, pid {pid}, tree {fs.workdir}" if pid else "not running")
            return 0 if pid else 3
        return 0
    except (ConfError, RealFsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

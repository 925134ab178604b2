"""Capture what a real FreeSWITCH sends in each interaction of tests/e2e/interactions.py.

    FREESWITCH_PREFIX=/opt/freeswitch python -m tests.e2e.capture --out tests/freeswitch/fixtures/real_1.10.12

starts a private FreeSWITCH (our configuration, free loopback ports, no network needed) with the sipp
carrier of the e2e suite behind gateway ``vaani_trunk``, runs every interaction (or those named with
``--only``) and writes one ``<name>.bin`` transcript each: the exact bytes every connection received, with
``>>> `` lines for what the client sent. ``--repeat N`` runs each interaction N times and says which
frame orders differ from run to run (a race in the switch, not something to pin); the first run is kept.
The switch and sipp are stopped at the end, whatever happened.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

from tests.e2e import interactions
from tests.e2e.harness import ESL_PASSWORD, SIPP_DIR, Sipp, free_port

FIXTURES = Path(__file__).resolve().parents[1] / "freeswitch" / "fixtures"


class Rig:
    """A private real FreeSWITCH and the sipp carrier (stopped by :meth:`stop`)."""

    def __init__(self, prefix: str, workdir: Path):
        from freeswitch.realfs.process import RealFreeSwitch

        self.workdir = workdir
        self.esl_port, self.sip_port, self.carrier_port = free_port(), free_port(), free_port()
        self.ivr_address = f"127.0.0.1:{free_port()}"
        self.fs = RealFreeSwitch(prefix, str(workdir / "realfs"))
        self.fs.esl_port = self.esl_port
        self.fs.setup({
            "vaani_esl_port": str(self.esl_port), "vaani_esl_password": ESL_PASSWORD,
            # Where inbound calls go (the inbound_call interaction listens there while it runs).
            "vaani_ivr_address": self.ivr_address, "vaani_prefix": "capture",
            "vaani_sip_ip": "127.0.0.1", "vaani_sip_port": str(self.sip_port), "vaani_trunk_acl": "loopback.auto",
            "vaani_trunk_proxy": f"127.0.0.1:{self.carrier_port}", "vaani_trunk_register": "false",
            "vaani_trunk_ping": "0", "vaani_max_sessions": "100", "vaani_sessions_per_second": "30",
            "external_rtp_ip": "127.0.0.1", "external_sip_ip": "127.0.0.1",
        })
        self.carrier: Sipp | None = None
        self.callers: list[Sipp] = []

    def start(self) -> "Rig":
        """Start FreeSWITCH, then the carrier."""
        self.fs.start()
        self.carrier = Sipp(["-sf", str(SIPP_DIR / "carrier_uas.xml"), "-i", "127.0.0.1", "-p",
                             str(self.carrier_port), "-mp", str(free_port()), "-trace_err", "-error_file",
                             str(self.workdir / "carrier.err")], self.workdir / "carrier.log").start()
        # The first INVITE must find sipp listening (else sofia answers it NORMAL_TEMPORARY_FAILURE).
        deadline = time.monotonic() + 15
        while _udp_port_free(self.carrier_port):
            if time.monotonic() > deadline or self.carrier.proc.poll() is not None:
                raise RuntimeError(f"sipp did not start; see {self.workdir / 'carrier.log'}")
            time.sleep(0.05)
        return self

    def version(self) -> str:
        """FreeSWITCH's version number (``1.10.12``)."""
        s = interactions.Session(self.target())
        try:
            text = s.esl().command("api version").text()
        finally:
            s.close()
        words = text.split()
        return words[2].split("-")[0] if len(words) > 2 else "unknown"

    def target(self) -> interactions.Target:
        """Where the interactions connect."""
        return interactions.Target(esl_port=self.esl_port, password=ESL_PASSWORD, inbound_address=self.ivr_address,
                                   call_in=self.call_in)

    def call_in(self, caller: str, called: str) -> None:
        """A sipp caller (sipp/caller_uac.xml) dialling ``called`` on our SIP profile as ``caller``."""
        port = free_port()
        self.callers.append(Sipp(["-sf", str(SIPP_DIR / "caller_uac.xml"), f"127.0.0.1:{self.sip_port}", "-i",
                                  "127.0.0.1", "-p", str(port), "-mp", str(free_port()), "-s", called, "-m", "1",
                                  "-timeout", "90", "-set", "caller", caller, "-trace_err", "-error_file",
                                  str(self.workdir / f"uac-{port}.err")],
                                 self.workdir / f"uac-{port}.log").start())

    def stop(self) -> None:
        """Stop the carrier and FreeSWITCH (by their pids)."""
        for sipp in self.callers + [self.carrier]:
            if sipp:
                sipp.stop()
        self.fs.stop()


def _udp_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def capture(rig: Rig, names: list[str], out: Path, repeat: int = 1) -> list[str]:
    """Run ``names`` on the rig and write ``out/<name>.bin``; returns warnings (orders that vary, failures)."""
    out.mkdir(parents=True, exist_ok=True)
    warnings = []
    for name in names:
        runs = []
        for _ in range(max(1, repeat)):
            try:
                runs.append(interactions.run(name, rig.target()))
            except Exception as exc:  # noqa: BLE001 - one failing interaction must not lose the others
                warnings.append(f"{name}: failed: {exc!r}")
                break
        if not runs:
            continue
        first = interactions.transcript_entries(runs[0])
        for other in runs[1:]:
            for label, entries in interactions.transcript_entries(other).items():
                if interactions.comparable_order(entries) != interactions.comparable_order(first.get(label, [])):
                    warnings.append(f"{name}: the frames on {label!r} came in another order in a later run")
        (out / f"{name}.bin").write_bytes(runs[0].transcript())
        print(f"captured {name}", flush=True)
    return warnings


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.capture", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="directory for the transcripts (default: tests/freeswitch/fixtures/"
                                      "real_<the switch's version>)")
    parser.add_argument("--only", default="", help="comma-separated interaction names (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per interaction, to spot racy orders")
    parser.add_argument("--keep", action="store_true", help="keep the switch's work directory (its logs)")
    args = parser.parse_args(argv)
    prefix = os.environ.get("FREESWITCH_PREFIX", "")
    if not prefix or not (Path(prefix) / "bin" / "freeswitch").is_file():
        print("capture: set FREESWITCH_PREFIX to a FreeSWITCH install prefix (with bin/freeswitch)", file=sys.stderr)
        return 2
    if not shutil.which("sipp"):
        print("capture: sipp is not installed (the carrier behind vaani_trunk is a sipp scenario)", file=sys.stderr)
        return 2
    names = [n for n in args.only.split(",") if n] or list(interactions.INTERACTIONS)
    unknown = [n for n in names if n not in interactions.INTERACTIONS]
    if unknown:
        print(f"capture: no interaction named {', '.join(unknown)}; there are: "
              f"{', '.join(interactions.INTERACTIONS)}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="vaani-capture-"))
    rig = Rig(prefix, workdir)
    try:
        rig.start()
        out = Path(args.out) if args.out else FIXTURES / f"real_{rig.version()}"
        warnings = capture(rig, names, out, args.repeat)
    finally:
        rig.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work directory kept: {workdir}")
    for w in warnings:
        print("warning: " + w, file=sys.stderr)
    print(f"{len(names)} interaction(s) written to {out}")
    return 1 if any("failed" in w for w in warnings) else 0


if __name__ == "__main__":
    sys.exit(main())

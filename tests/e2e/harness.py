"""The end-to-end rig: a real FreeSWITCH (freeswitch.realfs), sipp far ends, and the whole Vaani stack.

* FreeSWITCH runs on a private tree configured from our ``freeswitch/conf`` (``RealFreeSwitch.setup``),
  its event socket, SIP profile and the IVR runtime's address on free loopback ports;
* the carrier behind gateway ``vaani_trunk`` is a sipp UAS (``sipp/carrier_uas.xml``: the dialled number's
  last digits say whether it answers, is busy, unallocated, never answers or presses a key);
* callers are sipp UACs (``sipp/caller_uac.xml``) dialling our ``vaani`` profile;
* Vaani is ``python -m api.stack`` — what ``make run`` starts — with FREESWITCH_SIMULATOR=0.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from freeswitch import wire
from freeswitch.realfs.process import RealFreeSwitch
from tests.e2e import pcap_audio

SIPP_DIR = Path(__file__).resolve().parent / "sipp"
ESL_PASSWORD = "ClueCon"


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(span: int = 1) -> int:
    """A port on 127.0.0.1 free for TCP and, with the ``span - 1`` above it, for UDP: SIP listens on both,
    and sipp's media (``-mp``) takes its port and the next ones for RTP/RTCP. Checked, not reserved."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + span < 65536 and all(_udp_free(port + i) for i in range(span)):
            return port
    raise RuntimeError("no free port on 127.0.0.1")


def media_port() -> int:
    """A base for sipp's ``-mp``: four UDP ports free (audio RTP/RTCP, and sipp's video pair)."""
    return free_port(span=4)


def wait_for(predicate, timeout: float = 30.0, every: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until truthy (returned) or ``timeout`` (AssertionError naming ``what``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what} not met within {timeout:.0f} s")


class Esl:
    """A plain inbound ESL connection to the real switch (api commands, an event log)."""

    def __init__(self, port: int, events: str = ""):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.rfile = self.sock.makefile("rb")
        wire.read_frame(self.rfile)
        self._send(f"auth {ESL_PASSWORD}")
        assert wire.read_frame(self.rfile).headers.get("Reply-Text", "").startswith("+OK")
        if events:
            self._send(f"event plain {events}")
            wire.read_frame(self.rfile)

    def _send(self, command: str) -> None:
        self.sock.sendall(wire.encode_command(command))

    def api(self, command: str) -> str:
        """One ``api`` command's text."""
        self._send(f"api {command}")
        while True:
            frame = wire.read_frame(self.rfile)
            if frame.content_type == "api/response":
                return frame.text()

    def close(self) -> None:
        self.sock.close()


class EventLog:
    """Every CHANNEL_CREATE / ANSWER / EXECUTE / HANGUP_COMPLETE, DTMF, RECORD_STOP and avmd::beep the switch fires."""

    def __init__(self, port: int):
        import threading

        self.esl = Esl(port, "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_EXECUTE CHANNEL_HANGUP_COMPLETE DTMF "
                                 "RECORD_STOP CUSTOM avmd::beep")
        # A log waits for events as long as the switch is quiet (a minute-long conversation sends none): the
        # connection's 15 s set-up timeout ended it once, and every later event was lost.
        self.esl.sock.settimeout(None)
        self.events: list[dict] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.errors: list[str] = []
        while True:
            try:
                frame = wire.read_frame(self.esl.rfile)
            except Exception as exc:  # noqa: BLE001 - the connection closed at the end
                self.errors.append(f"read: {exc!r}")
                return
            if frame is None:
                return
            try:
                if frame.content_type == "text/event-plain":
                    self.events.append(wire.parse_event(frame).headers)
            except Exception as exc:  # noqa: BLE001 - one bad event must not end the log
                self.errors.append(f"parse: {exc!r}")

    def of(self, name: str, **match) -> list[dict]:
        """Events named ``name`` whose headers equal ``match`` (``variable_x`` as ``variable_x=``)."""
        return [e for e in list(self.events) if e.get("Event-Name") == name
                and all(e.get(k) == v for k, v in match.items())]

    def close(self) -> None:
        self.esl.close()


@dataclass
class Sipp:
    """One sipp process (UAS carrier or UAC caller)."""

    args: list[str]
    log: Path
    proc: subprocess.Popen | None = None
    cwd: Path | None = None  # where relative pcap paths of the scenario are found

    def start(self) -> "Sipp":
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(["sipp", *self.args], stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=str(self.cwd) if self.cwd else None)
        return self

    def wait(self, timeout: float = 60.0) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@dataclass
class Platform:
    """Everything running, with the addresses tests need."""

    workdir: Path
    prefix: str
    fs: RealFreeSwitch
    esl_port: int
    sip_port: int
    carrier_port: int
    ivr_port: int
    http_port: int
    env: dict[str, str] = field(default_factory=dict)
    stack: subprocess.Popen | None = None
    carrier: Sipp | None = None
    events: EventLog | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def db_url(self) -> str:
        return "sqlite:///" + str(self.workdir / "vaani.db")

    def esl(self) -> Esl:
        return Esl(self.esl_port)

    def account(self):
        """A new account allowed from loopback (``.account_id``, ``.auth``, ``.api_token``)."""
        from dialer.store import accounts, db

        with db.session_scope(self.db_url) as s:
            return accounts.create_account(s, "e2e", ip_allowlist=["127.0.0.1/32"])

    def cpaas(self, method: str, path: str, acct, **kw) -> requests.Response:
        headers = {"account": acct.account_id, "auth": acct.auth, **kw.pop("headers", {})}
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kw)

    def konnect(self, method: str, path: str, acct, **kw) -> requests.Response:
        headers = {"Authorization": acct.api_token, **kw.pop("headers", {})}
        return requests.request(method, f"{self.base}/api/v1/Accounts/{acct.account_id}{path}", headers=headers,
                                timeout=30, **kw)

    def request_cdrs(self, acct, request_id: str, timeout: float = 90, what: str = "the request's CDRs") -> list:
        """Seed 002 ``get_cdr_by_request_id`` once every record of ``request_id`` has its call_status."""
        def cdrs():
            r = self.cpaas("POST", "/api/get_cdr_by_request_id", acct, json={"request_id": request_id})
            rows = r.json()["response"].get("result") or []
            return rows if rows and all(c.get("call_status") for c in rows) else None

        return wait_for(cdrs, timeout, every=1, what=what)

    def caller(self, called: str, caller_id: str, scenario: str = "caller_uac.xml", **keys) -> Sipp:
        """A sipp UAC calling ``called`` on our SIP profile from ``caller_id``."""
        port = free_port()
        args = ["-sf", str(SIPP_DIR / scenario), f"127.0.0.1:{self.sip_port}", "-i", "127.0.0.1", "-p", str(port),
                "-mp", str(media_port()), "-s", called, "-m", "1", "-timeout", "90", "-timeout_error",
                "-set", "caller", caller_id, "-trace_err", "-error_file", str(self.workdir / f"uac-{port}.err")]
        for name, value in keys.items():
            args += ["-set", name, str(value)]
        return Sipp(args, self.workdir / f"uac-{port}.log").start()

    def log(self, name: str) -> str:
        path = self.workdir / "log" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def fs_log(self) -> str:
        path = Path(self.fs.workdir) / "log" / "freeswitch.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.events:
            self.events.close()
        if self.stack and self.stack.poll() is None:
            self.stack.terminate()
            try:
                self.stack.wait(20)
            except subprocess.TimeoutExpired:
                self.stack.kill()
        if self.carrier:
            self.carrier.stop()
        self.fs.stop()


def real_freeswitch_prefix() -> str | None:
    """FREESWITCH_PREFIX when it holds a FreeSWITCH binary and sipp is installed, else None."""
    prefix = os.environ.get("FREESWITCH_PREFIX", "")
    if prefix and (Path(prefix) / "bin" / "freeswitch").is_file() and shutil.which("sipp"):
        return prefix
    return None


def start_platform(workdir: Path, prefix: str, *, key_prefix: str, redis_url: str,
                   originate_timeout: int = 8, sps: int = 30, max_sessions: int = 1000,
                   declared_sps: int | None = None, declared_max_sessions: int | None = None) -> Platform:
    """Real FreeSWITCH + sipp carrier + ``python -m api.stack``; raises with the logs when a part fails.

    ``sps``/``max_sessions`` are the switch's limits; ``declared_sps``/``declared_max_sessions`` what
    FREESWITCH_NODES tells the dialer (default: the same), to show what happens when the switch has less
    capacity than declared.
    """
    p = Platform(workdir=workdir, prefix=key_prefix, fs=RealFreeSwitch(prefix, str(workdir / "realfs")),
                 esl_port=free_port(), sip_port=free_port(), carrier_port=free_port(), ivr_port=free_port(),
                 http_port=free_port())
    p.fs.esl_port = p.esl_port
    p.fs.setup({
        "vaani_esl_port": str(p.esl_port), "vaani_esl_password": ESL_PASSWORD,
        "vaani_ivr_address": f"127.0.0.1:{p.ivr_port}", "vaani_prefix": key_prefix,
        "vaani_sip_ip": "127.0.0.1", "vaani_sip_port": str(p.sip_port), "vaani_trunk_acl": "loopback.auto",
        "vaani_trunk_proxy": f"127.0.0.1:{p.carrier_port}", "vaani_trunk_register": "false",
        "vaani_trunk_ping": "0", "vaani_max_sessions": str(max_sessions), "vaani_sessions_per_second": str(sps),
        # No network here: the stock profiles' STUN look-ups would fail and take mod_sofia down with them.
        "external_rtp_ip": "127.0.0.1", "external_sip_ip": "127.0.0.1",
    })
    p.fs.start()
    pcap_audio.person(workdir / "person.pcap")
    pcap_audio.machine(workdir / "machine.pcap")
    _speaker_pcap(workdir / "speaker.pcap")
    p.carrier = Sipp(["-sf", str(SIPP_DIR / "carrier_uas.xml"), "-i", "127.0.0.1", "-p", str(p.carrier_port),
                      "-mp", str(media_port()), "-trace_err", "-error_file", str(workdir / "carrier.err")],
                     workdir / "carrier.log", cwd=workdir).start()
    # The carrier must be up before anything dials it: a port taken between the check and sipp's bind would
    # otherwise have every call fail NORMAL_TEMPORARY_FAILURE (CONGESTION) with no word of why.
    wait_for(lambda: p.carrier.proc.poll() is not None or not _udp_free(p.carrier_port), 10, every=0.05,
             what="the sipp carrier bound its port")
    if p.carrier.proc.poll() is not None:
        raise RuntimeError(f"the sipp carrier exited ({p.carrier.proc.returncode}): {p.carrier.log.read_text()[-2000:]}")
    p.events = EventLog(p.esl_port)
    p.env = {
        **os.environ, "DATA_DIR": str(workdir), "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": key_prefix,
        "FREESWITCH_SIMULATOR": "0",
        "FREESWITCH_NODES": f"127.0.0.1:{p.esl_port}:{ESL_PASSWORD}:{declared_max_sessions or max_sessions}:{declared_sps or sps}",
        "IVR_LISTEN": f"127.0.0.1:{p.ivr_port}", "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(p.http_port),
        "HTTP_WORKERS": "1", "ORIGINATE_TIMEOUT": str(originate_timeout), "DIALER_GATEWAY_CPS": "0",
        "CALLBACK_BACKOFF": "1", "KAIROS_CHECKSUM_WINDOW": "300",
        # Every listening part on a port of its own: two platforms (or a `make run` beside them) never meet.
        "SMPP_PORT": str(free_port()), "IVR_METRICS_PORT": str(free_port()), "DIALER_METRICS_PORT": str(free_port()),
        # The sipp nailed-up agent alternates # and * (see carrier_uas.xml).
        "AGENT_END_DTMF": "#*",
    }
    try:
        start_stack(p)
    except Exception:
        p.stop()
        raise
    return p


def _speaker_pcap(path: Path) -> None:
    """The 703 far end's words, spoken by flite (tests/e2e/test_speech.py skips when there is no synthesiser)."""
    from freeswitch.sim import speech

    if speech.synthesiser() == "flite":  # 8 kHz; espeak-ng's 22 kHz would need resampling
        pcap_audio.speaker(path, speech.audio_path("say:" + SPEAKER_SAYS))


#: What the carrier's 703 far end says (tests/e2e/test_speech.py).
SPEAKER_SAYS = "check my balance"


def start_stack(p: Platform) -> None:
    """(Re)start ``python -m api.stack`` for ``p`` and wait until it says it is up."""
    out_path = p.workdir / "stack.out"
    start = out_path.stat().st_size if out_path.exists() else 0
    out = open(out_path, "ab")
    p.stack = subprocess.Popen([sys.executable, "-m", "api.stack"], env=p.env, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, cwd=str(Path(__file__).resolve().parents[2]))

    def said():
        return out_path.read_text(errors="replace")[start:]

    wait_for(lambda: "Ctrl-C stops everything" in said() or p.stack.poll() is not None, 90, what="the stack starting")
    if p.stack.poll() is not None:
        raise RuntimeError("the stack exited:\n" + said())

"""Helpers for the dialer engine tests: an account, a contact list and a campaign in a fresh store."""

from __future__ import annotations

from datetime import timedelta

from dialer.store import db
from dialer.store.accounts import create_account
from dialer.store.models import Campaign, Contact, ContactList, DndList, DndNumber, new_id, utcnow


def make_campaign(url: str, numbers: list[str], *, account_id: str | None = None, dnd: list[str] = (),
                  account_dnd: list[str] = (), **campaign_kw) -> tuple[str, str]:
    """Create (account if needed,) a list with ``numbers``, DND lists and a campaign; returns (account_id, campaign_id)."""
    db.init_db(url)
    with db.session_scope(url) as s:
        if account_id is None or s.get(__import__("dialer.store.models", fromlist=["Account"]).Account,
                                       account_id) is None:
            account_id = create_account(s, "acme", account_id=account_id).account_id
        lst = ContactList(id=new_id("LS"), account_id=account_id, name=new_id("list"))
        s.add(lst)
        s.flush()
        s.bulk_save_objects([Contact(list_id=lst.id, number=n, name=f"c{i}", fields={"field1": str(i)})
                             for i, n in enumerate(numbers)])
        dnd_id = None
        if dnd:
            dl = DndList(id=new_id("DN"), account_id=account_id, name=new_id("dnd"), scope="campaign")
            s.add(dl)
            s.flush()
            dnd_id = dl.id
            s.add_all([DndNumber(dnd_list_id=dl.id, number=n) for n in dnd])
        if account_dnd:
            al = DndList(id=new_id("DN"), account_id=account_id, name=new_id("adnd"), scope="account")
            s.add(al)
            s.flush()
            s.add_all([DndNumber(dnd_list_id=al.id, number=n) for n in account_dnd])
        kw = dict(campaign_type=0, announcement_text="Hello {field1}", dynamic_announcement=True,
                  calls_per_minute=600, caller_id="15168148111", start_at=utcnow() - timedelta(minutes=1),
                  end_at=utcnow() + timedelta(days=1), status="scheduled")
        kw.update(campaign_kw)
        camp = Campaign(id=new_id("CM"), account_id=account_id, name=new_id("camp"), list_id=lst.id,
                        dnd_list_id=dnd_id, **kw)
        s.add(camp)
        s.flush()
        return account_id, camp.id


def numbers(n: int, start: int = 0) -> list[str]:
    """``n`` distinct E.164 numbers."""
    return [f"+1555{start + i:07d}" for i in range(n)]


# ---------------------------------------------------------------------------
# The simulator as a process (restartable on the same port), and an event monitor
# ---------------------------------------------------------------------------

import re  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402


class Sim:
    """``python -m freeswitch.sim`` on a free port; ``restart()`` kills it and starts a fresh one on the same port."""

    def __init__(self, port: int, *, speed: float = 50, sps: int = 5000, max_sessions: int = 10000,
                 scenario: str | None = None):
        self.port = port
        self.args = [sys.executable, "-m", "freeswitch.sim", "--host", "127.0.0.1", "--port", str(port),
                     "--speed", str(speed), "--sps", str(sps), "--max-sessions", str(max_sessions),
                     "--log-level", "CRITICAL", "--heartbeat", "0"]
        if scenario:
            self.args += ["--scenario", scenario]
        self.proc = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("simulator did not start")

    def restart(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self.start()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


_ATTEMPT = re.compile(r"vaani_attempt_id=([0-9a-f-]{36})")


class Monitor:
    """A separate ESL connection counting our originates as FreeSWITCH received them (BACKGROUND_JOB per bgapi)."""

    def __init__(self, port: int, prefix: str):
        from freeswitch.inbound import InboundClient

        self.prefix = prefix
        self.jobs: dict[str, int] = {}  # attempt id -> originates seen
        self.numbers: list[str] = []
        self.commands: list[str] = []  # each originate's argument as FreeSWITCH received it
        self.times: list[float] = []
        self.client = InboundClient("127.0.0.1", port, "ClueCon", events=["BACKGROUND_JOB"], on_event=self._on)
        self.client.start()
        assert self.client.wait_connected(10)

    def _on(self, event):
        arg = event.headers.get("Job-Command-Arg", "")
        if f"vaani_prefix={self.prefix}," not in arg:
            return
        self.commands.append(arg)
        m = _ATTEMPT.search(arg)
        if m:
            self.jobs[m.group(1)] = self.jobs.get(m.group(1), 0) + 1
        num = re.search(r"sofia/gateway/[^/]+/(\S+)", arg)
        if num:
            self.numbers.append(num.group(1))
        self.times.append(time.monotonic())

    @property
    def count(self) -> int:
        return len(self.times)

    def stop(self):
        self.client.stop()


def settings_for(db_url: str, prefix: str, port: int, ivr_port: int, **extra):
    """A Settings for a dialer against the simulator on ``port``."""
    from config import load

    env = {"DATABASE_URL": db_url, "REDIS_KEY_PREFIX": prefix,
           "FREESWITCH_NODES": f"127.0.0.1:{port}:ClueCon:10000:5000",
           "IVR_LISTEN": f"127.0.0.1:{ivr_port}", "DIALER_GATEWAY_CPS": "0"}
    env.update({k: str(v) for k, v in extra.items()})
    import os

    if "REDIS_URL" in os.environ:
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    return load(env)


def wait_for(predicate, timeout: float = 20.0, every: float = 0.05):
    """Poll ``predicate`` until it returns a truthy value (returned) or ``timeout`` passes (AssertionError)."""
    import gevent

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        gevent.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")

"""``vaani campaign watch`` as a real subprocess following a campaign the dialer runs on the simulator.

The dialer (in this process), the FreeSWITCH simulator (a child process over
TCP), Redis and SQLite are real; the watch reads only the database, as an
operator's terminal on another machine would.
"""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys

import gevent
import pytest

from dialer import submit
from dialer.cdr_reports import get_campaign_cdr_statistics
from dialer.engine import Dialer, EngineOptions
from dialer.store import db
from tests.conftest import free_port
from tests.dialer.engine_helpers import Sim, make_campaign, numbers, settings_for, wait_for

from .test_cli_progress import ROOT, cli_env, read_terminal

LINE = re.compile(r"^\d\d:\d\d:\d\d (?P<id>CM\w+) (?P<status>\w+) dialed=(?P<dialed>\d+) answered=(?P<answered>\d+) "
                  r"failed=(?P<failed>\d+) dnd=(?P<dnd>\d+) in_progress=(?P<in_progress>\d+) "
                  r"remaining=(?P<remaining>\d+) rate=(?P<rate>\d+)/min cap=(?P<cap>\d+)/min$")


@pytest.fixture
def sim():
    s = Sim(free_port(), speed=50)
    yield s
    s.stop()


def _watch(env, campaign_id: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "api.cli", "campaign", "watch", campaign_id, "--interval", "0.2",
                             *extra], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_watch_follows_a_simulated_campaign_to_its_end(tmp_path, key_prefix, sim):
    db_url = f"sqlite:///{tmp_path / 'vaani.db'}"
    cfg = settings_for(db_url, key_prefix, sim.port, free_port())
    nums = numbers(16)
    busy = "+15559999486"  # the simulator's default scenario: ...486 is busy
    account, camp = make_campaign(db_url, nums + [busy], dnd=[nums[2]], calls_per_minute=240)
    env = cli_env(db_url, tmp_path, key_prefix)
    watch = _watch(env, camp)
    lines: list[str] = []
    reader = gevent.spawn(lambda: lines.extend(watch.stdout))
    wait_for(lambda: lines, timeout=30)  # it is watching before the campaign starts
    d = Dialer(cfg, options=EngineOptions(foreign_delay=0.3, recovery_grace=1.0)).start()
    try:
        submit.start_campaign(camp, cfg=cfg)
        reader.join(timeout=60)
        watch.wait(timeout=10)
    finally:
        d.stop()
        if watch.poll() is None:
            watch.kill()
    stderr = watch.stderr.read()
    assert watch.returncode == 0, stderr
    assert lines[-1] == f"campaign {camp} completed: dialed 16, answered 15, failed 1, DND 1\n"
    counts = [LINE.match(x.rstrip("\n")) for x in lines[:-1]]
    assert all(counts), [x for x, m in zip(lines, counts) if not m]
    seen = [{k: (v if k in ("id", "status") else int(v)) for k, v in m.groupdict().items()} for m in counts]
    assert seen[0]["status"] == "scheduled" and seen[0]["dialed"] == 0 and seen[0]["cap"] == 240
    # Live: the counts move while calls are on the air, never backwards.
    assert any(s["in_progress"] > 0 for s in seen)
    assert any(0 < s["dialed"] < 16 for s in seen)
    assert [s["dialed"] for s in seen] == sorted(s["dialed"] for s in seen)
    # The achieved rate is reported while dialing and never above the cap.
    assert max(s["rate"] for s in seen) > 0 and all(s["rate"] <= 240 for s in seen)
    last = seen[-1]
    with db.session_scope(db_url) as s:
        cdrs = get_campaign_cdr_statistics(s, account, camp)
    assert last == {"id": camp, "status": "completed", "dialed": 16, "answered": 15, "failed": 1, "dnd": 1,
                    "in_progress": 0, "remaining": 0, "rate": last["rate"], "cap": 240}
    assert (cdrs["answer_calls"], cdrs["busy_calls"], cdrs["dnd_calls"]) == ([15], [1], [1])
    assert "Traceback" not in stderr
    # After the end, a terminal gets the drawn block (bar, counts, rate) once, and the watch returns.
    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "api.cli", "campaign", "watch", camp], env=env, cwd=ROOT,
                         stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    screen = read_terminal(master, p).decode()
    p.wait(timeout=30)
    os.close(master)
    assert p.returncode == 0
    assert f"campaign {camp} (" in screen and "completed" in screen
    assert "[" + "#" * 30 + "] 100.0%  17/17 finished" in screen
    assert "dialed 16  answered 15  failed 1  DND 1  in progress 0  remaining 0" in screen
    assert "calls_per_minute 240" in screen
    db.dispose(db_url)


def test_ctrl_c_leaves_the_watch_and_an_unknown_campaign_is_one_line(tmp_path, key_prefix, capsys, monkeypatch):
    db_url = f"sqlite:///{tmp_path / 'vaani.db'}"
    _, camp = make_campaign(db_url, numbers(3))  # never started: the watch would wait for ever
    env = cli_env(db_url, tmp_path, key_prefix)
    watch = _watch(env, camp)
    first = watch.stdout.readline()
    assert LINE.match(first.rstrip("\n")), first
    watch.send_signal(signal.SIGINT)
    out, err = watch.communicate(timeout=30)
    assert watch.returncode == 0
    assert err.strip() == "stopped watching (the campaign goes on)"
    # Refusals through the same main() in this process (a child's start-up costs a second each).
    import config
    from api.cli import main

    for key in ("DATABASE_URL", "DATA_DIR"):
        monkeypatch.setenv(key, env[key])
    config.settings.cache_clear()
    assert main(["campaign", "watch", "CMnothing"]) == 1
    assert capsys.readouterr().err.strip() == "vaani: unknown campaign 'CMnothing'"
    assert main(["campaign", "watch", camp, "--interval", "0"]) == 1
    assert capsys.readouterr().err.strip() == "vaani: --interval must be at least 0.1 seconds"
    config.settings.cache_clear()
    db.dispose(db_url)

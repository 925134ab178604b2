"""``vaani contacts import`` / ``vaani dnd import`` run as real subprocesses against a real database.

The summary names rejected rows by line and reason, the rows land in the
store through the HTTP import's own code, a terminal gets a progress bar
(and a pipe none), and bad input is one readable line with exit status 1.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from dialer.store import db
from dialer.store.accounts import create_account
from dialer.store.models import Contact, ContactList, DndList, DndNumber, new_id

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: Lines 3 (not a number) and 6 (empty number) are bad; line 4 is blank and skipped.
CSV_WITH_BAD_ROWS = ("contact_number,contact_name,field1,field2\n"
                     "919979271234,ankit,Ankit,500\n"
                     "not-a-number,bad,x,y\n"
                     "\n"
                     "918000681234,abc,Abc,100\n"
                     ",empty,x,y\n")


@dataclass
class Run:
    """What one ``vaani`` subprocess printed and returned."""

    returncode: int
    stdout: str
    stderr: str


def cli_env(db_url: str, data_dir, prefix: str = "test-cli") -> dict[str, str]:
    """The environment of a ``vaani`` subprocess on this test's database."""
    env = dict(os.environ)
    env.update(DATABASE_URL=db_url, DATA_DIR=str(data_dir), REDIS_KEY_PREFIX=prefix, PYTHONPATH=ROOT)
    return env


def vaani(env: dict, *args: str, timeout: float = 60) -> Run:
    """``python -m api.cli ARGS`` as a child process (stdout and stderr pipes: not a terminal)."""
    p = subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, cwd=ROOT, capture_output=True,
                       text=True, timeout=timeout)
    return Run(p.returncode, p.stdout, p.stderr)


def read_terminal(master: int, proc: subprocess.Popen, timeout: float = 60) -> bytes:
    """Everything a child wrote to the terminal whose master end is ``master``, until it exits."""
    import select
    import time

    screen, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # every slave end closed
                break
            screen += chunk
        elif proc.poll() is not None:
            break
    return screen


def _lists(db_url: str) -> tuple[str, str]:
    db.init_db(db_url)
    with db.session_scope(db_url) as s:
        account = create_account(s, "cli").account_id
        lst, dnd = ContactList(id=new_id("LS"), account_id=account, name="l"), \
            DndList(id=new_id("DN"), account_id=account, name="d")
        s.add_all([lst, dnd])
        return lst.id, dnd.id


def test_contacts_import_keeps_good_rows_and_names_bad_ones_by_line(db_url, tmp_path):
    list_id, _ = _lists(db_url)
    path = tmp_path / "contacts.csv"
    path.write_text(CSV_WITH_BAD_ROWS)
    out = vaani(cli_env(db_url, tmp_path), "contacts", "import", list_id, str(path))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"{path}: 2 contacts imported, 2 rows rejected"
    assert lines[1].startswith("  line 3: number 'not-a-number'") and "not a valid phone number" in lines[1]
    assert lines[2] == "  line 6: the number is empty"
    assert out.stderr == ""  # no terminal: no bar
    with db.session_scope(db_url) as s:
        rows = s.scalars(select(Contact).where(Contact.list_id == list_id).order_by(Contact.number)).all()
        assert [(c.number, c.name, c.fields) for c in rows] == [
            ("+918000681234", "abc", {"field1": "Abc", "field2": "100"}),
            ("+919979271234", "ankit", {"field1": "Ankit", "field2": "500"})]
    db.dispose(db_url)


def test_dnd_import_and_a_file_with_no_valid_row(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'vaani.db'}"
    _, dnd_id = _lists(db_url)
    env = cli_env(db_url, tmp_path)
    good = tmp_path / "dnd.csv"
    good.write_text("dnd_contact_number,dnd_contact_name\n+91 99792 71234,x\n12,short\n919979271234,again\n")
    out = vaani(env, "dnd", "import", dnd_id, str(good))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == f"{good}: 1 DND numbers imported, 1 rows rejected"
    assert out.stdout.splitlines()[1].startswith("  line 3: number '12'")
    bad = tmp_path / "bad.csv"
    bad.write_text("nope\nstill nope\n")
    out = vaani(env, "dnd", "import", dnd_id, str(bad))
    assert out.returncode == 1
    assert "line 1:" in out.stdout and "line 2:" in out.stdout
    assert out.stderr.strip() == f"vaani: no valid rows in {bad}: (2) rejected"
    with db.session_scope(db_url) as s:
        assert s.scalars(select(DndNumber.number).where(DndNumber.dnd_list_id == dnd_id)).all() == ["+919979271234"]


def test_bad_input_is_one_readable_line_and_exit_status_1(tmp_path, capsys, monkeypatch):
    db_url = f"sqlite:///{tmp_path / 'vaani.db'}"
    list_id, dnd_id = _lists(db_url)
    env = cli_env(db_url, tmp_path)
    good = tmp_path / "ok.csv"
    good.write_text("919979271234,a\n")
    malformed = tmp_path / "malformed.csv"
    # csv refuses a field over its 128 KiB limit: the importer names the line.
    malformed.write_text("919979271234,a\n918000681234,b\n918000681235," + "x" * 200_000 + "\n")
    # The real command, one child process per kind of refusal: the file, the list, the CSV itself.
    for args, message in [
        (("contacts", "import", list_id, str(tmp_path / "missing.csv")), f"vaani: no such file: {tmp_path}/missing.csv"),
        (("contacts", "import", "LSnothing", str(good)), "vaani: unknown contact list 'LSnothing'"),
        (("contacts", "import", list_id, str(malformed)),
         f"vaani: {malformed}: CSV is malformed at line 3: field larger than field limit (131072); "
         "the 2 valid rows before it were imported"),
    ]:
        out = vaani(env, *args)
        assert (out.returncode, out.stderr.strip()) == (1, message), out
        assert "Traceback" not in out.stderr + out.stdout
    # The rows read before the malformed line were kept, as the refusal says.
    with db.session_scope(db_url) as s:
        assert sorted(s.scalars(select(Contact.number).where(Contact.list_id == list_id))) == [
            "+918000681234", "+919979271234"]
    db.dispose(db_url)
    # The same main() in this process for the rest (a child's start-up costs a second each).
    import config
    from api.cli import main

    for key in ("DATABASE_URL", "DATA_DIR"):
        monkeypatch.setenv(key, env[key])
    config.settings.cache_clear()
    for args, message in [
        (("dnd", "import", list_id, str(good)), f"vaani: unknown DND list '{list_id}'"),
        (("contacts", "import", list_id, str(tmp_path)), f"vaani: {tmp_path} is a directory, not a CSV file"),
    ]:
        assert main(list(args)) == 1
        assert capsys.readouterr().err.strip() == message
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    config.settings.cache_clear()
    assert main(["contacts", "import", "LS1", str(good)]) == 1
    assert capsys.readouterr().err.strip() == (
        "vaani: database error: no such table: contact_lists (no schema or an old one: vaani db upgrade)")
    config.settings.cache_clear()
    db.dispose()


def test_a_terminal_gets_a_progress_bar(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'vaani.db'}"
    list_id, _ = _lists(db_url)
    path = tmp_path / "big.csv"
    with open(path, "w") as fh:  # no header: number, name, field1; over one read buffer, several batches
        for i in range(3000):
            fh.write(f"+9199800{i:05d},name{i},{i}\n")
    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "api.cli", "contacts", "import", list_id, str(path)],
                         env=cli_env(db_url, tmp_path), cwd=ROOT, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    screen = read_terminal(master, p)
    stdout, _ = p.communicate(timeout=60)
    os.close(master)
    assert p.returncode == 0
    assert stdout.decode() == f"{path}: 3000 contacts imported, 0 rows rejected\n"
    drawn = screen.decode().replace("\x1b[K", "").split("\r")
    final = [d for d in drawn if d.strip()][-1]
    assert final.startswith("big.csv [" + "#" * 30 + "] 100%  3,000 lines")
    with db.session_scope(db_url) as s:
        assert len(s.scalars(select(Contact.id).where(Contact.list_id == list_id)).all()) == 3000


def test_progress_bar_draws_only_on_a_terminal_and_at_most_ten_times_a_second():
    import io

    from api.cli_progress import ProgressBar

    now = [0.0]

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    pb = ProgressBar(1000, label="f.csv", stream=tty, clock=lambda: now[0])
    for i in range(1, 101):  # 100 updates over 0.99 s of the fake clock
        now[0] = i * 0.0099
        pb.update(i * 10, i)
    pb.close()
    frames = [f for f in tty.getvalue().split("\r") if f]
    assert 9 <= len(frames) <= 12  # ten a second, plus the closing one
    assert frames[-1].startswith("f.csv [" + "#" * 30 + "] 100%  100 lines")
    plain = io.StringIO()
    quiet = ProgressBar(1000, stream=plain)
    quiet.update(500, 5)
    quiet.close()
    assert plain.getvalue() == ""


@pytest.mark.parametrize("fraction,drawn", [(0, "[" + "." * 30 + "]"), (0.5, "[" + "#" * 15 + "." * 15 + "]"),
                                            (2, "[" + "#" * 30 + "]")])
def test_bar(fraction, drawn):
    from api.cli_progress import bar

    assert bar(fraction) == drawn


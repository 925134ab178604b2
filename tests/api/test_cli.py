"""The ``vaani`` command over a real database: demo accounts, accounts, flows, templates, readable errors."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from api.cli import main


@dataclass
class Run:
    """What one ``vaani`` invocation printed and returned."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def vaani(monkeypatch, capsys):
    """Run ``vaani ARGS`` in-process with DATABASE_URL/DATA_DIR set (the settings cache is reset)."""
    import config

    def run(db_url: str, data_dir, *args: str) -> Run:
        monkeypatch.setenv("DATABASE_URL", db_url)
        monkeypatch.setenv("DATA_DIR", str(data_dir))
        config.settings.cache_clear()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
        out = capsys.readouterr()
        return Run(code, out.out, out.err)

    yield run
    config.settings.cache_clear()


def test_demo_accounts_then_credentials_work(vaani, db_url, tmp_path):
    first = vaani(db_url, tmp_path, "demo-accounts")
    assert first.returncode == 0, first.stderr
    secrets = dict(re.findall(r"account: (account_\d).*?\n\s+auth[^:]*:\s+(\S+)", first.stdout))
    assert set(secrets) == {"account_1", "account_2"}
    again = vaani(db_url, tmp_path, "demo-accounts")
    assert again.returncode == 0 and "exists" in again.stdout and secrets["account_1"] not in again.stdout
    from dialer.store import accounts, db

    with db.session_scope(db_url) as s:
        assert accounts.verify_auth(s, "account_1", secrets["account_1"]) is not None
        assert accounts.verify_auth(s, "account_1", secrets["account_2"]) is None
    db.dispose(db_url)


def test_account_flow_template_commands(vaani, db_url, tmp_path):
    out = vaani(db_url, tmp_path, "account", "create", "Acme", "--id", "acme", "--allow-ip", "10.0.0.0/8")
    assert out.returncode == 0 and "api_token" in out.stdout, out.stderr
    listing = vaani(db_url, tmp_path, "account", "list")
    assert "acme\tAcme\tactive" in listing.stdout and "10.0.0.0/8" in listing.stdout
    flow = vaani(db_url, tmp_path, "flow", "create", "acme", "http://127.0.0.1:9/app.xml", "--flow-id", "abcd1234")
    assert "flow-id:     abcd1234" in flow.stdout and re.search(r"security-id: [0-9a-f]{64}", flow.stdout)
    assert "abcd1234\tacme" in vaani(db_url, tmp_path, "flow", "list").stdout
    tpl = vaani(db_url, tmp_path, "template", "create", "acme", "login", "Your code is {otp}")
    assert tpl.returncode == 0 and "announce_template_id: AN" in tpl.stdout


@pytest.mark.parametrize("args,message", [
    (("flow", "create", "nobody", "http://x/y"), "unknown account"),
    (("flow", "create", "nobody", "ftp://x/y"), "APP_URL must be"),
    (("account", "allow-ip", "nobody", "not-an-ip"), "nobody"),
    (("template", "create", "nobody", "t", "no placeholder"), "{otp}"),
])
def test_errors_are_one_readable_line(vaani, db_url, tmp_path, args, message):
    out = vaani(db_url, tmp_path, *args)
    assert out.returncode in (1, 2)
    assert message in out.stderr and "Traceback" not in out.stderr

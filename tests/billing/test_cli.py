"""``vaani balance ...``: the installed command in a subprocess once, then the same ``main`` in this process
(each subprocess costs a second of imports), on a real SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from dialer.store import accounts, db
from dialer.store.billing_models import BillingLedger, BillingRate

VAANI = os.path.join(os.path.dirname(sys.executable), "vaani")


@pytest.fixture
def env(tmp_path, redis_url, key_prefix, monkeypatch):
    url = f"sqlite:///{tmp_path / 'vaani.db'}"
    db.init_db(url)
    values = {"DATABASE_URL": url, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": key_prefix}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    import config

    config.settings.cache_clear()
    yield {**os.environ, **values}
    config.settings.cache_clear()
    db.dispose(url)


def _main(capsys, *args):
    from api import cli

    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_topup_show_rates_and_the_audit_trail(env, tmp_path, capsys):
    url = env["DATABASE_URL"]
    with db.session_scope(url) as s:
        account_id = accounts.create_account(s, "Abhirup").account_id
    card = tmp_path / "rates.csv"
    card.write_text("service,prefix,rate,pulse\nvoice,91,0.60,60/60\nvoice,9180,0.40,1/1\nsms,91,0.20,\n")
    out = subprocess.run([VAANI, "balance", "rates", "import", account_id, str(card)], capture_output=True,
                         text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{account_id}: 3 rates imported"
    code, stdout, _ = _main(capsys, "balance", "rates", "show", account_id)
    assert stdout.splitlines() == ["service,prefix,rate,pulse", "sms,91,0.20,", "voice,9180,0.40,1/1",
                                   "voice,91,0.60,60/60"]
    code, stdout, err = _main(capsys, "balance", "topup", account_id, "4,801", "--note", "invoice 17", "--by", "asha")
    assert code == 0, err
    assert "balance Rs.4,801, available Rs.4,801" in stdout
    assert _main(capsys, "balance", "adjust", account_id, "-1", "--note", "goodwill reversed", "--by", "ravi")[0] == 0
    code, stdout, _ = _main(capsys, "balance", "show", account_id)
    assert stdout.splitlines()[0] == f"{account_id}: mode paid, balance Rs.4,800, reserved Rs.0, available Rs.4,800"
    assert "adjust" in stdout and "ravi" in stdout and "invoice 17" in stdout
    with db.session_scope(url) as s:
        trail = [(e.kind, e.amount, e.balance_after, e.actor, e.note) for e in
                 s.scalars(select(BillingLedger).order_by(BillingLedger.id))]
        assert len(s.scalars(select(BillingRate)).all()) == 3
    assert trail == [("topup", 48010000, 48010000, "asha", "invoice 17"),
                     ("adjust", -10000, 48000000, "ravi", "goodwill reversed")]


def test_mistakes_are_one_readable_line(env, tmp_path, capsys):
    with db.session_scope(env["DATABASE_URL"]) as s:
        account_id = accounts.create_account(s, "acme").account_id
    bad = tmp_path / "bad.csv"
    bad.write_text("service,prefix,rate,pulse\nvoice,91,0.60,sixty\n")
    for args, want, message in (
            (("balance", "topup", "nobody", "10"), 1, "no account 'nobody'"),
            (("balance", "topup", account_id, "ten"), 1, "is not an amount"),
            (("balance", "topup", account_id, "-5"), 1, "positive"),
            (("balance", "adjust", account_id, "-5"), 2, "needs --note"),
            (("balance", "adjust", account_id, "-5", "--note", "x"), 1, "below"),
            (("balance", "rates", "import", account_id, str(bad)), 1, "line 2: pulse 'sixty'"),
            (("balance", "rates", "import", account_id, str(tmp_path / "none.csv")), 1, "cannot read")):
        code, _, err = _main(capsys, *args)
        assert code == want, (args, err)
        assert message in err and "Traceback" not in err, (args, err)
        assert len(err.strip().splitlines()) == 1

"""``vaani balance``: prepaid balances and rate cards from a terminal (docs/billing.md).

    vaani balance topup ACCOUNT_ID AMOUNT [--note TEXT] [--by NAME]   credit the balance (ledger line)
    vaani balance adjust ACCOUNT_ID AMOUNT --note TEXT [--by NAME]    a signed correction (ledger line)
    vaani balance show ACCOUNT_ID [--ledger N]                        balance, holds, newest ledger lines
    vaani balance rates import ACCOUNT_ID FILE                        replace the rate card from a CSV
    vaani balance rates show ACCOUNT_ID                               the rate card

Every change is a ``billing_ledger`` line naming who made it (``--by``, default the login user) and why.
A top-up that leaves the account able to pay resumes the campaigns the dialer paused for lack of balance.
"""

from __future__ import annotations

import getpass
import os
import sys

_CURRENCY_HELP = "in the account's currency, e.g. 500 or 0.50"


def _cfg():
    from config import settings

    return settings()


def _session(immediate: bool = False):
    from dialer.store import db

    url = _cfg().sqlalchemy_url
    db.init_db(url)
    return db.session_scope(url, immediate=immediate)


def _actor(args) -> str:
    if args.by:
        return args.by
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container): say so rather than fail
        return os.environ.get("USER", "unknown")


def _credit(args, kind: str) -> int:
    from billing import holds, ledger, money
    from dialer import submit

    amount = money.parse(args.amount)
    with _session(immediate=True) as s:
        bal = ledger.topup(s, args.account_id, amount, actor=_actor(args), note=args.note or "", kind=kind)
        resumed = holds.release_holds(s, args.account_id) if bal.available > 0 else []
    for campaign_id in resumed:
        try:
            status = submit.resume_campaign(campaign_id, cfg=_cfg())
            print(f"campaign {campaign_id} resumed ({status})")
        except Exception as exc:  # noqa: BLE001 - stopped or deleted meanwhile: the top-up stands
            print(f"campaign {campaign_id} not resumed: {exc}")
    cur = _cfg().billing_currency
    print(f"{args.account_id}: {kind} {money.shown(amount, cur)}; balance {money.shown(bal.balance, cur)}, "
          f"available {money.shown(bal.available, cur)}")
    return 0


def cmd_topup(args) -> int:
    """Credit an account's balance."""
    return _credit(args, "topup")


def cmd_adjust(args) -> int:
    """A signed correction of an account's balance."""
    if not args.note:
        print("vaani: an adjustment needs --note saying why", file=sys.stderr)
        return 2
    return _credit(args, "adjust")


def cmd_show(args) -> int:
    """An account's balance, held campaigns and newest ledger lines."""
    from billing import holds, ledger, money
    from dialer.store.models import Account

    cur = _cfg().billing_currency
    with _session() as s:
        if s.get(Account, args.account_id) is None:
            raise ValueError(f"no account {args.account_id!r}")
        bal = ledger.balance(s, args.account_id)
        held = holds.held(s, args.account_id)
        lines = ledger.entries(s, args.account_id, args.ledger)
    if not bal.metered:
        print(f"{args.account_id}: not metered (no top-up yet): its calls are not priced")
    else:
        print(f"{args.account_id}: mode {bal.mode}, balance {money.shown(bal.balance, cur)}, "
              f"reserved {money.shown(bal.reserved, cur)}, available {money.shown(bal.available, cur)}")
    if held:
        print("paused for lack of balance: " + ", ".join(held))
    for e in lines:
        print(f"  {e.at:%Y-%m-%d %H:%M:%S}  {e.kind:<6} {money.plain(e.amount):>12}  "
              f"balance {money.plain(e.balance_after):>12}  {e.actor or e.reference}  {e.note}".rstrip())
    return 0


def cmd_rates_import(args) -> int:
    """Replace an account's rate card from a CSV file."""
    from billing import rates
    from dialer.store.models import Account

    try:
        with open(args.file, encoding="utf-8-sig") as fh:
            text = fh.read()
    except OSError as exc:
        raise ValueError(f"cannot read {args.file}: {exc.strerror}") from None
    card = rates.parse_csv(text)
    with _session(immediate=True) as s:
        if s.get(Account, args.account_id) is None:
            raise ValueError(f"no account {args.account_id!r}")
        n = rates.replace_card(s, args.account_id, card)
    print(f"{args.account_id}: {n} rates imported")
    return 0


def cmd_rates_show(args) -> int:
    """An account's rate card, longest prefixes first."""
    from sqlalchemy import select

    from billing import money
    from dialer.store.billing_models import BillingRate

    with _session() as s:
        rows = s.scalars(select(BillingRate).where(BillingRate.account_id == args.account_id)).all()
    print("service,prefix,rate,pulse")
    for r in sorted(rows, key=lambda r: (r.service, -len(r.prefix), r.prefix)):
        pulse = "" if r.service == "sms" else f"{r.pulse_initial}/{r.pulse_increment}"
        print(f"{r.service},{r.prefix},{money.plain(r.rate)},{pulse}")
    return 0


def register(sub) -> None:
    """Add ``vaani balance ...`` to the ``vaani`` parser's sub-commands."""
    bal = sub.add_parser("balance", help="prepaid balances and rate cards").add_subparsers(
        dest="balance_command", required=True)
    for name, func, help_ in (("topup", cmd_topup, "credit an account's balance"),
                              ("adjust", cmd_adjust, "a signed correction, with --note")):
        t = bal.add_parser(name, help=help_)
        t.add_argument("account_id")
        t.add_argument("amount", help=_CURRENCY_HELP)
        t.add_argument("--note", help="why (kept in the ledger)")
        t.add_argument("--by", help="who (default: the login user)")
        t.set_defaults(func=func)
    sh = bal.add_parser("show", help="balance, paused campaigns and the newest ledger lines")
    sh.add_argument("account_id")
    sh.add_argument("--ledger", type=int, default=10, help="ledger lines to show (default 10)")
    sh.set_defaults(func=cmd_show)
    rt = bal.add_parser("rates", help="rate cards").add_subparsers(dest="rates_command", required=True)
    ri = rt.add_parser("import", help="replace the rate card from a CSV (service,prefix,rate,pulse)")
    ri.add_argument("account_id")
    ri.add_argument("file")
    ri.set_defaults(func=cmd_rates_import)
    rs = rt.add_parser("show", help="print the rate card as CSV")
    rs.add_argument("account_id")
    rs.set_defaults(func=cmd_rates_show)

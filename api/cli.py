"""The ``vaani`` command: accounts, flows, OTP templates and the database, from a terminal.

    vaani db upgrade                          create or migrate the schema
    vaani demo-accounts                       create the seed's account_1 and account_2 (secrets printed once)
    vaani account create NAME [--id ID] [--region IN] [--allow-ip CIDR ...]
    vaani account list
    vaani account rotate ACCOUNT_ID           new secrets (the old ones stop working)
    vaani account allow-ip ACCOUNT_ID CIDR... replace the Kairos IP allow-list
    vaani flow create ACCOUNT_ID APP_URL [--name N] [--fallback-url U] [--dialect kookoo|kml|twiml|plivo] [--callback-url U]
    vaani flow list [ACCOUNT_ID]
    vaani template create ACCOUNT_ID NAME TEXT   an OTP announce template (TEXT holds {otp})
    vaani contacts import LIST_ID FILE        import a contacts CSV (progress bar, rejected rows by line)
    vaani dnd import DND_LIST_ID FILE         import a DND CSV (likewise)
    vaani campaign watch CAMPAIGN_ID          follow a campaign's counts and rate until it ends
    vaani balance topup|adjust|show ...       prepaid balances, with a ledger (api/cli_billing.py)
    vaani balance rates import|show ...       rate cards

Secrets are printed once and stored only as digests. Errors are one readable
line on stderr and exit status 1 or 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

DEMO_ACCOUNTS = (("account_1", "Account1"), ("account_2", "Account2"))


def _print_secrets(new, name: str) -> None:
    print(f"account: {new.account_id}  ({name})")
    print(f"  auth (seed 002 'auth' header):          {new.auth}")
    print(f"  api_token (Konnect 'Authorization'):    {new.api_token}")


def cmd_db_upgrade(args) -> int:
    """Create or migrate the schema."""
    from config import settings
    from dialer.store import db

    db.init_db(settings().sqlalchemy_url)
    print(f"database is up to date: {_safe_url(settings().sqlalchemy_url)}")
    return 0


def _safe_url(url: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _session():
    from config import settings
    from dialer.store import db

    url = settings().sqlalchemy_url
    db.init_db(url)
    return db.session_scope(url)


def cmd_demo_accounts(args) -> int:
    """Create the seed's demo accounts if missing; print the secrets of those created now."""
    from dialer.store import accounts
    from dialer.store.models import Account

    with _session() as s:
        for account_id, name in DEMO_ACCOUNTS:
            if s.get(Account, account_id) is not None:
                print(f"account: {account_id} exists (its secrets were printed when it was created; "
                      f"`vaani account rotate {account_id}` makes new ones)")
                continue
            new = accounts.create_account(s, name, account_id=account_id, ip_allowlist=["127.0.0.1/32", "::1/128"])
            _print_secrets(new, name)
    return 0


def cmd_account_create(args) -> int:
    """Create one account."""
    from dialer.store import accounts

    with _session() as s:
        new = accounts.create_account(s, args.name, account_id=args.id, default_region=args.region,
                                      ip_allowlist=args.allow_ip or [])
    _print_secrets(new, args.name)
    return 0


def cmd_account_list(args) -> int:
    """List accounts (never their secrets)."""
    from dialer.store import accounts

    with _session() as s:
        rows = accounts.list_accounts(s)
        if not rows:
            print("no accounts (create one with: vaani account create NAME)")
        for a in rows:
            allow = ",".join(a.ip_allowlist or []) or "-"
            print(f"{a.id}\t{a.name}\t{'active' if a.active else 'inactive'}\tregion={a.default_region or '-'}"
                  f"\tkairos_ips={allow}")
    return 0


def cmd_account_rotate(args) -> int:
    """Replace an account's secrets."""
    from dialer.store import accounts

    with _session() as s:
        new = accounts.rotate_secrets(s, args.account_id)
    _print_secrets(new, args.account_id)
    return 0


def cmd_account_allow_ip(args) -> int:
    """Replace the Kairos IP allow-list."""
    from dialer.store import accounts

    with _session() as s:
        entries = accounts.set_ip_allowlist(s, args.account_id, args.cidr)
    print(f"{args.account_id}: kairos IP allow-list = {', '.join(entries) or '(empty: every request refused)'}")
    return 0


def cmd_flow_create(args) -> int:
    """Create a Kairos flow; print its flow-id and security-id (once)."""
    from dialer.store import accounts

    if not args.app_url.startswith(("http://", "https://")):
        raise _Usage("APP_URL must be an http:// or https:// URL")
    with _session() as s:
        flow, security_id = accounts.create_flow(
            s, args.account_id, args.app_url, flow_id=args.flow_id, name=args.name or "",
            fallback_url=args.fallback_url, dialect=args.dialect, callback_url=args.callback_url)
        print(f"flow-id:     {flow.id}")
        print(f"security-id: {security_id}")
    return 0


def cmd_flow_list(args) -> int:
    """List flows."""
    from sqlalchemy import select

    from dialer.store.models import Flow

    with _session() as s:
        q = select(Flow).order_by(Flow.created_at)
        if args.account_id:
            q = q.where(Flow.account_id == args.account_id)
        rows = s.scalars(q).all()
        if not rows:
            print("no flows")
        for f in rows:
            print(f"{f.id}\t{f.account_id}\t{f.dialect}\t{f.app_url}\t{f.name}")
    return 0


def cmd_template_create(args) -> int:
    """Create an OTP announce template."""
    from dialer.store import accounts
    from dialer.store.models import AnnounceTemplate, new_id

    if "{otp}" not in args.text:
        raise _Usage("TEXT must contain the placeholder {otp}")
    with _session() as s:
        accounts.get_account(s, args.account_id)
        template_id = new_id("AN")
        s.add(AnnounceTemplate(id=template_id, account_id=args.account_id, name=args.name, text=args.text))
    print(f"announce_template_id: {template_id}")
    return 0


class _Usage(Exception):
    """A command-line mistake: printed, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    p = argparse.ArgumentParser(prog="vaani", description="Manage the Vaani voice platform.")
    sub = p.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="create or migrate the schema").set_defaults(func=cmd_db_upgrade)

    sub.add_parser("demo-accounts", help="create account_1 and account_2 if missing").set_defaults(
        func=cmd_demo_accounts)

    acc = sub.add_parser("account", help="accounts").add_subparsers(dest="account_command", required=True)
    c = acc.add_parser("create", help="create an account and print its secrets once")
    c.add_argument("name")
    c.add_argument("--id", help="account id (default: AC + 10 hex)")
    c.add_argument("--region", help="ISO 3166 region for national numbers, e.g. IN")
    c.add_argument("--allow-ip", action="append", help="Kairos IP allow-list entry (repeatable)")
    c.set_defaults(func=cmd_account_create)
    acc.add_parser("list", help="list accounts").set_defaults(func=cmd_account_list)
    r = acc.add_parser("rotate", help="replace an account's secrets")
    r.add_argument("account_id")
    r.set_defaults(func=cmd_account_rotate)
    a = acc.add_parser("allow-ip", help="replace the Kairos IP allow-list")
    a.add_argument("account_id")
    a.add_argument("cidr", nargs="*")
    a.set_defaults(func=cmd_account_allow_ip)

    fl = sub.add_parser("flow", help="Kairos flows").add_subparsers(dest="flow_command", required=True)
    f = fl.add_parser("create", help="create a flow and print flow-id and security-id once")
    f.add_argument("account_id")
    f.add_argument("app_url")
    f.add_argument("--name")
    f.add_argument("--flow-id", help="8-character flow id (default: random)")
    f.add_argument("--fallback-url")
    f.add_argument("--dialect", choices=("kookoo", "kml", "twiml", "plivo"), default="kookoo")
    f.add_argument("--callback-url")
    f.set_defaults(func=cmd_flow_create)
    fls = fl.add_parser("list", help="list flows")
    fls.add_argument("account_id", nargs="?")
    fls.set_defaults(func=cmd_flow_list)

    t = sub.add_parser("template", help="OTP announce templates").add_subparsers(dest="template_command",
                                                                                 required=True)
    tc = t.add_parser("create", help="create an announce template")
    tc.add_argument("account_id")
    tc.add_argument("name")
    tc.add_argument("text")
    tc.set_defaults(func=cmd_template_create)

    from api import cli_billing, cli_campaigns, cli_imports

    cli_imports.register(sub)
    cli_campaigns.register(sub)
    cli_billing.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``vaani`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except _Usage as exc:
        print(f"vaani: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: what was written stays written
        print("\nvaani: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a readable line, never a traceback
        from dialer.store.accounts import AccountError
        from dialer.store.db import StoreError

        from sqlalchemy.exc import DBAPIError

        if isinstance(exc, (AccountError, StoreError, ValueError)):
            print(f"vaani: {exc}", file=sys.stderr)
        elif isinstance(exc, DBAPIError):  # the driver's message, not SQLAlchemy's statement dump
            reason = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
            hint = " (no schema or an old one: vaani db upgrade)" if any(
                w in reason for w in ("no such table", "no such column", "does not exist")) else ""
            print(f"vaani: database error: {reason}{hint}", file=sys.stderr)
        else:
            print(f"vaani: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())

"""``vaani campaign watch CAMPAIGN_ID``: follow a campaign in the terminal until it ends (or Ctrl-C).

The counts are the dashboard's, so the terminal and the browser never
disagree: :func:`api.dashboard.data.progress` (finished calls by outcome from
the CDRs, attempts on the air and still queued from the attempts' states) and
:func:`api.dashboard.data.rate_series` (calls a dialer worker claimed to
dial in the trailing minute, what ``calls_per_minute`` caps). Each refresh shows

* dialed: calls placed (finished calls that were not DND, plus those in progress)
* answered / failed: finished calls answered / not answered (busy, no answer, unavailable, ...)
* DND: contacts never dialed because their number is on a DND list
* in progress: attempts dialing, ringing or answered now
* remaining: attempts still queued (contacts not dialed yet, and retries waiting)
* rate: calls dialed in the last 60 seconds, against the campaign's ``calls_per_minute``

On a terminal the block is redrawn in place with a bar of finished calls;
elsewhere (a pipe, a log file) one line per refresh. The watch ends when the
campaign is completed, stopped, cancelled or failed and no call of it is in
progress (exit 0), or on Ctrl-C (exit 0: the campaign goes on). An unknown
campaign is one readable line and exit status 1.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone

#: Campaign statuses after which nothing new is dialed.
FINAL_STATUSES = ("completed", "stopped", "cancelled", "failed")


class WatchError(ValueError):
    """A watch that cannot run (unknown campaign): printed as one line, exit status 1."""


@dataclass
class Snapshot:
    """A campaign's counts at one moment."""

    campaign_id: str
    name: str
    status: str
    calls_per_minute: int
    dialed: int
    answered: int
    failed: int
    dnd: int
    in_progress: int
    remaining: int
    total: int
    done_percent: float
    rate: int

    @property
    def ended(self) -> bool:
        """Nothing more will happen: a final status and no call still on the air."""
        return self.status in FINAL_STATUSES and self.in_progress == 0


def snapshot(db_url: str, campaign_id: str) -> Snapshot:
    """Read one campaign's counts and achieved rate, as the dashboard reads them."""
    from api.dashboard import data
    from dialer.store import db
    from dialer.store.models import Campaign

    with db.session_scope(db_url) as s:
        camp = s.get(Campaign, campaign_id)
        if camp is None:
            raise WatchError(f"unknown campaign {campaign_id!r}")
        bar = data.progress(s, camp.account_id, [campaign_id])[campaign_id]
        rate = data.rate_series(s, campaign_id)["now"]
        return Snapshot(
            campaign_id=campaign_id, name=camp.name, status=camp.status,
            calls_per_minute=int(camp.calls_per_minute or 0), dialed=bar["dialed"], answered=bar["answered"],
            failed=bar["failed"], dnd=bar["dnd"], in_progress=bar["live"], remaining=bar["remaining"],
            total=bar["total"], done_percent=bar["done_percent"], rate=rate)


def line(snap: Snapshot, now: datetime | None = None) -> str:
    """One refresh as a single line (for pipes and log files): ``key=value`` counts, easy to read and grep."""
    now = now or datetime.now(timezone.utc)
    return (f"{now:%H:%M:%S} {snap.campaign_id} {snap.status} dialed={snap.dialed} answered={snap.answered} "
            f"failed={snap.failed} dnd={snap.dnd} in_progress={snap.in_progress} remaining={snap.remaining} "
            f"rate={snap.rate}/min cap={snap.calls_per_minute}/min")


def block(snap: Snapshot, now: datetime | None = None) -> list[str]:
    """One refresh as the lines drawn on a terminal: header, bar of finished calls, counts, rate."""
    from api.cli_progress import bar

    now = now or datetime.now(timezone.utc)
    done = snap.answered + snap.failed + snap.dnd
    loaded = f"{done}/{snap.total} finished" if snap.total else "contacts not loaded yet"
    return [
        f"campaign {snap.campaign_id} ({snap.name})  {snap.status}  {now:%H:%M:%S} UTC",
        f"{bar(snap.done_percent / 100)} {snap.done_percent:5.1f}%  {loaded}",
        f"dialed {snap.dialed}  answered {snap.answered}  failed {snap.failed}  DND {snap.dnd}  "
        f"in progress {snap.in_progress}  remaining {snap.remaining}",
        f"rate {snap.rate}/min in the last minute, calls_per_minute {snap.calls_per_minute}",
    ]


def watch(db_url: str, campaign_id: str, *, interval: float = 1.0, out=None, tty: bool | None = None,
          sleep=time.sleep) -> Snapshot:
    """Refresh until the campaign ends; returns its last snapshot. Ctrl-C propagates as KeyboardInterrupt."""
    out = out or sys.stdout
    if tty is None:
        tty = bool(getattr(out, "isatty", lambda: False)())
    drawn = 0
    while True:
        snap = snapshot(db_url, campaign_id)
        if tty:
            lines = block(snap)
            # Back to the first line of the previous block, clear it and what follows, draw anew.
            out.write((f"\x1b[{drawn}A\r\x1b[J" if drawn else "") + "\n".join(lines) + "\n")
            drawn = len(lines)
        else:
            out.write(line(snap) + "\n")
        out.flush()
        if snap.ended:
            return snap
        sleep(interval)


def cmd_campaign_watch(args) -> int:
    """Follow a campaign until it ends or Ctrl-C."""
    from config import settings

    if args.interval < 0.1:
        raise WatchError("--interval must be at least 0.1 seconds")
    # Read-only: no migration (it costs a run of alembic); a database without the schema is a
    # database error, which vaani's main prints as one line.
    url = settings().sqlalchemy_url
    try:
        last = watch(url, args.campaign_id, interval=args.interval)
    except KeyboardInterrupt:
        print("\nstopped watching (the campaign goes on)", file=sys.stderr)
        return 0
    print(f"campaign {last.campaign_id} {last.status}: dialed {last.dialed}, answered {last.answered}, "
          f"failed {last.failed}, DND {last.dnd}")
    return 0


def register(sub) -> None:
    """Add ``campaign watch`` to the ``vaani`` parser's sub-commands."""
    camp = sub.add_parser("campaign", help="campaigns").add_subparsers(dest="campaign_command", required=True)
    w = camp.add_parser("watch", help="follow a campaign's counts and rate until it ends (Ctrl-C to leave)")
    w.add_argument("campaign_id")
    w.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    w.set_defaults(func=cmd_campaign_watch)

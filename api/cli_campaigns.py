"""``vaani campaign watch CAMPAIGN_ID``: follow a campaign in the terminal until it ends (or Ctrl-C).

Each refresh reads the campaign's attempts per state
(:func:`dialer.attempts.counts`) and its CDR counters
(:func:`dialer.cdr_reports.get_campaign_cdr_statistics`, the numbers
``get_campaign_cdr_statistics`` answers over HTTP) and shows:

* dialed: calls placed (finished calls that were not DND, plus those in progress)
* answered: finished answered calls plus calls being talked now
* failed: finished calls that were not answered (busy, no answer, unavailable, ...)
* DND: contacts never dialed because their number is on a DND list
* in progress: attempts dialing, ringing or answered now
* remaining: attempts still queued (contacts not dialed yet, and retries waiting)
* rate: calls placed per minute over the last ``--window`` seconds of watching,
  against the campaign's ``calls_per_minute``

On a terminal the block is redrawn in place with a bar of finished attempts;
elsewhere (a pipe, a log file) one line per refresh. The watch ends when the
campaign is completed, stopped, cancelled or failed and no call of it is in
progress (exit 0), or on Ctrl-C (exit 0: the campaign goes on). An unknown
campaign is one readable line and exit status 1.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone

#: Campaign statuses after which nothing new is dialed.
FINAL_STATUSES = ("completed", "stopped", "cancelled", "failed")
#: The rate is shown once the watch has seen at least this many seconds of the campaign.
MIN_RATE_SPAN = 1.0


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
    attempts_total: int
    attempts_finished: int

    @property
    def ended(self) -> bool:
        """Nothing more will happen: a final status and no call still on the air."""
        return self.status in FINAL_STATUSES and self.in_progress == 0


def snapshot(db_url: str, campaign_id: str) -> Snapshot:
    """Read one campaign's counts through the dialer's own counters (attempts per state, CDR statistics)."""
    from dialer import attempts, cdr_reports
    from dialer.store import db
    from dialer.store.models import Campaign

    with db.session_scope(db_url) as s:
        camp = s.get(Campaign, campaign_id)
        if camp is None:
            raise WatchError(f"unknown campaign {campaign_id!r}")
        states = attempts.counts(s, campaign_id)
        cdrs = cdr_reports.get_campaign_cdr_statistics(s, camp.account_id, campaign_id)
        name, status, cpm = camp.name, camp.status, int(camp.calls_per_minute or 0)
    total_cdrs, answered_cdrs, dnd = cdrs["total_calls"][0], cdrs["answer_calls"][0], cdrs["dnd_calls"][0]
    in_progress = sum(states.get(k, 0) for k in attempts.LIVE_STATES)
    queued = states.get("queued", 0)
    total_attempts = sum(states.values())
    return Snapshot(
        campaign_id=campaign_id, name=name, status=status, calls_per_minute=cpm,
        dialed=total_cdrs - dnd + in_progress,
        answered=answered_cdrs + states.get("answered", 0),
        failed=total_cdrs - answered_cdrs - dnd,
        dnd=dnd, in_progress=in_progress, remaining=queued,
        attempts_total=total_attempts, attempts_finished=total_attempts - queued - in_progress)


class RateMeter:
    """Calls placed per minute over a sliding window of the watch's own samples of ``dialed``."""

    def __init__(self, window: float = 60.0):
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, at: float, dialed: int) -> float | None:
        """Record a sample; returns the rate per minute (None until ``MIN_RATE_SPAN`` seconds were seen)."""
        self._samples.append((at, dialed))
        while len(self._samples) > 2 and at - self._samples[1][0] >= self.window:
            self._samples.popleft()
        t0, d0 = self._samples[0]
        span = at - t0
        if span < MIN_RATE_SPAN:
            return None
        return max(0, dialed - d0) * 60.0 / span


def _rate_text(rate: float | None, cap: int) -> str:
    shown = "-" if rate is None else f"{rate:.1f}"
    return f"rate={shown}/min cap={cap}/min"


def line(snap: Snapshot, rate: float | None, now: datetime | None = None) -> str:
    """One refresh as a single line (for pipes and log files): ``key=value`` counts, easy to read and grep."""
    now = now or datetime.now(timezone.utc)
    return (f"{now:%H:%M:%S} {snap.campaign_id} {snap.status} dialed={snap.dialed} answered={snap.answered} "
            f"failed={snap.failed} dnd={snap.dnd} in_progress={snap.in_progress} remaining={snap.remaining} "
            f"{_rate_text(rate, snap.calls_per_minute)}")


def block(snap: Snapshot, rate: float | None, now: datetime | None = None) -> list[str]:
    """One refresh as the lines drawn on a terminal: header, bar of finished attempts, counts, rate."""
    from api.cli_progress import bar

    now = now or datetime.now(timezone.utc)
    frac = snap.attempts_finished / snap.attempts_total if snap.attempts_total else 0.0
    rate_shown = "-" if rate is None else f"{rate:.1f}"
    loaded = (f"{snap.attempts_finished}/{snap.attempts_total} attempts finished" if snap.attempts_total
              else "contacts not loaded yet")
    return [
        f"campaign {snap.campaign_id} ({snap.name})  {snap.status}  {now:%H:%M:%S} UTC",
        f"{bar(frac)} {frac * 100:3.0f}%  {loaded}",
        f"dialed {snap.dialed}  answered {snap.answered}  failed {snap.failed}  DND {snap.dnd}  "
        f"in progress {snap.in_progress}  remaining {snap.remaining}",
        f"rate {rate_shown}/min of {snap.calls_per_minute}/min (calls_per_minute)",
    ]


def watch(db_url: str, campaign_id: str, *, interval: float = 1.0, window: float = 60.0, out=None,
          tty: bool | None = None, sleep=time.sleep, clock=time.monotonic) -> Snapshot:
    """Refresh until the campaign ends; returns its last snapshot. Ctrl-C propagates as KeyboardInterrupt."""
    out = out or sys.stdout
    if tty is None:
        tty = bool(getattr(out, "isatty", lambda: False)())
    meter = RateMeter(window)
    drawn = 0
    while True:
        snap = snapshot(db_url, campaign_id)
        rate = meter.add(clock(), snap.dialed)
        if tty:
            lines = block(snap, rate)
            # Back to the first line of the previous block, clear it and what follows, draw anew.
            out.write((f"\x1b[{drawn}A\r\x1b[J" if drawn else "") + "\n".join(lines) + "\n")
            drawn = len(lines)
        else:
            out.write(line(snap, rate) + "\n")
        out.flush()
        if snap.ended:
            return snap
        sleep(interval)


def cmd_campaign_watch(args) -> int:
    """Follow a campaign until it ends or Ctrl-C."""
    from config import settings
    from dialer.store import db

    if args.interval < 0.1:
        raise WatchError("--interval must be at least 0.1 seconds")
    if args.window < 1:
        raise WatchError("--window must be at least 1 second")
    url = settings().sqlalchemy_url
    db.init_db(url)
    try:
        last = watch(url, args.campaign_id, interval=args.interval, window=args.window)
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
    w.add_argument("--window", type=float, default=60.0,
                   help="seconds of watching the achieved rate is measured over (default 60)")
    w.set_defaults(func=cmd_campaign_watch)

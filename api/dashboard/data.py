"""What the dashboard shows, read from the store (and Redis for agents): one account's rows only.

Everything here takes the signed-in ``account_id`` and filters on it; a campaign of another account is
:class:`NotFound`, exactly like one that does not exist. Counting is the dialer's: CDR counters are
:func:`dialer.cdr_reports.get_campaign_cdr_statistics`, attempt states :func:`dialer.attempts.counts`,
agent campaigns' live view :func:`dialer.agents.campaign_statistics`. The results are plain JSON-able
dicts, so a page is rendered from the same data its event stream later sends.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterator

import sqlalchemy as sa

from api import store
from dialer import attempts as _attempts
from dialer import cdr_reports
from dialer.numbers import seed_style
from dialer.store.models import Attempt, Campaign, Cdr, utcnow

#: Attempts on the air: being dialled, ringing or answered.
LIVE_STATES = _attempts.LIVE_STATES
#: Campaigns listed on the front page (newest first).
MAX_CAMPAIGNS = 200
#: Live calls listed at once.
MAX_LIVE_CALLS = 200
#: CDRs on one page of the search.
CDR_PAGE = 100
#: The rate chart: this many minutes back, one point every RATE_STEP seconds.
RATE_MINUTES = 5
RATE_STEP = 5
#: Dial statuses in the order the outcome table shows them (the seed's CDR statistics counters).
OUTCOMES = (("ANSWER", "answer_calls"), ("NOANSWER", "noanswer_calls"), ("BUSY", "busy_calls"),
            ("CANCEL", "cancel_calls"), ("CHANUNAVAIL", "chanunavail_calls"),
            ("CONGESTION", "congestion_calls"), ("DND", "dnd_calls"))
DIAL_STATUSES = tuple(name for name, _ in OUTCOMES)


class NotFound(LookupError):
    """No such campaign or call in this account (another account's answers the same)."""


def own_campaign(s, account_id: str, campaign_id: str) -> Campaign:
    """The account's campaign, or NotFound."""
    row = s.get(Campaign, campaign_id) if campaign_id and len(campaign_id) <= 64 else None
    if row is None or row.account_id != account_id:
        raise NotFound(f"no campaign {campaign_id!r}")
    return row


def _progress(cdr_counts: dict[str, int], attempt_counts: dict[str, int]) -> dict[str, Any]:
    """One campaign's bar: finished calls by outcome (CDRs), calls on the air and attempts still queued."""
    total = sum(cdr_counts.values())
    answered, dnd = cdr_counts.get("ANSWER", 0), cdr_counts.get("DND", 0)
    failed = total - answered - dnd
    live = sum(attempt_counts.get(state, 0) for state in LIVE_STATES)
    remaining = attempt_counts.get("queued", 0)
    bar = answered + failed + dnd + live + remaining
    dialed = total - dnd + live
    return {
        "dialed": dialed, "answered": answered, "failed": failed, "dnd": dnd, "live": live,
        "remaining": remaining, "total": bar,
        "percent": {k: (round(100.0 * v / bar, 2) if bar else 0.0)
                    for k, v in (("answered", answered), ("failed", failed), ("dnd", dnd), ("live", live),
                                 ("remaining", remaining))},
        "done_percent": round(100.0 * (answered + failed + dnd) / bar, 1) if bar else 0.0,
        "answer_rate": round(answered / (total - dnd), 4) if total - dnd > 0 else None,
    }


def progress(s, account_id: str, campaign_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Progress of several campaigns of the account in two grouped queries (CDRs by status, attempts by state)."""
    if not campaign_ids:
        return {}
    cdrs: dict[str, dict[str, int]] = {c: {} for c in campaign_ids}
    for cid, status, n in s.execute(
            sa.select(Cdr.campaign_id, Cdr.dial_status, sa.func.count())
            .where(Cdr.account_id == account_id, Cdr.campaign_id.in_(campaign_ids))
            .group_by(Cdr.campaign_id, Cdr.dial_status)):
        cdrs[cid][status or ""] = n
    states: dict[str, dict[str, int]] = {c: {} for c in campaign_ids}
    for cid, state, n in s.execute(
            sa.select(Attempt.campaign_id, Attempt.state, sa.func.count())
            .where(Attempt.account_id == account_id, Attempt.campaign_id.in_(campaign_ids))
            .group_by(Attempt.campaign_id, Attempt.state)):
        states[cid][state] = n
    return {cid: _progress(cdrs[cid], states[cid]) for cid in campaign_ids}


def _campaign_json(c: Campaign) -> dict[str, Any]:
    return {"campaign_id": c.id, "name": c.name, "status": c.status, "calls_per_minute": c.calls_per_minute,
            "dial_mode": c.dial_mode, "campaign_type": c.campaign_type, "total_contacts": c.total_contacts,
            "start_at": _iso(c.start_at), "end_at": _iso(c.end_at), "time_zone": c.time_zone}


def _iso(value: dt.datetime | None) -> str | None:
    return value.replace(tzinfo=dt.timezone.utc).isoformat(timespec="seconds") if value else None


def campaigns(account_id: str) -> list[dict[str, Any]]:
    """The account's campaigns, newest first, each with its progress."""
    with store.session() as s:
        rows = s.scalars(sa.select(Campaign).where(Campaign.account_id == account_id)
                         .order_by(Campaign.created_at.desc(), Campaign.id).limit(MAX_CAMPAIGNS)).all()
        bars = progress(s, account_id, [c.id for c in rows])
        return [{**_campaign_json(c), "progress": bars[c.id]} for c in rows]


def rate_series(s, campaign_id: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """Calls dialled in the trailing minute, every RATE_STEP seconds over the last RATE_MINUTES minutes.

    A call counts when a dialer worker claimed its attempt to originate it (``claimed_at``; retries are
    attempts of their own), which is what the campaign's calls_per_minute caps.
    """
    now = now or utcnow()
    since = now - dt.timedelta(minutes=RATE_MINUTES, seconds=60)
    times = sorted(t for (t,) in s.execute(
        sa.select(Attempt.claimed_at).where(Attempt.campaign_id == campaign_id, Attempt.claimed_at > since)))
    points = RATE_MINUTES * 60 // RATE_STEP
    epoch = now.replace(tzinfo=dt.timezone.utc).timestamp()
    xs, ys = [], []
    lo = hi = 0
    for i in range(points, -1, -1):
        end = now - dt.timedelta(seconds=i * RATE_STEP)
        start = end - dt.timedelta(seconds=60)
        while hi < len(times) and times[hi] <= end:
            hi += 1
        while lo < hi and times[lo] <= start:
            lo += 1
        xs.append(round(epoch - i * RATE_STEP))
        ys.append(hi - lo)
    return {"t": xs, "achieved": ys, "now": ys[-1] if ys else 0, "minutes": RATE_MINUTES}


def outcomes(s, account_id: str, campaign_id: str) -> list[dict[str, Any]]:
    """Finished calls by dial status (the seed's campaign CDR statistics), as rows of the outcome table."""
    counts = cdr_reports.get_campaign_cdr_statistics(s, account_id, campaign_id)
    total = counts["total_calls"][0]
    rows = [{"status": name, "count": counts[key][0]} for name, key in OUTCOMES]
    other = total - sum(r["count"] for r in rows)
    if other:
        rows.append({"status": "OTHER", "count": other})
    for r in rows:
        r["percent"] = round(100.0 * r["count"] / total, 1) if total else 0.0
    return rows


def _agent_view(account_id: str, campaign_id: str) -> dict[str, Any] | None:
    from dialer import agents

    try:
        return agents.campaign_statistics(account_id, campaign_id, cfg=store.cfg())
    except agents.AgentError as exc:
        return {"error": str(exc)}


def campaign_live(account_id: str, campaign_id: str) -> dict[str, Any]:
    """One campaign's live view: progress, achieved rate vs its cap, outcomes, live calls, and agents if any."""
    with store.session() as s:
        camp = own_campaign(s, account_id, campaign_id)
        out = {**_campaign_json(camp), "progress": progress(s, account_id, [camp.id])[camp.id],
               "rate": rate_series(s, camp.id), "outcomes": outcomes(s, account_id, camp.id),
               "calls": live_calls_in(s, account_id, campaign_id=camp.id)}
        dial_mode = camp.dial_mode
    out["agents"] = _agent_view(account_id, campaign_id) if dial_mode else None
    return out


def live_calls_in(s, account_id: str, campaign_id: str | None = None) -> list[dict[str, Any]]:
    """The account's calls on the air (optionally one campaign's), newest first, with what controls them."""
    q = (sa.select(Attempt, Campaign.name).outerjoin(Campaign, Campaign.id == Attempt.campaign_id)
         .where(Attempt.account_id == account_id, Attempt.state.in_(LIVE_STATES)))
    if campaign_id:
        q = q.where(Attempt.campaign_id == campaign_id)
    rows = []
    for a, name in s.execute(q.order_by(Attempt.claimed_at.desc(), Attempt.id).limit(MAX_LIVE_CALLS)):
        # Since it was dialled, on our clock (the switch's answer time may be on another one). The start,
        # not the elapsed time: the page counts the seconds itself, so the rows change (and are sent
        # again) only when a call comes, goes or changes state.
        since = a.claimed_at or a.created_at
        rows.append({"channel": a.origination_uuid, "number": seed_style(a.number or ""), "state": a.state,
                     "call_type": a.call_type, "campaign_id": a.campaign_id, "campaign_name": name,
                     "attempt_no": a.attempt_no,
                     "since": int(since.replace(tzinfo=dt.timezone.utc).timestamp()) if since else None})
    return rows


def live_calls(account_id: str) -> list[dict[str, Any]]:
    """The account's calls on the air."""
    with store.session() as s:
        return live_calls_in(s, account_id)


def live_counts(account_id: str) -> dict[str, int]:
    """The account's live calls by kind, as seed 002's get_live_call_statistics counts them (dialer.live)."""
    from api.cpaas_records import live_statistics

    return live_statistics(account_id)


def account_call(account_id: str, channel: str) -> tuple[str | None, str, bool]:
    """(node, call_type, still live) of the account's call on ``channel``, as modify_call finds it; else NotFound."""
    with store.session() as s:
        a = s.scalars(sa.select(Attempt).where(Attempt.origination_uuid == channel[:64],
                                               Attempt.account_id == account_id)).first()
        if a is None:
            raise NotFound(f"channel {channel!r}: no call of this account")
        return a.fs_node, a.call_type, a.state in LIVE_STATES


# ------------------------------------------------------------------ CDR search


@dataclass(frozen=True)
class CdrFilter:
    """A CDR search: call dates (inclusive, UTC), a campaign, a number (digits contained), a dial status."""

    start: dt.date | None = None
    end: dt.date | None = None
    campaign_id: str = ""
    number: str = ""
    dial_status: str = ""

    def query_args(self) -> dict[str, str]:
        """The filter as URL query arguments (for the CSV link and paging)."""
        out = {"start": self.start.isoformat() if self.start else "", "end": self.end.isoformat() if self.end else "",
               "campaign_id": self.campaign_id, "number": self.number, "dial_status": self.dial_status}
        return {k: v for k, v in out.items() if v}


def parse_filter(args) -> tuple[CdrFilter, list[str]]:
    """A CdrFilter from query arguments, and readable errors for those that make no sense."""
    errors, dates = [], {}
    for name in ("start", "end"):
        raw = (args.get(name) or "").strip()
        dates[name] = None
        if raw:
            try:
                dates[name] = dt.date.fromisoformat(raw)
            except ValueError:
                errors.append(f"{name}: {raw[:40]!r} is not a date as YYYY-MM-DD")
    if dates["start"] and dates["end"] and dates["end"] < dates["start"]:
        errors.append("end: the end date is before the start date")
    status = (args.get("dial_status") or "").strip().upper()
    if status and status not in DIAL_STATUSES:
        errors.append(f"dial_status: {status[:20]!r} is not one of {', '.join(DIAL_STATUSES)}")
        status = ""
    number = "".join(ch for ch in (args.get("number") or "") if ch.isdigit())[:20]
    return CdrFilter(start=dates["start"], end=dates["end"], campaign_id=(args.get("campaign_id") or "").strip()[:64],
                     number=number, dial_status=status), errors


def _cdr_select(account_id: str, f: CdrFilter):
    q = sa.select(Cdr).where(Cdr.account_id == account_id)
    if f.start:
        q = q.where(Cdr.call_date >= dt.datetime.combine(f.start, dt.time()))
    if f.end:
        q = q.where(Cdr.call_date < dt.datetime.combine(f.end + dt.timedelta(days=1), dt.time()))
    if f.campaign_id:
        q = q.where(Cdr.campaign_id == f.campaign_id)
    if f.number:
        like = f"%{f.number}%"
        q = q.where(sa.or_(Cdr.customer_number.like(like), Cdr.dialed_number.like(like)))
    if f.dial_status:
        q = q.where(Cdr.dial_status == f.dial_status)
    return q


def search_cdrs(account_id: str, f: CdrFilter, page: int = 1) -> tuple[list[dict[str, Any]], int]:
    """One page of the account's CDRs matching ``f`` (newest first) in seed 002's shape, and the match count."""
    from api.cpaas_records import cdr_json

    q = _cdr_select(account_id, f)
    with store.session() as s:
        count = s.scalar(sa.select(sa.func.count()).select_from(q.subquery()))
        rows = s.scalars(q.order_by(Cdr.id.desc()).offset((max(1, page) - 1) * CDR_PAGE).limit(CDR_PAGE)).all()
        return [cdr_json(r) for r in rows], int(count or 0)


#: The CSV export's columns: seed 002's CDR fields, then the agent-campaign fields.
CSV_FIELDS = ("id", "call_date", "answer", "end", "call_direction", "caller_id", "customer_number", "dialed_number",
              "agent_number", "dial_status", "call_status", "billsec", "call_duration", "dtmf_inputs", "request_id",
              "is_dnd", "list_id", "destination_context", "uniqueid", "recording_name", "recording_url", "agent_id",
              "queue_wait_ms", "talk_seconds", "wrap_up_seconds", "abandoned", "amd_result", "disposition")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    # A spreadsheet would run a cell starting with these as a formula (CSV injection): quote it as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def cdr_csv(account_id: str, f: CdrFilter) -> Iterator[str]:
    """The CSV of every CDR matching ``f`` (oldest first), streamed a few hundred rows at a time."""
    import csv
    import io

    from api.cpaas_records import cdr_json

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_FIELDS)
    yield buf.getvalue()
    last_id = 0
    while True:
        with store.session() as s:
            rows = s.scalars(_cdr_select(account_id, f).where(Cdr.id > last_id).order_by(Cdr.id).limit(500)).all()
            chunk = [cdr_json(r) for r in rows]
        if not chunk:
            return
        last_id = chunk[-1]["id"]
        buf.seek(0)
        buf.truncate()
        for row in chunk:
            writer.writerow([_cell(row.get(k)) for k in CSV_FIELDS])
        yield buf.getvalue()

"""Campaigns: their lifecycle, when they may dial, and what each call carries to the IVR runtime.

Lifecycle (``Campaign.status``)::

    scheduled ──start date reached──► running ──► completed (every attempt final, or end date passed)
        │                               │  ▲
        └──────────── stop ─────────────┤  └─ resume ── paused ◄── pause
                                        └──► stopped

``campaign_start_date`` / ``campaign_end_date`` are stored in UTC (the API
converts from the campaign's ``time_zone``); outside them nothing is dialed.
Daily calling hours (``calling_hours_start``/``_end``, ``HH:MM``) apply in the
campaign's time zone, or in each contact's own zone (from its number's
region, :func:`dialer.numbers.time_zone_for`) when ``use_contact_time_zone``
is set: telemarketing rules are the called person's local-time rules. A
contact outside its hours is not dialed; its attempt waits for the next
opening.

The pause/stop switch lives in Redis (:class:`Control`) as well as in SQL, so
that every worker sees it before each originate (see ``dialer.engine``).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis as _redis

from dialer import numbers as _numbers
from dialer.store.models import Campaign, Contact
from ivr.call_spec import AgentCall, Announcement, CallSpec

STATUSES = ("scheduled", "running", "paused", "stopped", "completed")
DIALABLE = ("running",)


class CampaignError(ValueError):
    """A campaign operation that is not allowed (unknown id, bad transition, bad setting)."""


def zone(name: str | None) -> ZoneInfo:
    """An IANA time zone (UTC when empty); CampaignError when unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise CampaignError(f"unknown time zone {name!r}") from None


def _hhmm(value: str) -> dtime:
    try:
        h, m = value.split(":")
        return dtime(int(h), int(m))
    except (ValueError, AttributeError):
        raise CampaignError(f"calling hours must be HH:MM, got {value!r}") from None


def in_date_window(campaign: Campaign, now: datetime) -> bool:
    """Whether ``now`` (naive UTC) is within the campaign's start and end dates."""
    if campaign.start_at is not None and now < campaign.start_at:
        return False
    if campaign.end_at is not None and now >= campaign.end_at:
        return False
    return True


def contact_zone(campaign: Campaign, number: str, contact: Contact | None = None) -> ZoneInfo:
    """The time zone calling hours apply in for one number of this campaign."""
    if campaign.use_contact_time_zone:
        if contact is not None and contact.time_zone:
            return zone(contact.time_zone)
        return zone(_numbers.time_zone_for(number, campaign.time_zone or "UTC"))
    return zone(campaign.time_zone)


def next_opening(campaign: Campaign, number: str, now: datetime, contact: Contact | None = None) -> datetime | None:
    """None when the number may be called at ``now`` (naive UTC); else the next UTC instant it may be."""
    if not campaign.calling_hours_start or not campaign.calling_hours_end:
        return None
    start, end = _hhmm(campaign.calling_hours_start), _hhmm(campaign.calling_hours_end)
    tz = contact_zone(campaign, number, contact)
    local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz)
    t = local.time()
    if start <= end:
        open_now = start <= t < end
    else:  # hours across midnight, e.g. 20:00-02:00
        open_now = t >= start or t < end
    if open_now:
        return None
    day = local.date() if t < start else local.date() + timedelta(days=1)
    opening = datetime.combine(day, start, tzinfo=tz)
    return opening.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def contact_fields(contact: Contact | None) -> dict[str, str]:
    """A contact's fields as its calls see them (templates, screen pops): strings, with ``name`` from the contact."""
    if contact is None:
        return {}
    fields = {str(k): "" if v is None else str(v) for k, v in (contact.fields or {}).items()}
    if contact.name:
        fields.setdefault("name", contact.name)
    return fields


def call_spec(campaign: Campaign, contact: Contact | None, number: str, attempt_id: str) -> CallSpec:
    """The CallSpec of one campaign call: an announcement (type 0) or the campaign's IVR app (type 1)."""
    spec = CallSpec(call_type="campaign", request_id=None, attempt_id=attempt_id, account_id=campaign.account_id,
                    campaign_id=campaign.id, contact_id=str(contact.id) if contact is not None else None,
                    caller_id=campaign.caller_id, called_number=number, fields=contact_fields(contact))
    if int(campaign.campaign_type or 0) == 1:
        if not campaign.doc_url:
            raise CampaignError(f"campaign {campaign.id} is type 1 (IVR) but has no doc_url")
        spec.app_url = campaign.doc_url
        spec.fallback_url = campaign.fallback_url
        spec.dialect = campaign.dialect or "kookoo"
    else:
        spec.announcement = _announcement(campaign)
    if getattr(campaign, "dial_mode", None):
        # An agent campaign's call runs the runtime's agent app; its announcement, if any, is the message
        # left on an answering machine (machine_action "message").
        message, spec.announcement = spec.announcement, None
        spec.app_url = spec.fallback_url = None
        if not (message and (message.media_url or message.text)):
            message = None
        spec.agent = AgentCall(
            campaign_id=campaign.id, mode=campaign.dial_mode, amd=bool(campaign.amd),
            machine_action=campaign.machine_action or "hangup", message=message,
            safe_harbour_text=campaign.safe_harbour_text or None, safe_harbour_url=campaign.safe_harbour_url or None,
            wrap_up_seconds=int(campaign.wrap_up_seconds if campaign.wrap_up_seconds is not None else 10),
            agent_url=campaign.agent_url or None)
    return spec


def _announcement(campaign: Campaign) -> Announcement:
    """Campaign type 0's announcement: its recorded file, or its (dynamic) text with ``{field}`` placeholders."""
    dynamic = bool(campaign.dynamic_announcement) or not campaign.recorded_filename
    return Announcement(
        media_url=None if dynamic else campaign.recorded_filename,
        text=(campaign.announcement_text or "") if dynamic else None,
        repeat=max(1, int(campaign.repeat or 1)), voice=campaign.voice, language=campaign.language_code)


def alternates(contact: Contact | None, number: str) -> list[str]:
    """A contact's numbers in the order they are tried: the main number, then its alternates."""
    if contact is None:
        return [number]
    out = [contact.number] + [n for n in (contact.alt_numbers or []) if n and n != contact.number]
    return out


# ---------------------------------------------------------------------------
# The Redis switch every worker checks before each originate
# ---------------------------------------------------------------------------

# KEYS[1]: control hash. KEYS[2]: in-flight launch set. KEYS[3..]: the calls' "sent" markers.
# ARGV: campaign id ('' for single requests), ttl seconds, then the tokens (one per marker).
# Returns 1 only while the campaign is running: then every call is registered as a launch in flight and
# marked sent; otherwise none is.
_GATE_MANY = """
if ARGV[1] ~= '' then
  local state = redis.call('HGET', KEYS[1], ARGV[1])
  if state and state ~= 'running' then return 0 end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  for i = 3, #ARGV do redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[i]) end
end
for i = 3, #KEYS do redis.call('SET', KEYS[i], '1', 'EX', 86400) end
return 1
"""


class Control:
    """The running/paused/stopped switch of every campaign, in Redis, and the launches in flight.

    A worker calls :meth:`gate` right before sending an originate and
    :meth:`done` right after; :meth:`set_state` changes the switch and waits
    until launches that passed the gate before the change have been sent, so
    that when pause or stop returns, nothing new is dialed.
    """

    LAUNCH_TTL = 3.0

    def __init__(self, client: _redis.Redis, prefix: str):
        self.r = client
        self.key = f"{prefix}:campaign_control"
        self.prefix = prefix
        self._gate_many = client.register_script(_GATE_MANY)

    def _inflight(self, campaign_id: str) -> str:
        return f"{self.prefix}:launching:{campaign_id}"

    def gate(self, campaign_id: str | None, token: str) -> bool:
        """True when this launch (``token`` = the call uuid) may go ahead; registers it as in flight.

        A call that passes is marked *sent* (:meth:`was_sent`) before its originate is written, so that
        after a crash its attempt is reconciled, never re-queued: nothing is dialed twice.
        """
        return self.gate_many(campaign_id, [token])

    def gate_many(self, campaign_id: str | None, tokens: list[str]) -> bool:
        """:meth:`gate` for calls sent together: all pass (registered, marked sent) or none does."""
        if not tokens:
            return True
        keys = [self.key, self._inflight(campaign_id or "-")] + [self._sent(t) for t in tokens]
        return bool(int(self._gate_many(keys=keys, args=[campaign_id or "", self.LAUNCH_TTL, *tokens])))

    def done_many(self, campaign_id: str | None, tokens: list[str]) -> None:
        """:meth:`done` for calls sent together."""
        if campaign_id is not None and tokens:
            self.r.zrem(self._inflight(campaign_id), *tokens)

    def _sent(self, token: str) -> str:
        return f"{self.prefix}:sent:{token}"

    def was_sent(self, token: str) -> bool:
        """Whether a call passed the gate (its originate may have reached FreeSWITCH)."""
        return bool(self.r.exists(self._sent(token)))

    def done(self, campaign_id: str | None, token: str) -> None:
        """The launch was sent (or abandoned)."""
        self.done_many(campaign_id, [token])

    def state(self, campaign_id: str) -> str | None:
        """The switch's position (None when never set: the SQL status decides)."""
        v = self.r.hget(self.key, campaign_id)
        return v.decode() if isinstance(v, bytes) else v

    def set_state(self, campaign_id: str, state: str, wait: float = 2.0) -> None:
        """Move the switch; for anything but running, wait for launches already past the gate."""
        self.r.hset(self.key, campaign_id, state)
        if state == "running":
            return
        deadline = time.monotonic() + wait
        key = self._inflight(campaign_id)
        while time.monotonic() < deadline:
            now = self.r.time()
            self.r.zremrangebyscore(key, "-inf", now[0] + now[1] / 1e6)
            if self.r.zcard(key) == 0:
                return
            time.sleep(0.005)

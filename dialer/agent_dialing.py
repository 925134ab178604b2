"""Agent campaigns in the dialer: the controller's inputs, read from Redis and SQL, and its decisions.

The pure controller is :mod:`dialer.predictive`; this module feeds it for one
dialer process:

* **agents** from :class:`ivr.acd.Acd` (ready, wrapping up, on a call);
* **calls in flight** per campaign, kept in two Redis sorted sets the engine and
  the listener maintain: ``<p>:agentcalls:dialing:<campaign>`` (launched, not
  answered; scored by launch time) and ``<p>:agentcalls:answered:<campaign>``
  (answered, scored by answer time). An answered call waits for an agent for at
  most the AMD verdict plus the 2-second rule, so answered calls younger than
  :data:`WAITING_SECONDS` are the ones that may still need an agent;
* **learned statistics** (:class:`dialer.predictive.DialStats`) per campaign in
  ``<p>:dialstats:<campaign>``, updated by every finished attempt
  (:meth:`AgentDialing.observe_attempt`, optimistic WATCH/MULTI: workers on
  several machines update one record);
* **abandonment** over 24 hours and 30 days from the CDRs (``abandoned``,
  live-answered = answered and not a machine), cached for a few seconds.

One worker at a time paces a given agent campaign (a Redis lease,
``<p>:agentlane:<campaign>``): the controller's answer is "how many more calls
now", and two workers asking at once would both launch it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from datetime import timedelta

import redis as _redis
import sqlalchemy as sa

from dialer import predictive
from dialer.store import db
from dialer.store.models import Campaign, Cdr, utcnow
from ivr.acd import Acd

log = logging.getLogger(__name__)

#: An answered call older than this has been connected, abandoned or classified a machine: AMD (≤ 4 s) plus
#: the 2-second rule, with a margin.
WAITING_SECONDS = 7.0
#: How long a worker's lease on pacing an agent campaign lasts without renewal.
LEASE_SECONDS = 3.0
#: Abandonment counts are re-read from SQL at most this often.
ABANDONMENT_TTL = 2.0
#: A dialing entry older than this is a launch whose end was never seen (it no longer counts as in flight).
MAX_RING_SECONDS = 120.0


@dataclass
class LastDecision:
    """What the controller last decided for a campaign (for live statistics)."""

    at: float
    launch: int
    dial_level: float
    reason: str
    ready: int
    dialing: int
    waiting: int
    answer_rate: float
    abandonment_24h: float
    abandonment_30d: float


def is_agent_campaign(camp: Campaign | None) -> bool:
    """Whether the campaign dials for live agents (it has a dial mode)."""
    return camp is not None and bool(getattr(camp, "dial_mode", None))


class AgentDialing:
    """The dialer's view of its agent campaigns (one per dialer process)."""

    def __init__(self, client: _redis.Redis, prefix: str, db_url: str, worker_id: str):
        self.redis = client
        self.prefix = prefix
        self.db_url = db_url
        self.worker_id = worker_id
        self.acd = Acd(client, prefix)
        self._abandonment: dict[str, tuple[float, predictive.Abandonment]] = {}
        self.last: dict[str, LastDecision] = {}

    # -- keys ------------------------------------------------------------------------------------------------
    def _dialing(self, campaign_id: str) -> str:
        return f"{self.prefix}:agentcalls:dialing:{campaign_id}"

    def _answered(self, campaign_id: str) -> str:
        return f"{self.prefix}:agentcalls:answered:{campaign_id}"

    def _stats_key(self, campaign_id: str) -> str:
        return f"{self.prefix}:dialstats:{campaign_id}"

    # -- who paces -------------------------------------------------------------------------------------------
    def owns(self, campaign_id: str) -> bool:
        """Take or renew this worker's lease on pacing the campaign; False while another worker holds it."""
        key = f"{self.prefix}:agentlane:{campaign_id}"
        ms = int(LEASE_SECONDS * 1000)
        if self.redis.set(key, self.worker_id, nx=True, px=ms):
            return True
        holder = self.redis.get(key)
        if holder is not None and holder.decode() == self.worker_id:
            self.redis.pexpire(key, ms)
            return True
        return False

    # -- the decision ----------------------------------------------------------------------------------------
    def quota(self, camp: Campaign, *, accepted: int = 0, limit: int | None = None) -> int:
        """How many of the campaign's contacts to launch now (0 when another worker paces it)."""
        if not self.owns(camp.id):
            return 0
        now = self._now()
        counts = self.acd.counts(camp.id)
        # Reserved agents are being connected: their talk is about to start (elapsed 0).
        agents = predictive.Agents(ready=counts.ready, wrapping=counts.wrap_up_remaining,
                                   talking=counts.on_call + counts.reserved,
                                   talking_for=tuple(counts.on_call_elapsed) + (0.0,) * counts.reserved)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zremrangebyscore(self._dialing(camp.id), "-inf", now - MAX_RING_SECONDS)
        pipe.zrangebyscore(self._dialing(camp.id), "-inf", "+inf", withscores=True)
        pipe.zremrangebyscore(self._answered(camp.id), "-inf", now - WAITING_SECONDS)
        pipe.zrange(self._answered(camp.id), 0, -1)
        _, dialing, _, answered = pipe.execute()
        ages = [max(0.0, now - score) for _, score in dialing]
        # An answered call is waiting for an agent until the runtime has one for it (reserved, then on the call).
        waiting = 0
        if answered:
            pipe = self.redis.pipeline(transaction=False)
            for u in answered:
                pipe.exists(f"{self.prefix}:acd:call:{u.decode() if isinstance(u, bytes) else u}")
            waiting = sum(1 for held in pipe.execute() if not held)
        calls = predictive.Calls(dialing=len(ages), waiting=waiting, ages=ages)
        stats = self.stats(camp.id)
        aband = self.abandonment(camp)
        target = float(camp.abandon_target if camp.abandon_target is not None else predictive.DEFAULT_TARGET)
        d = predictive.decide(camp.dial_mode, agents, calls, stats, aband, target=target, accepted=accepted,
                              limit=limit)
        self.last[camp.id] = LastDecision(
            at=now, launch=d.launch, dial_level=d.dial_level, reason=d.reason, ready=counts.ready,
            dialing=len(ages), waiting=waiting, answer_rate=stats.answer_rate,
            abandonment_24h=predictive.abandonment_rate(aband.abandoned_24h, aband.live_24h),
            abandonment_30d=predictive.abandonment_rate(aband.abandoned_30d, aband.live_30d))
        self._publish(camp.id, self.last[camp.id])
        return d.launch

    def _publish(self, campaign_id: str, last: LastDecision) -> None:
        # The API (another process) shows the latest decision in the campaign's live statistics.
        try:
            self.redis.set(f"{self.prefix}:agentlane:last:{campaign_id}", json.dumps(asdict(last)), ex=60)
        except _redis.RedisError:
            log.debug("could not publish the dial decision of %s", campaign_id, exc_info=True)

    def _now(self) -> float:
        sec, usec = self.redis.time()
        return sec + usec / 1e6

    # -- calls in flight -------------------------------------------------------------------------------------
    def launched(self, campaign_id: str, uuids: list[str]) -> None:
        """Calls of the campaign were sent: they count as in flight from now."""
        if uuids:
            now = self._now()
            self.redis.zadd(self._dialing(campaign_id), {u: now for u in uuids})

    def queue_answered(self, pipe, campaign_id: str, call_uuid: str, at: float) -> None:
        """A call was answered (queued on the listener's pipeline): from dialing to possibly waiting."""
        pipe.zrem(self._dialing(campaign_id), call_uuid)
        pipe.zadd(self._answered(campaign_id), {call_uuid: at})

    def queue_ended(self, pipe, campaign_id: str, call_uuid: str) -> None:
        """A call ended: no longer in flight."""
        pipe.zrem(self._dialing(campaign_id), call_uuid)
        pipe.zrem(self._answered(campaign_id), call_uuid)

    def call_answered(self, camp: Campaign | None, a, pipe) -> None:
        """The listener saw an agent campaign's call answered (queued on its pipeline); other calls: nothing.

        Scored by Redis's clock now, not by the answer time in the event: that is the switch's clock (the
        simulator's runs ahead at its speed factor), and the waiting window is measured on Redis's.
        """
        if is_agent_campaign(camp) and a.origination_uuid:
            self.queue_answered(pipe, camp.id, a.origination_uuid, self._now())

    def call_ended(self, camp: Campaign | None, a, answered: bool, pipe) -> None:
        """An agent campaign's call ended: out of flight, its agent (if any) to wrap-up, an unanswered try learned.

        Answered calls are learned from the IVR runtime's facts (:mod:`dialer.records`), which know whether a
        person or a machine answered and how long the agent talked.
        """
        if not is_agent_campaign(camp) or not a.origination_uuid:
            return
        self.queue_ended(pipe, camp.id, a.origination_uuid)
        self.release_agent(a.origination_uuid, camp.wrap_up_seconds or 0)
        if not answered:
            ring = (a.ended_at - a.claimed_at).total_seconds() if a.ended_at and a.claimed_at else 0.0
            self.observe_attempt(camp.id, False, max(0.0, ring))

    def release_agent(self, call_uuid: str, wrap_up_seconds: float) -> str | None:
        """The safety net on every hangup: an agent still holding this call goes to wrap-up (idempotent)."""
        try:
            return self.acd.release_call(call_uuid, wrap_up_seconds)
        except Exception:  # noqa: BLE001 - bookkeeping must not stop the listener
            log.warning("could not release the agent of call %s", call_uuid, exc_info=True)
            return None

    # -- learning --------------------------------------------------------------------------------------------
    def stats(self, campaign_id: str) -> predictive.DialStats:
        """The campaign's learned statistics (defaults before its first finished attempt)."""
        raw = self.redis.get(self._stats_key(campaign_id))
        if not raw:
            return predictive.DialStats()
        try:
            return predictive.DialStats(**json.loads(raw))
        except (TypeError, ValueError):
            return predictive.DialStats()

    def _update(self, campaign_id: str, change) -> None:
        key = self._stats_key(campaign_id)
        for _ in range(20):
            with self.redis.pipeline() as pipe:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    old = predictive.DialStats(**json.loads(raw)) if raw else predictive.DialStats()
                    pipe.multi()
                    pipe.set(key, json.dumps(asdict(change(old))), ex=40 * 86400)
                    pipe.execute()
                    return
                except _redis.WatchError:
                    continue
                except (TypeError, ValueError):
                    self.redis.delete(key)
        log.warning("could not update the statistics of campaign %s (contended)", campaign_id)

    def observe_attempt(self, campaign_id: str, live: bool, in_flight_seconds: float) -> None:
        """A finished attempt: ``live`` if a person (not a machine) answered; seconds from launch to answer/end."""
        self._update(campaign_id, lambda s: predictive.observe_attempt(s, live, in_flight_seconds))

    def observe_handle(self, campaign_id: str, talk_seconds: float, wrap_seconds: float) -> None:
        """A call connected to an agent ended: its talk and wrap-up times."""
        # Connected calls are about the live answers (a few abandoned ones aside): their count weighs the mean.
        self._update(campaign_id, lambda s: predictive.observe_handle(s, talk_seconds, wrap_seconds, s.live))

    # -- abandonment -----------------------------------------------------------------------------------------
    def abandonment(self, camp: Campaign) -> predictive.Abandonment:
        """Abandoned and live-answered calls of the campaign over the last 24 hours and 30 days."""
        hit = self._abandonment.get(camp.id)
        if hit is not None and time.monotonic() - hit[0] < ABANDONMENT_TTL:
            return hit[1]
        value = read_abandonment(self.db_url, camp.id)
        self._abandonment[camp.id] = (time.monotonic(), value)
        return value

    def recently_abandoned(self, camp: Campaign, numbers: set[str]) -> set[str]:
        """Those of ``numbers`` whose call of this campaign was abandoned within the last 72 hours."""
        if not numbers:
            return set()
        since = utcnow() - timedelta(seconds=predictive.REDIAL_BLOCK_SECONDS)
        with db.session_scope(self.db_url) as s:
            rows = s.execute(sa.select(Cdr.customer_number).where(
                Cdr.customer_number.in_(numbers), Cdr.campaign_id == camp.id, Cdr.abandoned.is_(True),
                Cdr.call_date >= since)).scalars()
            return set(rows)


def read_abandonment(db_url: str, campaign_id: str) -> predictive.Abandonment:
    """Abandonment counts of a campaign from its CDRs: live-answered = answered and not a machine."""
    now = utcnow()
    day, month = now - timedelta(seconds=predictive.OFCOM_WINDOW_SECONDS), \
        now - timedelta(seconds=predictive.FTC_WINDOW_SECONDS)
    live = sa.and_(Cdr.answer.is_not(None), Cdr.amd_result != "machine")
    with db.session_scope(db_url) as s:
        row = s.execute(sa.select(
            sa.func.count().filter(sa.and_(live, Cdr.abandoned.is_(True), Cdr.call_date >= day)),
            sa.func.count().filter(sa.and_(live, Cdr.call_date >= day)),
            sa.func.count().filter(sa.and_(live, Cdr.abandoned.is_(True))),
            sa.func.count().filter(live),
        ).where(Cdr.campaign_id == campaign_id, Cdr.call_date >= month)).one()
    return predictive.Abandonment(abandoned_24h=int(row[0]), live_24h=int(row[1]),
                                  abandoned_30d=int(row[2]), live_30d=int(row[3]))

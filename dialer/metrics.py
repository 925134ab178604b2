"""Prometheus metrics of a dialer worker: calls, pacing, claims, events, callbacks, queues, FreeSWITCH nodes.

Two kinds (docs/metrics.md lists every metric):

* **counted where it happens**, by the helpers below, one short call per
  event at the place it is decided — an originate written (``engine``), a
  call answered or ended unanswered (the listener's side effects, which run
  once per call, in the one process whose transition changed its row, so the
  sum over workers matches the CDRs), a claim, a callback try;
* **read when scraped**, by :class:`EngineCollector`: what the engine already
  holds (campaign caps and achieved rates, live launches, the listener's
  backlog and applied events, connections), RQ queue depths from Redis, and
  each FreeSWITCH node's own ``status`` (sessions, sessions per second and
  its sps ceiling), polled every few seconds by :func:`poll_nodes`. None of
  this costs anything between scrapes.

Every helper returns at once when metrics are off (``prom.ON``, METRICS_ENABLED).
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections import deque

from prometheus_client import Counter, Histogram
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily

import prom

log = logging.getLogger(__name__)

ORIGINATES = Counter("vaani_dialer_originates_total",
                     "Originates (bgapi originate) a FreeSWITCH node accepted, by node.", ["node"])
ORIGINATE_ERRORS = Counter("vaani_dialer_originate_errors_total",
                           "Originates not placed: not_connected (nothing written) or no_reply (written, unanswered).",
                           ["node", "reason"])
ANSWERED = Counter("vaani_dialer_answered_total", "Outbound calls answered, by call type.", ["call_type"])
FAILED = Counter("vaani_dialer_failed_total",
                 "Outbound calls that ended unanswered (or could not be dialled), by call type, FreeSWITCH hangup "
                 "cause and dial status.", ["call_type", "cause", "status"])
DND = Counter("vaani_dialer_dnd_skipped_total", "Campaign contacts never dialled because their number is on a DND list.")
REFUSALS = Counter("vaani_dialer_switch_refusals_total",
                   "Originates the switch refused before making a channel (dialled again later), by node and cause.",
                   ["node", "cause"])
CLAIMS = Counter("vaani_dialer_claims_total", "Claim transactions of the dialing lanes, by lane kind.", ["lane"])
CLAIMED = Counter("vaani_dialer_claimed_attempts_total", "Attempts claimed by the dialing lanes, by lane kind.", ["lane"])
CLAIM_SECONDS = Histogram("vaani_dialer_claim_seconds", "Duration of one claim transaction.", ["lane"],
                          buckets=prom.NETWORK_BUCKETS)
RECONNECTS = Counter("vaani_dialer_esl_reconnects_total", "Inbound event-socket reconnections, by node.", ["node"])
EVENT_LAG = Histogram("vaani_dialer_event_lag_seconds",
                      "Channel event received on the event socket → applied (SQL committed), per event.",
                      buckets=prom.FAST_BUCKETS + (2.5, 5.0))
CALLBACK_TRIES = Counter("vaani_callback_tries_total",
                         "Status-callback tries, by outcome: delivered, retry (another try scheduled) or failed (given up).",
                         ["outcome"])
CALLBACK_RETRIES = Counter("vaani_callback_retries_total", "Status-callback tries after the first (retries made).")
CALLBACK_SECONDS = Histogram("vaani_callback_try_seconds", "Duration of one status-callback POST.",
                             buckets=prom.NETWORK_BUCKETS)

_LANE = {True: "campaign", False: "requests"}

#: Name prefixes of a dialer worker's own families (its /metrics shows these and the process's).
OWN = ("vaani_dialer_", "vaani_callback_", "vaani_freeswitch_", "vaani_rq_", "process_", "python_")

#: Calls whose answer was counted, so that their end does not count it again (a hangup that carried the
#: answer time, with the answer event merged into it, counts the answer itself). Bounded: see call_ended.
_answered: set[str] = set()
#: Per active campaign: originate instants (monotonic) of this process, for the achieved rate.
_sent: dict[str, deque] = {}
#: Per campaign: the calls-per-minute cap the lanes paced it at last (the campaign's, or less when its
#: concurrency cap cannot carry more at the learned answer rate).
_caps: dict[str, float] = {}
#: Per node name: the switch's own figures from its last ``status``.
_node_status: dict[str, dict[str, float]] = {}


# -- counted where it happens ------------------------------------------------------------------------

#: Labelled children by (metric, label values): a dict lookup instead of prometheus_client's locked
#: ``labels()`` on every call (bounded: nodes, call types, causes × statuses).
_children: dict = {}


def _child(metric, *values: str):
    key = (metric, values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*values)
    return child


def sent(node: str, campaign_id: str | None, n: int) -> None:
    """``n`` originates of one group written and accepted by ``node``."""
    if not prom.ON or n <= 0:
        return
    _child(ORIGINATES, node).inc(n)
    if campaign_id is not None:
        times = _sent.get(campaign_id)
        if times is None:
            times = _sent[campaign_id] = deque(maxlen=100_000)
        now = time.monotonic()
        times.extend([now] * n) if n > 1 else times.append(now)


def send_failed(node: str, reason: str) -> None:
    """An originate that was not placed (``not_connected``) or got no reply (``no_reply``)."""
    if prom.ON:
        _child(ORIGINATE_ERRORS, node, reason).inc()


def paced(campaign_id: str, calls_per_minute: float) -> None:
    """The cap a lane is pacing a campaign at (its batch's)."""
    if prom.ON:
        _caps[campaign_id] = calls_per_minute


def claimed(campaign: bool, n: int, seconds: float) -> None:
    """One claim transaction of a lane: ``n`` attempts in ``seconds``."""
    if not prom.ON:
        return
    lane = _LANE[campaign]
    _child(CLAIMS, lane).inc()
    if n:
        _child(CLAIMED, lane).inc(n)
    _child(CLAIM_SECONDS, lane).observe(seconds)


def call_answered(a) -> None:
    """An attempt's answer, applied by this process (its transition changed the row)."""
    if not prom.ON:
        return
    _child(ANSWERED, a.call_type or "").inc()
    if a.origination_uuid:
        _answered.add(a.origination_uuid)


def call_ended(a, answered: bool) -> None:
    """An attempt's end, applied by this process: answered (counted once) or unanswered, by cause."""
    if not prom.ON:
        return
    u = a.origination_uuid
    if answered:
        if u in _answered:
            _answered.discard(u)
        else:
            _child(ANSWERED, a.call_type or "").inc()
    else:
        _answered.discard(u)
        _child(FAILED, a.call_type or "", a.hangup_cause or "", a.dial_status or "").inc()
    if len(_answered) > 200_000:  # answers whose ends another worker applied: forget them in bulk
        _answered.clear()


def not_dialled(call_type: str, cause: str, status: str) -> None:
    """An attempt failed before any originate (an undialable number)."""
    if prom.ON:
        _child(FAILED, call_type or "", cause, status).inc()


def dnd_skipped(n: int = 1) -> None:
    """Campaign contacts settled as DND without a call."""
    if prom.ON:
        DND.inc(n)


def refused(a, cause: str) -> None:
    """The switch refused an originate before making a channel."""
    if prom.ON:
        REFUSALS.labels(a.fs_node or "", cause).inc()


def reconnected(node: str) -> None:
    """The event socket to ``node`` came back after a loss."""
    if prom.ON:
        RECONNECTS.labels(node).inc()


def events_applied(received: list[float]) -> None:
    """Events applied together: the monotonic instants each was received."""
    if not prom.ON or not received:
        return
    now = time.monotonic()
    observe = EVENT_LAG.observe
    for t in received:
        observe(now - t)


def callback_try(outcome: str, try_no: int, seconds: float) -> None:
    """One status-callback try: ``delivered``, ``retry`` or ``failed``."""
    if not prom.ON:
        return
    _child(CALLBACK_TRIES, outcome).inc()
    if try_no > 1:
        CALLBACK_RETRIES.inc()
    CALLBACK_SECONDS.observe(seconds)


# -- read when scraped ------------------------------------------------------------------------------

_engines: "weakref.WeakSet" = weakref.WeakSet()


def track(engine) -> None:
    """Expose a dialing engine's state at each scrape (held weakly: a stopped engine disappears)."""
    _engines.add(engine)


#: Seconds of originates the achieved rate is taken over.
RATE_WINDOW = 60.0


def achieved_per_minute(times: deque, now: float, window: float = RATE_WINDOW) -> float:
    """Originates a minute over the last ``window`` seconds (over less when the campaign started later)."""
    while times and times[0] < now - window:
        times.popleft()
    if not times:
        return 0.0
    span = max(5.0, min(window, now - times[0]))  # a campaign's first seconds are not a whole minute
    return len(times) * 60.0 / span


_STATUS_SESSIONS = re.compile(r"^(\d+) session\(s\) - peak (\d+)", re.M)
_STATUS_SPS = re.compile(r"^(\d+) session\(s\) per Sec out of max (\d+)", re.M)
_STATUS_MAX = re.compile(r"^(\d+) session\(s\) max", re.M)


def parse_status(text: str) -> dict[str, float]:
    """FreeSWITCH's ``status`` report → sessions, peak, sps, max_sps, max_sessions (those it names)."""
    out: dict[str, float] = {}
    m = _STATUS_SESSIONS.search(text)
    if m:
        out["sessions"], out["peak"] = float(m.group(1)), float(m.group(2))
    m = _STATUS_SPS.search(text)
    if m:
        out["sps"], out["max_sps"] = float(m.group(1)), float(m.group(2))
    m = _STATUS_MAX.search(text)
    if m:
        out["max_sessions"] = float(m.group(1))
    return out


def poll_nodes(engine, every: float = 5.0) -> None:
    """Greenlet: ask each connected node for its ``status`` every ``every`` seconds (for the node gauges)."""
    while engine.running:
        for name, client in list(engine.nodes.clients.items()):
            if not client.connected:
                _node_status.pop(name, None)
                continue
            try:
                # The engine's own command timeout, not a shorter one: a command that times out closes the
                # connection (its late reply must not answer the next command), and this reply queues behind
                # every originate written before it.
                _node_status[name] = parse_status(client.api("status"))
            except Exception as exc:  # noqa: BLE001 - a slow or lost node: its gauges go stale, calls go on
                log.debug("status of %s: %s", name, exc)
                _node_status.pop(name, None)
        import gevent

        gevent.sleep(every)


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class EngineCollector:
    """Gauges read from the tracked engines (and Redis, and the nodes' last status) at scrape time."""

    def collect(self):
        """Build the scrape-time families (called by prometheus_client per scrape)."""
        engines = [e for e in list(_engines) if e.running]
        caps = _gauge("vaani_dialer_campaign_cap_per_minute",
                      "Calls per minute a running campaign is paced at (its calls_per_minute, lower when its "
                      "concurrency cap cannot carry that).", ["campaign"])
        configured = _gauge("vaani_dialer_campaign_calls_per_minute", "A running campaign's calls_per_minute.",
                            ["campaign"])
        achieved = _gauge("vaani_dialer_campaign_achieved_per_minute",
                          "Originates a minute this worker made for a running campaign over the last 60 s.",
                          ["campaign"])
        launched = _gauge("vaani_dialer_live_launches", "Calls this worker launched that have not ended.")
        backlog = _gauge("vaani_dialer_event_backlog", "Channel events received and not applied yet.")
        applied = CounterMetricFamily("vaani_dialer_events_applied", "Channel events applied by this worker.")
        up = _gauge("vaani_freeswitch_node_up", "Whether this worker's event socket to the node is connected.",
                    ["node"])
        slots = _gauge("vaani_freeswitch_node_slots_in_use",
                       "Channels the dialers hold on the node (their shared slot set in Redis).", ["node"])
        limit_sessions = _gauge("vaani_freeswitch_node_max_sessions_configured",
                                "max_sessions of the node in FREESWITCH_NODES (the dialer never asks for more).", ["node"])
        limit_sps = _gauge("vaani_freeswitch_node_sps_configured",
                           "sessions-per-second of the node in FREESWITCH_NODES.", ["node"])
        sessions = _gauge("vaani_freeswitch_node_sessions", "Sessions on the node (its own status report).", ["node"])
        sps = _gauge("vaani_freeswitch_node_sessions_per_second",
                     "Sessions the node started in its current second (its own status report).", ["node"])
        max_sps = _gauge("vaani_freeswitch_node_sps_max", "The node's sessions-per-second ceiling (status report).",
                         ["node"])
        headroom = _gauge("vaani_freeswitch_node_sps_headroom",
                          "Sessions per second the node can still start: its ceiling minus its current rate.",
                          ["node"])
        max_sessions = _gauge("vaani_freeswitch_node_max_sessions", "The node's max-sessions (status report).",
                              ["node"])
        queue_depth = _gauge("vaani_rq_queue_depth", "Jobs waiting on an RQ queue.", ["queue"])
        scheduled = _gauge("vaani_rq_scheduled_jobs", "Jobs scheduled for later on an RQ queue (callback retries).",
                           ["queue"])
        failed = _gauge("vaani_rq_failed_jobs", "Jobs in an RQ queue's failed registry.", ["queue"])
        now = time.monotonic()
        active: set[str] = set()
        seen_nodes: set[str] = set()
        total_launched = total_backlog = total_applied = 0
        for e in engines:
            for cid, camp in list(e._campaigns.items()):
                active.add(cid)
                configured.add_metric([cid], float(camp.calls_per_minute or 10))
                if cid in _caps:
                    caps.add_metric([cid], _caps[cid])
                achieved.add_metric([cid], achieved_per_minute(_sent[cid], now) if cid in _sent else 0.0)
            total_launched += len(e.launched)
            total_backlog += sum(q.qsize() for q in e.listener._queues)
            total_applied += e.listener.applied
            for name, node in e.nodes.nodes.items():
                if name in seen_nodes:
                    continue
                seen_nodes.add(name)
                client = e.nodes.clients.get(name)
                up.add_metric([name], 1.0 if client is not None and client.connected else 0.0)
                limit_sessions.add_metric([name], float(node.max_sessions))
                limit_sps.add_metric([name], float(node.sps))
                try:
                    slots.add_metric([name], float(e.pacer.slots_in_use(e.nodes.slots_key(node))))
                except Exception:  # noqa: BLE001 - Redis away: no slot figure this scrape
                    pass
                st = _node_status.get(name)
                if st:
                    if "sessions" in st:
                        sessions.add_metric([name], st["sessions"])
                    if "max_sessions" in st:
                        max_sessions.add_metric([name], st["max_sessions"])
                    if "sps" in st:
                        sps.add_metric([name], st["sps"])
                        max_sps.add_metric([name], st["max_sps"])
                        headroom.add_metric([name], max(0.0, st["max_sps"] - st["sps"]))
        for cid in list(_sent):
            if cid not in active:
                _sent.pop(cid, None)
        for cid in list(_caps):
            if cid not in active:
                _caps.pop(cid, None)
        launched.add_metric([], float(total_launched))
        backlog.add_metric([], float(total_backlog))
        applied.add_metric([], float(total_applied))
        if engines:
            self._queues(engines[0], queue_depth, scheduled, failed)
        yield from (caps, configured, achieved, launched, backlog, applied, up, slots, limit_sessions, limit_sps,
                    sessions, max_sessions, sps, max_sps, headroom, queue_depth, scheduled, failed)

    @staticmethod
    def _queues(engine, depth: GaugeMetricFamily, scheduled: GaugeMetricFamily, failed: GaugeMetricFamily) -> None:
        """RQ queues of this installation (``<prefix>-records``, ``<prefix>-callbacks``): one Redis round trip."""
        from rq import Queue

        names = [f"{engine.key_prefix}-{s}" for s in ("records", "callbacks")]
        try:
            pipe = engine.redis.pipeline(transaction=False)
            for name in names:
                pipe.llen(f"{Queue.redis_queue_namespace_prefix}{name}")
                pipe.zcard(f"rq:scheduled:{name}")
                pipe.zcard(f"rq:failed:{name}")
            out = pipe.execute()
        except Exception:  # noqa: BLE001 - Redis away: no queue figures this scrape
            return
        for i, name in enumerate(names):
            depth.add_metric([name], float(out[3 * i]))
            scheduled.add_metric([name], float(out[3 * i + 1]))
            failed.add_metric([name], float(out[3 * i + 2]))


REGISTRY.register(EngineCollector())

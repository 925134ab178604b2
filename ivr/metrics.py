"""Cheap latency figures of the runtime itself, from monotonic timestamps.

Two spans are recorded per call:

* ``connect_to_first_request`` — from FreeSWITCH's connection being accepted
  to the first request to the app leaving (or, for a built-in app, the first
  command being sent);
* ``event_to_command`` — from a call event (an application's completion)
  being read off the socket to the next command being written, minus the time
  spent waiting for the customer's app to answer;
  ``event_to_command_with_fetch`` is the same span with that wait left in.

Samples go into bounded ring buffers (appending is O(1) and allocation-free
enough to stay on the hot path); :meth:`Metrics.summary` gives percentiles.

The same samples and counters feed Prometheus (docs/metrics.md) when metrics
are on (``prom.ON``, METRICS_ENABLED): each span its histogram, each counter
its own, app fetches their latency and failures by reason (:func:`fetched`,
:func:`fetch_failed`, called by :mod:`ivr.fetch`), and the calls in progress
are read from the tracked runtimes at scrape time (:class:`RuntimeCollector`).
"""

from __future__ import annotations

import weakref
from collections import deque

from prometheus_client import Counter, Histogram
from prometheus_client.core import REGISTRY, GaugeMetricFamily

import prom

EVENT_TO_COMMAND = Histogram(
    "vaani_ivr_event_to_command_seconds",
    "A call event read off the socket → the next command written, less the wait for the customer's app.",
    buckets=prom.FAST_BUCKETS)
EVENT_TO_COMMAND_WITH_FETCH = Histogram(
    "vaani_ivr_event_to_command_with_fetch_seconds",
    "A call event read off the socket → the next command written, the app's response time included.",
    buckets=prom.NETWORK_BUCKETS)
CONNECT_TO_FIRST_REQUEST = Histogram(
    "vaani_ivr_connect_to_first_request_seconds",
    "FreeSWITCH's connection accepted → the call's first app request sent (or first command of a built-in app).",
    buckets=prom.FAST_BUCKETS)
APP_FETCH = Histogram("vaani_ivr_app_fetch_seconds", "Duration of one successful app (doc_url) request.",
                      buckets=prom.NETWORK_BUCKETS)
APP_FETCH_FAILURES = Counter(
    "vaani_ivr_app_fetch_failures_total",
    "App requests that gave no usable document, by reason: connect_timeout, connect_error, read_timeout, "
    "http_4xx, http_5xx, too_large, cut_short, redirects, bad_url, malformed, other.", ["reason"])
CALLS_STARTED = Counter("vaani_ivr_calls_started_total", "Calls the runtime took over from FreeSWITCH.")
CALLS_FINISHED = Counter("vaani_ivr_calls_finished_total", "Calls the runtime finished (facts reported).")
CALLS_APOLOGISED = Counter("vaani_ivr_calls_apologised_total",
                           "Calls ended with the apology because no app (nor fallback) could be run.")

#: Name prefixes of the runtime's own families (its /metrics shows these and the process's).
OWN = ("vaani_ivr_", "process_", "python_")

#: Ring-buffer span name → its Prometheus histogram.
_HISTOGRAMS = {"event_to_command": EVENT_TO_COMMAND, "event_to_command_with_fetch": EVENT_TO_COMMAND_WITH_FETCH,
               "connect_to_first_request": CONNECT_TO_FIRST_REQUEST}
#: Counter name → its Prometheus counter.
_COUNTERS = {"calls_started": CALLS_STARTED, "calls_finished": CALLS_FINISHED, "calls_apologised": CALLS_APOLOGISED,
             "app_malformed": APP_FETCH_FAILURES.labels("malformed")}

#: FetchError reasons (ivr.fetch) by how they begin → the label they are counted under.
_REASONS = (("connect timeout", "connect_timeout"), ("cannot connect", "connect_error"),
            ("no response within", "read_timeout"), ("response larger", "too_large"),
            ("response cut short", "cut_short"), ("more than", "redirects"), ("not an http", "bad_url"),
            ("bad URL", "bad_url"))


def failure_reason(reason: str) -> str:
    """The label of a FetchError's operator-readable reason ("HTTP 503" → http_5xx, ...)."""
    if reason.startswith("HTTP ") and reason[5:6].isdigit():
        return f"http_{reason[5]}xx"
    for prefix, label in _REASONS:
        if reason.startswith(prefix):
            return label
    return "other"


def fetched(seconds: float) -> None:
    """One app request answered with a document."""
    if prom.ON:
        APP_FETCH.observe(seconds)


def fetch_failed(reason: str) -> None:
    """One app request that failed (``reason`` as FetchError gives it)."""
    if prom.ON:
        APP_FETCH_FAILURES.labels(failure_reason(reason)).inc()


#: The tracked runtimes by id (a Runtime is a dataclass, hence unhashable: no WeakSet), held weakly.
_runtimes: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()


def track(runtime) -> None:
    """Count a runtime's calls in progress at each scrape (held weakly)."""
    _runtimes[id(runtime)] = runtime


class RuntimeCollector:
    """``vaani_ivr_live_calls``, read from the tracked runtimes when scraped (nothing per call)."""

    def collect(self):
        """The scrape-time gauge."""
        live = GaugeMetricFamily("vaani_ivr_live_calls", "Calls in progress in this IVR runtime.")
        live.add_metric([], float(sum(len(r.calls) for r in list(_runtimes.values()))))
        yield live


REGISTRY.register(RuntimeCollector())


class Metrics:
    """Ring buffers of latency samples (seconds) by name."""

    def __init__(self, size: int = 100_000):
        self.size = size
        self.samples: dict[str, deque] = {}
        self.counters: dict[str, int] = {}

    def add(self, name: str, seconds: float) -> None:
        """Record one sample."""
        buf = self.samples.get(name)
        if buf is None:
            buf = self.samples[name] = deque(maxlen=self.size)
        buf.append(seconds)
        if prom.ON:
            hist = _HISTOGRAMS.get(name)
            if hist is not None:
                hist.observe(seconds)

    def count(self, name: str, n: int = 1) -> None:
        """Bump a counter (calls started, finished, failed fetches...)."""
        self.counters[name] = self.counters.get(name, 0) + n
        if prom.ON:
            counter = _COUNTERS.get(name)
            if counter is not None:
                counter.inc(n)

    def reset(self) -> None:
        """Forget every sample and counter."""
        self.samples.clear()
        self.counters.clear()

    def summary(self) -> dict[str, dict[str, float]]:
        """Per span: count, p50, p90, p99 and max in milliseconds."""
        out: dict[str, dict[str, float]] = {}
        for name, buf in self.samples.items():
            data = sorted(buf)
            if not data:
                continue
            def pct(p: float) -> float:
                return round(data[min(len(data) - 1, int(p * len(data)))] * 1000, 3)
            out[name] = {"count": len(data), "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99),
                         "max_ms": round(data[-1] * 1000, 3)}
        return out

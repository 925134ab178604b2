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
"""

from __future__ import annotations

from collections import deque


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

    def count(self, name: str, n: int = 1) -> None:
        """Bump a counter (calls started, finished, failed fetches...)."""
        self.counters[name] = self.counters.get(name, 0) + n

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

"""Simulated time: every duration the simulator waits is divided by a speed factor.

The simulated clock starts at the wall-clock time the simulator starts and
runs ``speed`` times faster. Every time the simulator *reports* (event dates,
``*_epoch``/``*_stamp`` variables, ``billsec``/``duration``) is read from it, so
a 60-second call at speed 20 lasts 3 real seconds and reports ``billsec: 60``.
Rate limits (sessions per second) are real time: they stand for FreeSWITCH's
own limits, which the platform must respect by the wall clock.
"""

from __future__ import annotations

import time

import gevent


class Clock:
    """Simulated time at ``speed`` times real time."""

    def __init__(self, speed: float = 1.0):
        if not speed or speed <= 0:
            raise ValueError(f"speed must be a positive number, got {speed!r}")
        self.speed = float(speed)
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def now(self) -> float:
        """Simulated epoch seconds (a float)."""
        return self._wall0 + (time.monotonic() - self._mono0) * self.speed

    def now_us(self) -> int:
        """Simulated epoch microseconds."""
        return int(self.now() * 1_000_000)

    def real(self, sim_seconds: float) -> float:
        """Real seconds that ``sim_seconds`` of simulated time take."""
        return max(0.0, float(sim_seconds)) / self.speed

    def sleep(self, sim_seconds: float) -> None:
        """Sleep for ``sim_seconds`` of simulated time (cooperatively)."""
        gevent.sleep(self.real(sim_seconds))

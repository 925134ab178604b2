"""Group commit: concurrent submissions of one process share one database write.

Each HTTP request that stores call requests waits for its own rows to be
committed (nothing is acknowledged before it is durable), but when many
requests arrive together, the first one to reach the writer writes everything
queued so far in one transaction, and the others find their work done. Under
load, a write costs a handful of statements per batch instead of per request;
alone, a request writes at once (it only yields once to whatever is ready to run).

Works with greenlets (gevent-patched locks) and with threads.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class Job:
    """One request's share of a batch: its items in, its results out (or the error that failed the batch)."""

    items: list[Any]
    done: bool = False
    results: list[Any] = field(default_factory=list)
    error: BaseException | None = None


class GroupCommit:
    """Coalesce concurrent ``submit(items)`` calls into calls of ``write(jobs)``.

    ``write(jobs)`` must set ``job.results`` for every job (one result per item),
    in one transaction; if it raises, every job of the batch gets the error.
    """

    def __init__(self, write: Callable[[list[Job]], None], max_items: int = 2000):
        self._write = write
        self._max_items = max_items
        self._mutex = threading.Lock()
        self._writer = threading.Lock()
        self._pending: list[Job] = []

    def submit(self, items: list[Any]) -> list[Any]:
        """Write ``items`` (possibly with other requests' items) and return their results."""
        job = Job(items)
        with self._mutex:
            self._pending.append(job)
        while True:
            with self._writer:
                if job.done:
                    break
                # Let the requests that are ready to run reach the queue before the batch is taken:
                # a database driver that blocks the whole process (SQLite) gives them no other chance.
                time.sleep(0)
                with self._mutex:
                    batch, size = [], 0
                    while self._pending and (not batch or size + len(self._pending[0].items) <= self._max_items):
                        nxt = self._pending.pop(0)
                        batch.append(nxt)
                        size += len(nxt.items)
                try:
                    self._write(batch)
                except BaseException as exc:  # every waiter of the batch learns it failed
                    for j in batch:
                        j.error = exc
                finally:
                    for j in batch:
                        j.done = True
                if job.done:
                    break
        if job.error is not None:
            raise job.error
        return job.results

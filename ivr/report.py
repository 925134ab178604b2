"""Telling the dialer what happened on a call: the ``ivr_call_finished`` RQ job (contract 3).

The job is enqueued by its dotted name (:data:`ivr.call_spec.FACTS_JOB`), so
the runtime never imports the dialer; an RQ worker of the dialer runs it.
"""

from __future__ import annotations

import logging

from ivr.call_spec import FACTS_JOB, FACTS_QUEUE_SUFFIX, CallFacts

log = logging.getLogger(__name__)


class FactsReporter:
    """Enqueues call facts on ``<key_prefix>-records``; a Redis failure is logged, never raised into a call."""

    def __init__(self, redis_conn, key_prefix: str):
        from rq import Queue

        self.queue = Queue(f"{key_prefix}-{FACTS_QUEUE_SUFFIX}", connection=redis_conn)

    def report(self, facts: CallFacts) -> str | None:
        """Enqueue the facts; returns the RQ job id, or None when Redis could not take it."""
        try:
            job = self.queue.enqueue(FACTS_JOB, facts.to_dict(), job_timeout=60, result_ttl=300,
                                     failure_ttl=7 * 86400)
            return job.id
        except Exception as exc:  # noqa: BLE001 - a lost report must not take the runtime down
            log.error("could not enqueue call facts of %s: %s", facts.uuid, exc)
            return None

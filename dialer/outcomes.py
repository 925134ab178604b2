"""What becomes of claimed attempts that are not placed: back to the queue, DND, failed before send.

:class:`Outcomes` is a part of :class:`dialer.engine.Dialer`: giving attempts back (with their
reserved agents and balance reservations), settling a DND number without a call, and failing an
undialable attempt with its CDR and callbacks.
"""

from __future__ import annotations

import logging

import gevent

from dialer import agent_dialing as _agent_dialing
from dialer import attempts as _attempts
from dialer import metrics as _metrics
from dialer.store import db
from dialer.store.models import Attempt, Campaign, utcnow

log = logging.getLogger("dialer.engine")  # the engine's logger: its records keep their name


class Outcomes:
    """Attempts settled without a call (see the module docs)."""

    def give_back(self, a: Attempt, *, next_try_at=None, cancel: bool = False) -> None:
        with db.session_scope(self.db_url) as s:
            _attempts.release(s, a.id, self.worker_id, cancel=cancel, next_try_at=next_try_at)
        self.unreserve_agents([a])
        self._release_billing([a])

    def give_back_many(self, attempts: list[Attempt], *, cancel: bool = False) -> None:
        if not attempts:
            return
        with db.session_scope(self.db_url) as s:
            for a in attempts:
                _attempts.release(s, a.id, self.worker_id, cancel=cancel)
        self.unreserve_agents(attempts)
        self._release_billing(attempts)

    def unreserve_agents(self, attempts: list[Attempt]) -> None:
        """An agent reserved for a call that is not placed after all (72-hour rule, preview) is free again."""
        for a in attempts:
            if a.origination_uuid and _agent_dialing.is_agent_campaign(self.campaign(a.campaign_id)):
                self.agent_dialing.release_agent(a.origination_uuid, 0)

    def _finish_dnd(self, s, a: Attempt, camp: Campaign, contact) -> None:
        done = _attempts.finish_without_channel(s, a.id, "cancelled", dial_status="DND", origination_uuid=None,
                                                job_uuid=None, ended_at=utcnow())
        if done is None:
            return
        _metrics.dnd_skipped()
        from dialer import records

        res = records.record_dnd(s, account_id=a.account_id, number=a.number, campaign_id=camp.id,
                                 list_id=camp.list_id, contact_id=a.contact_id, caller_id=camp.caller_id)
        s.flush()
        # Queued after commit by the caller's scope ending; a DND record's callback is rare enough to send here.
        gevent.spawn_later(0.05, self.enqueue_callbacks, list(res.deliveries))

    def _fail_before_send(self, a: Attempt, cause: str, message: str) -> None:
        log.warning("attempt %s cannot be dialed: %s", a.id, message)
        deliveries: list[int] = []
        with db.session_scope(self.db_url, immediate=True) as s:
            done = _attempts.transition(s, a.origination_uuid, ["dialing"], "failed", dial_status="CHANUNAVAIL",
                                        hangup_cause=cause, error=message[:500], ended_at=utcnow())
            if done is not None:
                deliveries += self.record_failure(s, done, cause)
                _metrics.not_dialled(a.call_type, cause, "CHANUNAVAIL")
        self.enqueue_callbacks(deliveries)

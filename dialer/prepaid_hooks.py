"""The dialing engine's side of prepaid balances (docs/billing.md).

Before a call is built its talk time is reserved on its account (:mod:`billing.calls`); a call its
account cannot pay waits for other calls' reservations, pauses its campaign with a hold a top-up
releases, or fails as a barred call; attempts going back to the queue give their reservation back,
and a periodic sweep frees reservations whose calls must be over.

:class:`PrepaidHooks` is a part of :class:`dialer.engine.Dialer`; the seconds a call waits for other
calls' reservations stay ``dialer.engine.BILLING_WAIT_SECONDS`` (read through the engine's
``_billing_wait``).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import sqlalchemy as sa

from billing import calls as _billing_calls
from dialer.store import db
from dialer.store.models import Attempt, Campaign, utcnow

log = logging.getLogger("dialer.engine")  # the engine's logger: its records keep their name

#: Seconds between sweeps of stale balance reservations, and how long past its talk time plus ringing a
#: reservation may stay held before its call is taken to be over.
BILLING_SWEEP_EVERY = 30.0
BILLING_SWEEP_GRACE = 300.0


class PrepaidHooks:
    """Balance reservations of the engine's calls (see the module docs)."""

    def _billing_grants(self, todo: list) -> dict:
        """Reserve talk time for the batch's calls of prepaid accounts (one read when none is prepaid)."""
        if not todo:
            return {}
        grants = _billing_calls.reserve_attempts(
            self.db_url, [(a.account_id, a.origination_uuid, a.number) for a, _, _ in todo],
            self.cfg.billing_reserve_seconds)
        self.billed.update(u for u, g in grants.items() if g.ok and g.amount)
        return grants

    def _pause_for_balance(self, camp: Campaign) -> None:
        """Pause a campaign whose account cannot pay its next call, with a hold that a top-up releases
        (status and hold in one transaction: a paused campaign is never seen without its reason)."""
        from billing import holds

        self._balance_pauses.discard(camp.id)
        with db.session_scope(self.db_url, immediate=True) as s:
            moved = s.execute(sa.update(Campaign).where(Campaign.id == camp.id, Campaign.status == "running")
                              .values(status="paused", updated_at=utcnow())).rowcount
            if moved:
                holds.hold(s, camp.id, camp.account_id)
        if moved:
            self.control.set_state(camp.id, "paused", wait=0)
            log.info("campaign %s paused: account %s is out of balance", camp.id, camp.account_id)

    def _sweep_billing(self) -> None:
        """Every BILLING_SWEEP_EVERY seconds, free reservations whose calls must be over (lost records, dead workers)."""
        now = time.monotonic()
        if now - self._billing_swept < BILLING_SWEEP_EVERY:
            return
        self._billing_swept = now
        _billing_calls.sweep(self.db_url, self.opts.originate_timeout + BILLING_SWEEP_GRACE)

    def _release_billing(self, attempts: list[Attempt]) -> None:
        """Attempts going back to the queue give back what they reserved (their next claim reserves anew)."""
        uuids = [a.origination_uuid for a in attempts if a.origination_uuid in self.billed]
        if uuids:
            self.billed.difference_update(uuids)
            try:
                _billing_calls.release_uuids(self.db_url, uuids)
            except Exception:  # the stale sweep gives them back later
                log.warning("could not release reservations %s", uuids, exc_info=True)

    def _out_of_balance(self, a: Attempt, camp: Campaign | None, grant, buffer: list[Attempt],
                        later: list) -> None:
        """A call its account cannot pay: while calls in progress hold reservations it waits for them to
        settle; once nothing is held a campaign is paused (not failed) until a top-up and a single request
        fails as a barred call; a destination without a rate fails either way."""
        if grant.reason == "wait":
            later.append((a, utcnow() + timedelta(seconds=self._billing_wait())))
            return
        if camp is not None and grant.reason == "balance":
            later.append((a, None))
            self._balance_pauses.add(camp.id)  # once the batch's paid calls are out (_dial_batch)
            return
        buffer.remove(a)
        why = "insufficient balance" if grant.reason == "balance" else f"no rate for {a.number}"
        self._fail_before_send(a, "OUTGOING_CALL_BARRED", why)

"""The lanes of the dialing engine: greenlets that claim due attempts and dial them batch by batch.

Per running campaign (and one for single call requests) a few lanes each repeat *claim → prepare →
admit and send* (see :mod:`dialer.engine`): claim the next due attempts on the least-loaded node in one
SQL statement (:func:`dialer.attempts.claim_batch`), settle and build them
(:mod:`dialer.call_building`), then pace and send them (:mod:`dialer.sending`). Also the per-campaign
and per-account reads the lanes cache, and the pause/stop checks they make between steps.

:class:`Lanes` is a part of :class:`dialer.engine.Dialer` (it uses the engine's Redis, pacer, control,
nodes, options and campaign set).
"""

from __future__ import annotations

import logging
import time
import uuid as _uuid

import gevent

from dialer import agent_dialing as _agent_dialing
from dialer import attempts as _attempts
from dialer import metrics as _metrics
from dialer import preview_lane as _preview_lane
from dialer.sending import _groups
from dialer.store import db
from dialer.store.models import Account, Attempt, Campaign

log = logging.getLogger("dialer.engine")  # the engine's logger: its records keep their name


class Lanes:
    """The claiming loop of :class:`dialer.engine.Dialer` (see the module docs)."""

    # ------------------------------------------------------------------ lanes
    def _ensure_lane(self, campaign_id: str | None) -> None:
        lanes = self._lanes.get(campaign_id)
        if lanes and all(not g.dead for g in lanes):
            return
        # An agent campaign has one lane: the controller answers "how many more calls now", and lanes asking
        # side by side would each launch that many.
        camp = self._campaigns.get(campaign_id) if campaign_id else None
        n = 1 if _agent_dialing.is_agent_campaign(camp) else max(1, self.opts.lanes_per_campaign)
        self._lanes[campaign_id] = [gevent.spawn(self._lane, campaign_id) for _ in range(n)]

    def _lane(self, campaign_id: str | None) -> None:
        camp = self._campaigns.get(campaign_id) if campaign_id else None
        if camp is not None and camp.dial_mode == "preview":
            return _preview_lane.run(self, campaign_id)
        buffer: list[Attempt] = []  # claimed, neither launched nor settled yet
        try:
            while self._running and (campaign_id is None or campaign_id in self._campaigns):
                try:
                    buffer[:] = self._claim(campaign_id)
                    if not buffer:
                        gevent.sleep(0.1 if campaign_id is None else 0.05)
                        continue
                    camp = self._campaigns.get(campaign_id) if campaign_id else None
                    if campaign_id is not None and camp is None:
                        # Paused or stopped since the claim: its attempts are not requests to dial without it.
                        self.give_back_many(buffer, cancel=self._stopped_id(campaign_id))
                        buffer.clear()
                        continue
                    if not self._dial_batch(buffer, camp):
                        gevent.sleep(0.05)
                except Exception:
                    log.exception("dialing lane %s failed; continuing", campaign_id)
                    self.give_back_many(buffer)
                    buffer.clear()
                    gevent.sleep(0.1)
        finally:
            # Claimed but not launched (paused, stopped, shutting down): back to the queue.
            stopped = campaign_id is not None and self.control.state(campaign_id) == "stopped"
            try:
                self.give_back_many(buffer, cancel=stopped)
            except Exception:
                log.warning("could not give back attempts %s", [a.id for a in buffer], exc_info=True)

    def _batch_size(self, camp: Campaign | None) -> int:
        """How many attempts a lane claims at once: about what it dials in half a second (1 to 128).

        A claim is one transaction (and, on SQLite, a turn of the one write lock the event listener also
        needs); at high rates a bigger batch spreads it over more calls (measured: 32 → 128 took one
        worker from ~290 to ~420 originates/s), while at low rates a lane holds no more than it dials
        before its next claim.
        """
        if camp is None:
            return 2
        if _agent_dialing.is_agent_campaign(camp):
            return 64  # bounded by the controller's quota (see _claim)
        per_lane = float(camp.calls_per_minute or 10) / 60.0 / max(1, self.opts.lanes_per_campaign)
        return max(1, min(128, int(per_lane * 0.5)))

    def _account(self, account_id: str) -> Account | None:
        hit = self._accounts.get(account_id)
        if hit is not None and time.monotonic() - hit[0] < 5.0:
            return hit[1]
        with db.session_scope(self.db_url) as s:
            acc = s.get(Account, account_id)
        self._accounts[account_id] = (time.monotonic(), acc)
        return acc

    def _claim(self, campaign_id: str | None) -> list[Attempt]:
        """Claim the lane's next attempts (reserving their channel uuids) on the least-loaded node."""
        camp = self._campaigns.get(campaign_id) if campaign_id else None
        if campaign_id is not None:
            if camp is None or self.control.state(campaign_id) not in (None, "running"):
                return []
            if camp.max_concurrent and self.pacer.slots_in_use(self._camp_slots(campaign_id)) >= camp.max_concurrent:
                return []
        size = self._batch_size(camp)
        if _agent_dialing.is_agent_campaign(camp):
            size = min(size, self.agent_dialing.quota(camp))
            if size <= 0:
                return []
        node = self.nodes.pick()
        if node is None:
            return []
        uuids = [str(_uuid.uuid4()) for _ in range(size)]
        started = time.perf_counter()
        with db.session_scope(self.db_url) as s:
            got = _attempts.claim_batch(s, self.worker_id, uuids, node.name,
                                        campaign_id=campaign_id, requests=campaign_id is None)
        _metrics.claimed(campaign_id is not None, len(got), time.perf_counter() - started)
        return got

    # ------------------------------------------------------------------ one claimed batch
    def _dial_batch(self, buffer: list[Attempt], camp: Campaign | None) -> bool:
        """Settle, pace, gate and originate the claimed attempts in ``buffer`` (emptied as they go).

        Per batch, not per call: one read of contacts and DND (or call requests), one Redis script that
        holds the slots and reserves the grants of as many calls as the caps allow, one gate per group
        of calls due together. False when a concurrency cap is full (the rest went back to the queue).
        """
        ready = self.prepare(buffer, camp)
        try:
            for key, group in _groups(ready):
                if not self.admit_and_send(group, camp, buffer):
                    self.give_back_many(buffer)
                    buffer.clear()
                    return False
            return True
        finally:
            if camp is not None and camp.id in self._balance_pauses:
                self._pause_for_balance(camp)

    def _camp_slots(self, campaign_id: str) -> str:
        return self.pacer.slots_key("campaign", campaign_id)

    def _stopped(self, camp: Campaign | None) -> bool:
        return camp is not None and self._stopped_id(camp.id)

    def _stopped_id(self, campaign_id: str) -> bool:
        return self.control.state(campaign_id) == "stopped"


    def _still_dialable(self, camp: Campaign | None) -> bool:
        return self._running and (camp is None or self.control.state(camp.id) in (None, "running"))

"""Reconciliation: live attempts compared with what FreeSWITCH reports, after events were missed.

After a reconnect (or when a dead worker's calls are recovered) the
:class:`Reconciler` asks FreeSWITCH which of our live attempts still have a
channel (``show channels as json`` / ``uuid_exists``): those that do are
followed again (adopted), those that do not ended while nobody listened and get
their final state and CDR from what is known (see docs/dialer.md, "Nothing lost,
nothing twice").
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from dialer import attempts as _attempts
from dialer.listener import Host, Listener
from dialer.store import db
from dialer.store.models import Attempt, utcnow

log = logging.getLogger(__name__)


class Reconciler:
    """Compares live attempts with what FreeSWITCH reports and settles the differences."""

    def __init__(self, dialer: Host, listener: Listener, grace: float = 3.0, settle_after: float = 4.0):
        self.d = dialer
        self.listener = listener
        self.grace = grace
        self.settle_after = settle_after
        self._missing: dict[str, float] = {}

    def node_reconnected(self, node_name: str, client) -> int:
        """After (re)connecting to a node: settle our attempts on it whose channel is gone. Returns how many."""
        try:
            present = client.channel_uuids()
        except Exception as exc:
            log.warning("reconcile %s: cannot list channels: %s", node_name, exc)
            return 0
        with db.session_scope(self.d.db_url) as s:
            rows = s.execute(sa.select(Attempt).where(Attempt.fs_node == node_name,
                                                      Attempt.state.in_(_attempts.LIVE_STATES))).scalars().all()
        settled = 0
        for a in rows:
            if a.origination_uuid in present:
                continue
            mine_and_sent = a.origination_uuid in self.d.launched
            age = (utcnow() - a.claimed_at).total_seconds() if a.claimed_at else 1e9
            if a.state == "dialing" and not mine_and_sent and not self.d.control.was_sent(a.origination_uuid):
                if age < self.grace:
                    continue  # being launched right now by some worker
                if a.claimed_by in self.d.live_workers() and a.claimed_by != self.d.worker_id:
                    continue  # its live launcher knows whether it sent it
            settled += self.settle_gone(a)
        return settled

    def settle_gone(self, a) -> int:
        """An attempt whose channel FreeSWITCH does not have: launched → final with a CDR; never launched → queued."""
        if a.state == "dialing" and a.origination_uuid not in self.d.launched \
                and not self.d.control.was_sent(a.origination_uuid):
            with db.session_scope(self.d.db_url) as s:
                ok = _attempts.requeue_unlaunched(s, a.id, a.claimed_by)
            if ok:
                self.d.release_call(a)
                self.d.unreserve_agents([a])  # an agent reserved for it (preview, 72-hour rule) is free
            return int(ok)
        headers = self.synthetic_hangup(a)
        return int(self.listener.finish(a.origination_uuid, headers, reconciled=True))

    def synthetic_hangup(self, a) -> dict:
        """What is known of a call that ended unseen, in CHANNEL_HANGUP_COMPLETE's shape."""
        now_us = int(datetime.now(timezone.utc).timestamp() * 1e6)

        def us(dt):
            return str(int(dt.replace(tzinfo=timezone.utc).timestamp() * 1e6)) if dt else "0"

        answered = a.state == "answered"
        return {
            "Event-Name": "CHANNEL_HANGUP_COMPLETE",
            "Unique-ID": a.origination_uuid,
            "Hangup-Cause": "NORMAL_CLEARING" if answered else "NORMAL_TEMPORARY_FAILURE",
            "Caller-Destination-Number": a.number,
            "Caller-Channel-Created-Time": us(a.claimed_at),
            "Caller-Channel-Answered-Time": us(a.answered_at),
            "Caller-Channel-Hangup-Time": str(now_us),
            "variable_vaani_attempt_id": a.id,
            "variable_vaani_request_id": a.request_id or "",
            "variable_vaani_prefix": self.d.key_prefix,
            "variable_vaani_reconciled": "true",
            "variable_uuid": a.origination_uuid,
            "variable_start_uepoch": us(a.claimed_at),
            "variable_answer_uepoch": us(a.answered_at),
            "variable_end_uepoch": str(now_us),
        }

    def recover_dead_workers(self) -> int:
        """Settle or adopt live attempts of workers whose heartbeat stopped. Returns how many were handled.

        An attempt whose channel is gone is settled only after it has been seen missing for
        ``settle_after`` seconds: the dead launcher's last events (a hangup, an originate's -ERR) reach
        the other workers a few seconds late (see :meth:`Listener.on_event`) and must win over a guess.
        """
        live = self.d.live_workers()
        older = utcnow() - timedelta(seconds=self.grace)
        with db.session_scope(self.d.db_url) as s:
            stale = _attempts.stale_claims(s, live, older)
        handled = 0
        now = time.monotonic()
        seen = {a.origination_uuid for a in stale}
        self._missing = {u: t for u, t in getattr(self, "_missing", {}).items() if u in seen}
        for a in stale:
            client = self.d.nodes.client(a.fs_node)
            if client is None or not client.connected:
                if a.fs_node is None and a.state == "dialing":
                    with db.session_scope(self.d.db_url) as s:
                        handled += int(_attempts.requeue_unlaunched(s, a.id, a.claimed_by))
                continue
            try:
                exists = client.uuid_exists(a.origination_uuid)
            except Exception:
                continue
            if exists:
                self._missing.pop(a.origination_uuid, None)
                with db.session_scope(self.d.db_url) as s:
                    if _attempts.adopt(s, a.id, a.claimed_by, self.d.worker_id):
                        self.d.launched.add(a.origination_uuid)
                        handled += 1
            else:
                first = self._missing.setdefault(a.origination_uuid, now)
                if now - first >= self.settle_after:
                    self._missing.pop(a.origination_uuid, None)
                    handled += self.settle_gone(a)
        return handled

"""The engine's side of the event listener: what :class:`dialer.listener.Host` asks of it.

CDRs of hangups and failed originates, callback enqueueing, freeing a finished call's slots, agent
campaigns' answered/ended calls and nailed-up agents' channel events, and the live-call counters.
:class:`ListenerHooks` is a part of :class:`dialer.engine.Dialer`; the listener reaches it through the
``Host`` protocol, never by importing the engine.
"""

from __future__ import annotations

import logging

from dialer.store.models import Attempt

log = logging.getLogger("dialer.engine")  # the engine's logger: its records keep their name


class ListenerHooks:
    """Hooks used by the listener and reconciler (see the module docs)."""

    def record_hangup(self, s, headers: dict, attempt: Attempt | None = None) -> list[int]:
        """CDR upsert from a CHANNEL_HANGUP_COMPLETE (returns callback deliveries to enqueue after commit).

        ``attempt``: the call's attempt when the caller has it already (it is not read again).
        """
        from dialer import records

        return list(records.record_channel_hangup(s, headers, attempt=attempt).deliveries)

    def record_failure(self, s, a: Attempt, cause: str) -> list[int]:
        """CDR of an originate that failed without a channel."""
        from dialer import records

        return list(records.record_originate_failure(s, a.id, cause, origination_uuid=a.origination_uuid,
                                                     node=a.fs_node, attempt=a).deliveries)

    def enqueue_callbacks(self, deliveries: list[int]) -> None:
        """Hand committed callback deliveries to their RQ jobs."""
        if not deliveries:
            return
        try:
            from dialer import callbacks

            callbacks.enqueue(deliveries, cfg=self.cfg)
        except Exception:
            log.warning("could not enqueue callbacks %s", deliveries, exc_info=True)

    def release_call(self, a: Attempt, pipe=None) -> None:
        """Free every slot a finished call held (on ``pipe`` when given: the caller sends it)."""
        u = a.origination_uuid
        if not u:
            return
        keys = [self.pacer.slots_key("account", a.account_id)]
        node = self.nodes.nodes.get(a.fs_node or "")
        if node is not None:
            keys.append(self.nodes.slots_key(node))
        if a.campaign_id:
            keys.append(self._camp_slots(a.campaign_id))
        own = pipe is None
        if own:
            pipe = self.redis.pipeline(transaction=False)  # one round trip for the call's slots
        for key in keys:
            pipe.zrem(key, u)
        if own:
            pipe.execute()
        self.launched.discard(u)

    def agent_call_answered(self, a: Attempt, pipe) -> None:
        """An agent campaign's call was answered (queued on the listener's pipeline)."""
        self.agent_dialing.call_answered(self.campaign(a.campaign_id), a, pipe)

    def agent_channel_event(self, name: str, headers: dict, body: str) -> bool:
        """A nailed-up agent's channel event (see :mod:`dialer.nailed`); True when it was one (not a call's)."""
        return self.nailed.on_event(name, headers, body)

    def agent_call_ended(self, a: Attempt, answered: bool, pipe) -> None:
        """An agent campaign's call ended (see :meth:`dialer.agent_dialing.AgentDialing.call_ended`)."""
        self.agent_dialing.call_ended(self.campaign(a.campaign_id), a, answered, pipe)

    def live_change(self, a: Attempt, delta: int, pipe=None) -> None:
        """Live-call counters per call type (seed 002's live statistics); idempotent per channel uuid.

        With ``pipe`` the change is only queued there (the caller sends it and handles its errors).
        """
        from dialer import live

        if pipe is not None:
            if delta > 0:
                live.queue_answered(pipe, self.key_prefix, a.origination_uuid, a.call_type, a.account_id)
            else:
                live.queue_ended(pipe, self.key_prefix, a.origination_uuid or "")
            return
        try:
            if delta > 0:
                live.call_started(a.call_type, self.cfg, uuid=a.origination_uuid, account_id=a.account_id)
            else:
                live.call_ended(a.origination_uuid, self.cfg)
        except Exception:
            log.warning("live counter update failed", exc_info=True)

"""Pacing and sending a lane's built calls: slots, rates, the campaign gate, ``bgapi originate``.

Calls of one account on one node go together (:func:`_groups`): one Redis script holds their
concurrency slots and reserves the next instants every applicable rate allows (node sps, gateway cps,
campaign calls_per_minute capped by what its concurrency sustains, account), then each is sent at its
instant once the campaign's pause/stop gate lets it through (:class:`dialer.campaigns.Control`).

:class:`Sending` is a part of :class:`dialer.engine.Dialer`.
"""

from __future__ import annotations

import logging
import time

import gevent

from freeswitch.inbound import ESLError

from dialer import agent_dialing as _agent_dialing
from dialer import metrics as _metrics
from dialer import pacing as _pacing
from dialer.call_building import _Call
from dialer.store.models import Account, Attempt, Campaign

log = logging.getLogger("dialer.engine")  # the engine's logger: its records keep their name


class Sending:
    """Admitting and sending calls for :class:`dialer.engine.Dialer` (see the module docs)."""

    def admit_and_send(self, calls: list["_Call"], camp: Campaign | None, buffer: list[Attempt]) -> bool:
        """Calls of one account on one node: hold their slots, reserve their instants, send them on time."""
        first = calls[0]
        node = first.node
        if node is None:
            return False
        slot_ttl = self.opts.originate_timeout + self.opts.max_call_seconds
        account = self._account(first.attempt.account_id)
        slots = [_pacing.Slots(self.nodes.slots_key(node), node.max_sessions)]
        if camp is not None and camp.max_concurrent:
            slots.append(_pacing.Slots(self._camp_slots(camp.id), camp.max_concurrent))
        if account is not None and account.max_concurrent_calls:
            slots.append(_pacing.Slots(self.pacer.slots_key("account", account.id), account.max_concurrent_calls))
        rates = self._rates(camp, account, node)
        pending = list(calls)
        while pending:
            if not self._still_dialable(camp):
                self.give_back_many([c.attempt for c in pending], cancel=self._stopped(camp))
                _drop(buffer, pending)
                return True
            adm = self.pacer.admit([c.uuid for c in pending], slots, rates, ttl=slot_ttl, horizon=self.opts.horizon)
            admitted, pending = pending[:len(adm.times)], pending[len(adm.times):]
            if admitted:
                self._send_on_time(admitted, adm, camp, slots, buffer)
            if pending and adm.full:
                return False
            if pending and not admitted:
                gevent.sleep(min(adm.wait, 0.25))
        return True

    def _send_on_time(self, calls: list["_Call"], adm: _pacing.Admission, camp: Campaign | None,
                      slots: list[_pacing.Slots], buffer: list[Attempt]) -> None:
        """Send each admitted call at its granted instant; calls already due go out together."""
        campaign_id = camp.id if camp is not None else None
        # Grants are in Redis's clock; map them onto this process's clock once.
        offset = time.monotonic() - adm.now
        i = 0
        while i < len(calls):
            delay = adm.times[i] + offset - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            now = time.monotonic()
            j = i + 1
            while j < len(calls) and adm.times[j] + offset <= now:
                j += 1
            group = calls[i:j]
            if not self.control.gate_many(campaign_id, [c.uuid for c in group]):
                rest = calls[i:]
                self._release_slots(slots, [c.uuid for c in rest])
                self.give_back_many([c.attempt for c in rest], cancel=self._stopped(camp))
                _drop(buffer, rest)
                return
            i = j
            _drop(buffer, group)
            if _agent_dialing.is_agent_campaign(camp):
                self.agent_dialing.launched(camp.id, [c.uuid for c in group])
            try:
                self._send(group)
            finally:
                self.control.done_many(campaign_id, [c.uuid for c in group])

    def _send(self, group: list["_Call"]) -> None:
        """Write the group's originates (concurrently on the node's connection; replies come in order)."""
        client = self.nodes.client(group[0].node.name)
        self._last_send = time.monotonic()
        for c in group:
            self.launched.add(c.uuid)  # the slots now belong to the call; its end releases them
        if len(group) == 1:
            results = [_try(client.bgapi, group[0].command, group[0].uuid)]
        else:
            jobs = [gevent.spawn(_try, client.bgapi, c.command, c.uuid) for c in group]
            gevent.joinall(jobs)
            results = [j.value for j in jobs]
        for c, exc in zip(group, results):
            if exc is None or "not connected" not in str(exc):
                self.billed.discard(c.uuid)  # the call's record settles its reservation now
            if exc is None:
                self.originates_sent += 1
            elif "not connected" in str(exc):
                # Nothing was written: the call was not placed.
                self.launched.discard(c.uuid)
                self.give_back(c.attempt)
                self.release_call(c.attempt)
                _metrics.send_failed(c.node.name, "not_connected")
            else:
                # Written but unanswered: the node may have it; the reconciler decides after reconnecting.
                log.warning("originate %s: %s", c.uuid, exc)
                _metrics.send_failed(c.node.name, "no_reply")
        _metrics.sent(group[0].node.name, group[0].attempt.campaign_id, results.count(None))

    def dialing_now(self, within: float = 0.05) -> bool:
        """Whether a lane wrote an originate in the last ``within`` seconds (the listener gives way then)."""
        return time.monotonic() - self._last_send < within

    def _release_slots(self, slots: list[_pacing.Slots], uuids: list[str]) -> None:
        if not uuids:
            return
        pipe = self.redis.pipeline(transaction=False)
        for s in slots:
            pipe.zrem(s.key, *uuids)
        pipe.execute()

    def _rates(self, camp: Campaign | None, account: Account | None, node) -> list[_pacing.Rate]:
        rates = [self.nodes.rate(node)]
        if self.opts.gateway_cps:
            rates.append(_pacing.Rate.per_second(self.pacer.rate_key("gateway", self.opts.gateway),
                                                 self.opts.gateway_cps))
        if camp is not None:
            cpm = float(camp.calls_per_minute or 10)
            if camp.max_concurrent:
                stats = _pacing.load_stats(self.redis, self.key_prefix, camp.id)
                cpm = min(cpm, _pacing.sustainable_cpm(camp.max_concurrent, stats))
            _metrics.paced(camp.id, cpm)
            rates.append(_pacing.Rate.per_minute(self.pacer.rate_key("campaign", camp.id), cpm))
        if account is not None and account.max_calls_per_minute:
            rates.append(_pacing.Rate.per_minute(self.pacer.rate_key("account", account.id),
                                                 account.max_calls_per_minute))
        return rates


def _groups(calls: list[_Call]):
    """Consecutive calls of one account on one node (they share every slot set and rate)."""
    out: list[tuple[tuple, list[_Call]]] = []
    for c in calls:
        key = (c.attempt.account_id, c.attempt.fs_node)
        if out and out[-1][0] == key:
            out[-1][1].append(c)
        else:
            out.append((key, [c]))
    return out


def _drop(buffer: list[Attempt], calls: list[_Call]) -> None:
    """Remove calls from a lane's buffer (they were launched or settled)."""
    gone = {id(c.attempt) for c in calls}
    buffer[:] = [a for a in buffer if id(a) not in gone]


def _try(fn, *args) -> Exception | None:
    """Run ``fn``; the ESLError it raised, or None."""
    try:
        fn(*args)
        return None
    except ESLError as exc:
        return exc

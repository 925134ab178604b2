"""Turning a lane's claimed attempts into originate commands, or settling those that need no call.

:meth:`CallBuilding.prepare` reads the batch's contacts and DND hits (or call requests) once, sends
DND numbers to a DND CDR, numbers outside calling hours back to the queue until their next opening,
applies the 72-hour redial rule of agent campaigns (an agent reserved before dialing), holds prepaid
talk time (:mod:`dialer.prepaid_hooks`), and builds each remaining call's ``originate``
(:class:`dialer.originate.Originate`) as a :class:`_Call` for :mod:`dialer.sending`.

:class:`CallBuilding` is a part of :class:`dialer.engine.Dialer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from billing import calls as _billing_calls
from dialer import agent_dialing as _agent_dialing
from dialer import campaigns as _campaigns
from dialer.originate import Originate, OriginateError
from dialer.store import db
from dialer.store.models import Attempt, CallRequest, Campaign, Contact, DndList, DndNumber, utcnow

#: An agent campaign's contact that must go straight to an agent (abandoned within 72 hours) and found none
#: free is tried again this many seconds later.
AGENT_RETRY_SECONDS = 15


@dataclass
class _Prefetch:
    """What a lane read once for its claimed batch: contacts by id and the numbers on a DND list."""

    account_id: str
    contacts: dict
    dnd: set


@dataclass
class _Call:
    """A claimed attempt ready to dial: its originate command and its node."""

    attempt: Attempt
    command: str
    node: object

    @property
    def uuid(self) -> str:
        return self.attempt.origination_uuid


class CallBuilding:
    """Settling and building a claimed batch's calls (see the module docs)."""

    def prepare(self, buffer: list[Attempt], camp: Campaign | None) -> list["_Call"]:
        """Settle what needs no call (DND, outside calling hours, undialable) and build the originates."""
        ready: list[_Call] = []
        dnd: list[tuple[Attempt, object]] = []
        later: list[tuple[Attempt, object]] = []
        reqs: dict = {}
        pre = self._prefetch(buffer, camp) if camp is not None else None
        blocked = self._abandoned_recently(buffer, camp)
        if camp is None:
            ids = {a.request_id for a in buffer if a.request_id}
            if ids:
                with db.session_scope(self.db_url) as s:
                    reqs = {r.id: r for r in s.execute(sa.select(CallRequest).where(CallRequest.id.in_(ids))).scalars()}
        now = utcnow()
        todo: list[tuple[Attempt, object, str | None]] = []
        for a in list(buffer):
            contact = None
            if pre is not None:
                contact = pre.contacts.get(a.contact_id) if a.contact_id is not None else None
                if a.number in pre.dnd:
                    dnd.append((a, contact))
                    continue
                opening = _campaigns.next_opening(camp, a.number, now, contact)
                if opening is not None:
                    later.append((a, opening))
                    continue
            agent_id = self.reserved_agents.pop(a.origination_uuid, None)
            if agent_id is None and a.number in blocked:
                # Abandoned within 72 hours: called again only straight to an agent, reserved before dialing.
                agent = self.agent_dialing.acd.reserve(camp.id, a.origination_uuid)
                if agent is None:
                    later.append((a, now + timedelta(seconds=AGENT_RETRY_SECONDS)))
                    continue
                agent_id = agent.agent_id
            todo.append((a, contact, agent_id))
        # Prepaid accounts: each call holds its talk time before it is built (docs/billing.md).
        grants = self._billing_grants(todo)
        for a, contact, agent_id in todo:
            grant = grants.get(a.origination_uuid)
            if grant is not None and not grant.ok:
                self._out_of_balance(a, camp, grant, buffer, later)
                continue
            node = self.nodes.nodes.get(a.fs_node or "")
            try:
                command = self._originate(a, camp, contact, reqs.get(a.request_id), node,
                                          reserved_agent=agent_id,
                                          talk_limit=grant.seconds if grant is not None else None).command()
            except (OriginateError, _campaigns.CampaignError, ValueError) as exc:
                buffer.remove(a)
                self._fail_before_send(a, "INVALID_NUMBER_FORMAT", str(exc))
                continue
            ready.append(_Call(a, command, node))
        if dnd:
            with db.session_scope(self.db_url) as s:
                for a, contact in dnd:
                    self._finish_dnd(s, a, camp, contact)
        for a, opening in later:
            self.give_back(a, next_try_at=opening)
        settled = {id(a) for a, _ in dnd} | {id(a) for a, _ in later}
        buffer[:] = [a for a in buffer if id(a) not in settled]
        if not ready and camp is not None and camp.id in self._balance_pauses:
            self._pause_for_balance(camp)  # nothing of this batch was paid for: nothing to let go out first
        return ready

    def _prefetch(self, batch: list[Attempt], camp: Campaign) -> "_Prefetch":
        """Contacts and DND hits of a freshly claimed batch, read in one transaction instead of one per call."""
        numbers = {a.number for a in batch}
        ids = {a.contact_id for a in batch if a.contact_id is not None}
        cond = [DndList.scope == "account", DndList.account_id == camp.account_id]
        with db.session_scope(self.db_url) as s:
            contacts = {c.id: c for c in s.execute(sa.select(Contact).where(Contact.id.in_(ids))).scalars()} \
                if ids else {}
            where = sa.or_(sa.and_(*cond), DndList.id == camp.dnd_list_id) if camp.dnd_list_id else sa.and_(*cond)
            dnd = set(s.execute(sa.select(DndNumber.number).join(DndList, DndList.id == DndNumber.dnd_list_id)
                                .where(DndNumber.number.in_(numbers)).where(where)).scalars())
        return _Prefetch(account_id=camp.account_id, contacts=contacts, dnd=dnd)

    def _abandoned_recently(self, buffer: list[Attempt], camp: Campaign | None) -> set[str]:
        """Numbers of an agent campaign's batch abandoned within 72 hours (the redial rule; empty otherwise)."""
        if not _agent_dialing.is_agent_campaign(camp) or not buffer:
            return set()
        return self.agent_dialing.recently_abandoned(camp, {a.number for a in buffer})

    def _originate(self, a: Attempt, camp: Campaign | None, contact, req, node,
                   reserved_agent: str | None = None, talk_limit: int | None = None) -> Originate:
        if camp is not None:
            spec = _campaigns.call_spec(camp, contact, a.number, a.id)
            if reserved_agent and spec.agent is not None:
                spec.agent.reserved_agent_id = reserved_agent
            caller_id = camp.caller_id
            timeout = self.opts.originate_timeout
        else:
            from dialer.submit import request_spec

            spec = request_spec(req, a) if req is not None else None
            if spec is None:
                raise ValueError(f"attempt {a.id} has no call request")
            caller_id = spec.caller_id
            timeout = int((req.parameters or {}).get("originate_timeout") or self.opts.originate_timeout)
        return Originate(call_uuid=a.origination_uuid, number=a.number, gateway=self.opts.gateway,
                         caller_id=caller_id, spec=spec, ivr_address=self.cfg.ivr_address,
                         originate_timeout=timeout, key_prefix=self.key_prefix, worker_id=self.worker_id,
                         number_format=self.cfg.dialer_number_format, region=self.cfg.default_region,
                         extra_vars=_billing_calls.limit_vars(talk_limit))

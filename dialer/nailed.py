"""Nailed-up agents: the dialer keeps a persistent agent's channel up in its conference room.

A ``persistent`` agent (:mod:`dialer.agents`) takes its calls on one long call of its own: its phone is rung
once, answered, and sits in the conference room ``vaani_agent_<agent_id>`` (:func:`ivr.agent_legs.room_name`);
each customer the IVR runtime connects to it joins that room (:mod:`ivr.agent_call`). This module, one greenlet
of the dialer engine, is who makes that channel (docs/agents.md, "Nailed-up agents"):

* a persistent agent logged in and **ready** with no channel is paused (reason ``connecting``: no customer may
  be put in an empty room) and its endpoint originated into
  ``&conference(vaani_agent_<id>@default+flags{endconf})``; once answered the channel is recorded in its ACD
  state (:meth:`ivr.acd.Acd.set_channel`) and the agent is ready again;
* the channel's hangup (CHANNEL_HANGUP_COMPLETE carrying ``vaani_agent_channel``) clears it and pauses the agent
  (``channel_lost``; on a call: once the call ends, and that call's customer is hung up). An originate nobody
  answered pauses it ``no_answer``. Made ready again, the agent gets a new channel;
* a digit of AGENT_END_DTMF on the channel while the agent is on a call hangs the customer up (``uuid_kill``):
  the runtime then releases the agent into wrap-up as usual, and the agent stays in its room;
* a logged-out or deleted agent's channel is hung up.

One worker at a time does this (a Redis lease, as :meth:`dialer.agent_dialing.AgentDialing.owns` for a
campaign's pacing). What it originated is kept in Redis (``<p>:nailed:channels``, agent → uuid, node, whether
answered), so a worker taking the lease over knows the channels of the one before.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid as _uuid

import gevent
import sqlalchemy as sa

from dialer.originate import PREFIX_VAR, OriginateError, variables_block
from dialer.store import db
from dialer.store.models import Agent, AgentEvent
from freeswitch.inbound import ESLError
from ivr.acd import AcdError, AgentState
from ivr.agent_legs import CONNECTING, room_name
from ivr.number_format import dial_number

log = logging.getLogger(__name__)

#: The channel variable that names a channel as an agent's nailed-up channel (its value: the agent id).
AGENT_VAR = "vaani_agent_channel"
#: Pause reasons this module sets (CONNECTING, waiting for the channel, is the runtime's too: ivr.agent_legs).
CHANNEL_LOST, NO_ANSWER = "channel_lost", "no_answer"
#: Seconds the agent's phone may ring before the originate gives up.
RING_SECONDS = 30
#: How often the agents are looked at (seconds), and the lease's life without renewal.
TICK_SECONDS = 0.25
LEASE_SECONDS = 3.0
#: Persistent agents are re-read from SQL at most this often.
ROSTER_SECONDS = 2.0

_USER = re.compile(r"^user/[A-Za-z0-9_.+-]{1,64}(@[A-Za-z0-9_.-]{1,128})?$")
_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


def leg_for(endpoint: str, gateway: str, number_format: str, region: str) -> tuple[str, dict]:
    """The agent's endpoint as a dial string leg and the variables only that kind of leg gets.

    ``user/<id>`` (a SIP phone of ours) is rung as it is and asked to auto-answer; a phone number goes through
    the gateway in DIALER_NUMBER_FORMAT, as the dialer's originates write numbers, and is picked up by hand
    (no ``sip_auto_answer``: a carrier does not understand sofia's intercom parameter, see ivr/agent_legs.py).
    """
    endpoint = (endpoint or "").strip()
    if _USER.match(endpoint):
        return endpoint, {"sip_auto_answer": True}
    if _NUMBER.match(endpoint):
        return f"sofia/gateway/{gateway}/{dial_number(endpoint, number_format, region)}", {}
    raise OriginateError(f"cannot ring endpoint {endpoint!r} (user/<id> or a phone number)")


def originate_command(agent_id: str, endpoint: str, call_uuid: str, *, key_prefix: str, gateway: str,
                      number_format: str = "e164", region: str = "IN") -> str:
    """The ``originate`` that puts the agent's endpoint into its conference room (``bgapi`` argument)."""
    leg, extra = leg_for(endpoint, gateway, number_format, region)
    variables = {
        "origination_uuid": call_uuid,
        "originate_timeout": RING_SECONDS,
        PREFIX_VAR: key_prefix,  # the dialer's event filter passes the channel's events
        AGENT_VAR: agent_id,
        # FreeSWITCH puts channel variables on a DTMF event only for a channel with CF_VERBOSE_EVENTS
        # (switch_channel_event_set_extended_data), which only the verbose_events application sets: without it
        # the event filter on vaani_prefix drops the agent's digits. A "verbose_events" variable does nothing.
        "execute_on_answer": "verbose_events",
        # The stock conference profile's caller controls make '#' "hangup" (the member leaves the room, and
        # with it the agent's channel): the agent's digits are ours to read, not the conference's.
        "conference_controls": "none",
        **extra,
    }
    # endconf: when the agent's channel goes, the room goes, and a customer in it is hung up.
    return (f"originate {variables_block(variables)}{leg} "
            f"&conference({room_name(agent_id)}@default+flags{{endconf}})")


class Nailed:
    """The nailed-up channels of one dialer process's agents (see the module docs)."""

    def __init__(self, host):
        # ``host`` is the engine (dialer.engine.Dialer): its Redis, configuration, nodes and ACD.
        self.d = host
        self.acd = host.agent_dialing.acd
        self.redis = host.redis
        self.prefix = host.key_prefix
        self._roster: tuple[float, list[str]] = (0.0, [])
        self._checked: set[str] = set()  # channels found alive that this module did not originate

    # -- keys and the lease ----------------------------------------------------------------------------------
    @property
    def _channels_key(self) -> str:
        return f"{self.prefix}:nailed:channels"

    @property
    def _lease_key(self) -> str:
        return f"{self.prefix}:nailed:lease"

    def owns(self) -> bool:
        """Take or renew this worker's lease; False while another worker holds it."""
        ms = int(LEASE_SECONDS * 1000)
        if self.redis.set(self._lease_key, self.d.worker_id, nx=True, px=ms):
            return True
        if self.holds():
            self.redis.pexpire(self._lease_key, ms)
            return True
        return False

    def holds(self) -> bool:
        """Whether this worker holds the lease now (not renewed)."""
        holder = self.redis.get(self._lease_key)
        return holder is not None and holder.decode() == self.d.worker_id

    def _entries(self) -> dict[str, dict]:
        out = {}
        for agent, raw in self.redis.hgetall(self._channels_key).items():
            try:
                out[agent.decode()] = json.loads(raw)
            except ValueError:
                continue
        return out

    def _entry(self, agent_id: str) -> dict | None:
        raw = self.redis.hget(self._channels_key, agent_id)
        return json.loads(raw) if raw else None

    def _save(self, agent_id: str, entry: dict) -> None:
        self.redis.hset(self._channels_key, agent_id, json.dumps(entry))

    def _forget(self, agent_id: str, uuid: str) -> bool:
        """Drop the agent's entry if it is still that channel's; True when it was."""
        entry = self._entry(agent_id)
        if entry is None or entry.get("uuid") != uuid:
            return False
        self.redis.hdel(self._channels_key, agent_id)
        return True

    # -- the loop --------------------------------------------------------------------------------------------
    def run(self) -> None:
        """The engine's greenlet: look at every persistent agent each tick while this worker holds the lease."""
        while self.d.running:
            try:
                if self.owns():
                    self.tick()
            except Exception:  # noqa: BLE001 - one bad tick (Redis, SQL, a node down) must not end the loop
                log.warning("nailed-up agents: tick failed", exc_info=True)
            gevent.sleep(TICK_SECONDS)

    def tick(self) -> None:
        """One look: originate the channels missing, hang up those of agents who left."""
        entries = self._entries()
        roster = self._persistent_agents()
        for agent_id in roster:
            self._consider(agent_id, self.acd.state(agent_id), entries.get(agent_id))
        for agent_id, entry in entries.items():
            if agent_id not in roster:  # deleted, or no longer persistent
                self._hang_up_channel(agent_id, entry)

    def _persistent_agents(self) -> list[str]:
        at, ids = self._roster
        if time.monotonic() - at < ROSTER_SECONDS:
            return ids
        with db.session_scope(self.d.db_url) as s:
            ids = list(s.scalars(sa.select(Agent.id).where(Agent.persistent.is_(True), Agent.deleted_at.is_(None))))
        self._roster = (time.monotonic(), ids)
        return ids

    def _consider(self, agent_id: str, state: AgentState | None, entry: dict | None) -> None:
        if state is None or state.state == "logged_out":
            if entry is not None or (state is not None and state.channel):
                self._hang_up_channel(agent_id, entry, state)
            return
        if entry is not None:
            if not entry.get("answered") and time.time() - entry.get("at", 0) > RING_SECONDS + 10:
                # The originate's end was never seen (a node lost meanwhile): settle it as unanswered.
                self._failed(agent_id, entry["uuid"], "no outcome seen")
            elif entry.get("answered") and state.channel != entry["uuid"]:
                # Logging in again rewrites the ACD hash without the channel; the channel is still up.
                self._set(lambda: self.acd.set_channel(agent_id, entry["uuid"]))
            return
        if state.channel:
            if state.channel not in self._checked:
                node = self._find(state.channel)
                if node is None:
                    self._set(lambda: self.acd.set_channel(agent_id, None))
                    return  # looked at again next tick, with no channel
                self._checked.add(state.channel)
                self._save(agent_id, {"uuid": state.channel, "node": node, "answered": True, "at": time.time()})
            return
        if state.state in ("ready", "wrap_up") or (state.state == "paused" and state.reason == CONNECTING):
            self._originate(agent_id, state)

    def _find(self, uuid: str) -> str | None:
        """The node that has this channel, or None."""
        for name, client in self.d.nodes.clients.items():
            try:
                if client.uuid_exists(uuid):
                    return name
            except ESLError:
                continue
        return None

    def _originate(self, agent_id: str, state: AgentState) -> None:
        node = self.d.nodes.pick()
        client = self.d.nodes.client(node.name) if node is not None else None
        if client is None:
            return  # no node to ring it from now; tried again next tick
        uuid = str(_uuid.uuid4())
        try:
            command = originate_command(agent_id, state.endpoint, uuid, key_prefix=self.prefix,
                                        gateway=self.d.opts.gateway, number_format=self.d.cfg.dialer_number_format,
                                        region=self.d.cfg.default_region)
        except (OriginateError, ValueError) as exc:
            log.warning("agent %s: %s", agent_id, exc)
            self._pause(agent_id, "bad_endpoint", state)
            return
        if state.state != "paused":
            self._pause(agent_id, CONNECTING, state)
        # Saved before the originate: its events may come back before bgapi's reply does.
        self._save(agent_id, {"uuid": uuid, "node": node.name, "answered": False, "at": time.time()})
        try:
            client.bgapi(command, uuid)
        except ESLError as exc:
            log.warning("agent %s: originate not sent (%s); tried again", agent_id, exc)
            self._forget(agent_id, uuid)

    # -- events (from the listener) --------------------------------------------------------------------------
    def on_event(self, name: str, headers: dict, body: str) -> bool:
        """An event the listener received: True when it is a nailed-up channel's (then handled here, in the
        background), or any DTMF (no call attempt's business)."""
        if name == "BACKGROUND_JOB":
            if f"{AGENT_VAR}=" not in headers.get("Job-Command-Arg", ""):
                return False
            agent = re.search(rf"{AGENT_VAR}=([^,}}]+)", headers["Job-Command-Arg"]).group(1)
            job = headers.get("Job-UUID", "")
            if body.strip().startswith("+OK"):
                self._spawn(self._answered, agent, job)
            else:
                self._spawn(self._failed, agent, job, body.strip())
            return True
        agent = headers.get(f"variable_{AGENT_VAR}")
        if not agent:
            return name == "DTMF"
        uuid = headers.get("Unique-ID", "")
        if name == "CHANNEL_ANSWER":
            self._spawn(self._answered, agent, uuid)
        elif name == "CHANNEL_HANGUP_COMPLETE":
            self._spawn(self._hung_up, agent, uuid, headers.get("Hangup-Cause", ""))
        elif name == "DTMF" and headers.get("DTMF-Digit", "") in self.d.cfg.agent_end_dtmf:
            self._spawn(self._end_digit, agent, uuid)
        return True

    def _spawn(self, fn, *args) -> None:
        # The listener calls from the ESL reader: Redis and ESL work goes to its own greenlet. Only the lease
        # holder acts, so two workers never ready, pause or hang up twice.
        def run():
            try:
                if self.holds():
                    fn(*args)
            except Exception:  # noqa: BLE001
                log.warning("nailed-up agents: %s%s failed", fn.__name__, args, exc_info=True)
        gevent.spawn(run)

    def _answered(self, agent_id: str, uuid: str) -> None:
        entry = self._entry(agent_id)
        if entry is None or entry.get("uuid") != uuid or entry.get("answered"):
            return
        entry["answered"] = True
        self._save(agent_id, entry)
        state = self._set(lambda: self.acd.set_channel(agent_id, uuid))
        if state is not None and state.state == "paused" and state.reason == CONNECTING:
            state = self._set(lambda: self.acd.ready(agent_id))
            self._event(state, state.state if state else "ready", f"channel {uuid} up")

    def _failed(self, agent_id: str, uuid: str, why: str) -> None:
        if not self._forget(agent_id, uuid):
            return
        log.info("agent %s: its phone did not take the channel (%s)", agent_id, why)
        state = self.acd.state(agent_id)
        if state is not None and state.state == "paused" and state.reason == CONNECTING:
            self._pause(agent_id, NO_ANSWER, state)

    def _hung_up(self, agent_id: str, uuid: str, cause: str) -> None:
        entry = self._entry(agent_id)
        if entry is not None and entry.get("uuid") == uuid and not entry.get("answered"):
            self._failed(agent_id, uuid, cause)
            return
        self._forget(agent_id, uuid)
        self._checked.discard(uuid)
        state = self.acd.state(agent_id)
        if state is None or state.channel != uuid:
            return
        state = self._set(lambda: self.acd.set_channel(agent_id, None))
        if state is None or state.state == "logged_out":
            return
        if state.call:
            # Its room went with it (endconf); a customer reserved for it but not in the room yet would wait in
            # an empty one: hung up, and the runtime settles the agent.
            self._kill(entry, state.call)
        if state.state != "paused":  # an agent paused by hand keeps its reason
            self._pause(agent_id, CHANNEL_LOST, state, f"channel {uuid} ended ({cause})")

    def _end_digit(self, agent_id: str, uuid: str) -> None:
        state = self.acd.state(agent_id)
        if state is None or state.channel != uuid or state.state != "on_call" or not state.call:
            return  # a digit between calls, or on a channel not (or no longer) the agent's
        self._kill(self._entry(agent_id), state.call)

    def _kill(self, entry: dict | None, call_uuid: str) -> None:
        """``uuid_kill <call> NORMAL_CLEARING`` on the agent's node (its room, hence the customer, is there)."""
        client = self.d.nodes.client((entry or {}).get("node")) or next(iter(self.d.nodes.clients.values()), None)
        if client is None:
            return
        try:
            client.api(f"uuid_kill {call_uuid} NORMAL_CLEARING")
        except ESLError as exc:
            log.warning("could not hang up call %s: %s", call_uuid, exc)

    def _hang_up_channel(self, agent_id: str, entry: dict | None, state: AgentState | None = None) -> None:
        uuid = (entry or {}).get("uuid") or (state.channel if state is not None else None)
        if uuid:
            self._kill(entry, uuid)
            self._forget(agent_id, uuid)
        if state is not None and state.channel:
            self._set(lambda: self.acd.set_channel(agent_id, None))

    # -- state changes ---------------------------------------------------------------------------------------
    def _set(self, change) -> AgentState | None:
        try:
            return change()
        except AcdError as exc:  # the agent logged out meanwhile: nothing to record
            log.info("nailed-up agents: %s", exc)
            return None

    def _pause(self, agent_id: str, reason: str, state: AgentState, why: str = "") -> None:
        new = self._set(lambda: self.acd.pause(agent_id, reason)) or state
        # On a call the pause waits for its end (pending): the event says so, as dialer.agents' do.
        self._event(new, new.state, why or reason if not new.on_a_call else f"paused after call {new.call}: {reason}")

    def _event(self, state: AgentState | None, name: str, reason: str) -> None:
        """The change in SQL ``agent_events``, as dialer.agents writes the agents' own."""
        if state is None:
            return
        try:
            with db.session_scope(self.d.db_url) as s:
                s.add(AgentEvent(agent_id=state.agent_id, account_id=state.account_id, state=name,
                                 reason=reason[:200], campaign_ids=list(state.campaigns), call_uuid=state.call))
        except Exception:  # noqa: BLE001 - the history must not stop the channel's handling
            log.warning("agent %s: event %s not recorded", state.agent_id, name, exc_info=True)

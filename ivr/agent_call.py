"""An agent campaign's call: the built-in app the runtime runs instead of the interpreter when ``spec.agent`` is set.

:meth:`AgentCallApp.run`, on the answered customer's channel (docs/agents.md, "Connecting a call"):

1. answering-machine detection when the campaign asks for it (:mod:`ivr.amd`); a machine is hung up on, or
   left the campaign's message after its beep;
2. a person (or a "not sure"): the longest-idle available agent is reserved in Redis (:class:`ivr.acd.Acd`),
   waiting at most ``connect_wait`` (2 s); preview's chosen agent first;
3. nobody in time: the call is abandoned — the safe-harbour message, then hangup;
4. an agent: the screen pop (:mod:`ivr.screen_pop`), then the agent is rung (``bridge``) or, when nailed up,
   the customer joins the agent's conference room; an agent who does not answer is paused (``no_answer``)
   and the next available agent is tried;
5. whoever hangs up, the agent is released into wrap-up (or the reservation is given back) and the call's
   facts carry the agent, the queue wait, the connected/ended times, abandonment and the AMD verdict.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import gevent
import gevent.event
from redis.exceptions import RedisError

import kml
from freeswitch.outbound import CallGone, CommandError
from ivr import amd, builtin, screen_pop
from ivr.acd import Acd, AcdError, AgentState
from ivr.agent_legs import CONNECTING, agent_dial_string, room_name, spoken_number
from ivr.call_spec import MACHINE_ACTIONS
from ivr.execute import InstructionError, event_time

log = logging.getLogger(__name__)

#: Agents tried for one call (the first plus those tried after one did not answer).
MAX_AGENTS_TRIED = 3
#: What the customer hears while an agent's phone rings.
RINGBACK = "%(2000,4000,440,480)"
DEFAULT_SAFE_HARBOUR = ("Sorry we missed you. This call was from {caller_id}, and no agent is free to take it "
                        "right now. To reach us, please call {caller_id}. Goodbye.")


class _SpecProblem(Exception):
    """The agent part of the call spec cannot be run (no campaign, a machine message missing...)."""


def acd_for(runtime) -> Acd:
    """The runtime's one :class:`Acd` (its Lua scripts registered once per process)."""
    acd = getattr(runtime, "_acd", None)
    if acd is None:
        if runtime.redis is None:
            raise _SpecProblem("no Redis: agents cannot be reached")
        acd = runtime._acd = Acd(runtime.redis, runtime.settings.key_prefix)
    return acd


@dataclasses.dataclass
class _Options:
    campaign_id: str
    amd: bool
    machine_action: str
    connect_wait: float
    wrap_up_seconds: int


class AgentCallApp:
    """Runs one agent campaign's call on a :class:`ivr.call.Call` that has been set up."""

    def __init__(self, call):
        self.call = call
        self.session = call.session
        self.spec = call.spec
        self.facts = call.facts
        self.executor = call.executor
        self.acd: Acd | None = None
        self.agent: AgentState | None = None
        self.connected = False
        self._wrap_up = 10
        self._bridge_ready = False
        self._pops: list[gevent.Greenlet] = []
        self._bridged = gevent.event.Event()
        self._connected_at: float | None = None  # the switch's clock, as the facts' other times
        self._ended_at: float | None = None
        self._recording: tuple[str, str] | None = None
        self.session.listeners.append(self._on_event)

    # -- the call -------------------------------------------------------------------------------------------

    def run(self) -> None:
        """Carry the call to its end; CallGone when the customer hangs up, as the interpreter does."""
        self.call.notify("request", f"built-in agent app (campaign {self.spec.agent.campaign_id})")
        try:
            opts = self._options()
            self._wrap_up = opts.wrap_up_seconds
            self.acd = acd_for(self.call.runtime)
            self._run(opts)
        except (_SpecProblem, AcdError, RedisError) as exc:
            # A spec we cannot run, or Redis down: a person who answered still hears who called.
            self.call._error(f"agent call: {exc}" if not isinstance(exc, RedisError)
                             else f"agent call: agents unavailable ({type(exc).__name__}: {exc})")
            self.call.final_status = "error"
            self._abandon()
        finally:
            self._settle()

    def _options(self) -> _Options:
        a = self.spec.agent
        if not isinstance(a.campaign_id, str) or not a.campaign_id:
            raise _SpecProblem(f"no campaign id ({a.campaign_id!r})")
        machine_action = a.machine_action
        if machine_action not in MACHINE_ACTIONS:
            self.call._error(f"agent call: machine_action {machine_action!r} is not one of "
                             f"{', '.join(MACHINE_ACTIONS)}; hanging up on machines")
            machine_action = "hangup"
        if machine_action == "message" and a.message is None:
            self.call._error("agent call: machine_action 'message' without a message; hanging up on machines")
            machine_action = "hangup"
        return _Options(a.campaign_id, bool(a.amd), machine_action,
                        _number(self.call, "connect_wait", a.connect_wait, 2.0, 0.0, 30.0),
                        int(_number(self.call, "wrap_up_seconds", a.wrap_up_seconds, 10, 0, 86400)))

    def _run(self, opts: _Options) -> None:
        self.call._ensure_answered()
        if opts.amd:
            result, detail = amd.detect(self.session)
            self.facts.amd_result = result
            self.call.notify("amd", f"answering-machine detection: {result} ({detail})")
            if result == amd.MACHINE:
                self._machine(opts)
                return
        verdict_at = time.monotonic()
        deadline = verdict_at + opts.connect_wait
        for attempt in range(MAX_AGENTS_TRIED):
            agent = self._reserve(opts, deadline, first=attempt == 0)
            if agent is None:
                break
            self.agent = agent
            if self.session.hung_up:
                raise CallGone(self.session.hangup_cause)
            self.call.notify("agent", f"agent {agent.agent_id} reserved ({agent.endpoint}"
                                      f"{', nailed up' if agent.persistent else ''})")
            if self.spec.agent.agent_url:
                body = screen_pop.payload(self.spec, self.session.uuid, agent.agent_id, agent.endpoint)
                self._pops.append(screen_pop.post(self.call.runtime.fetcher.pool, self.spec.agent.agent_url, body,
                                                  self.call._error))
            if self._connect(agent, verdict_at):
                return
        self._abandon()

    def _reserve(self, opts: _Options, deadline: float, first: bool) -> AgentState | None:
        uuid = self.session.uuid
        chosen = self.spec.agent.reserved_agent_id
        if first and chosen:
            if self.acd.reserve_agent(chosen, uuid):
                state = self.acd.state(chosen)
                if state is not None:
                    return state
            # The agent who accepted the preview has gone (logged out, paused): any ready agent will do.
            self.call.notify("agent", f"preview agent {chosen} is not available; any ready agent")
        left = deadline - time.monotonic()
        if left <= 0:
            # Past the 2 s (an agent did not answer): only an agent available right now, no more waiting.
            return self.acd.reserve(opts.campaign_id, uuid)
        return self.acd.wait_reserve(opts.campaign_id, uuid, left)

    # -- reaching the agent -----------------------------------------------------------------------------------

    def _connect(self, agent: AgentState, verdict_at: float) -> bool:
        """Ring or join the reserved agent; True once the call is over with them, False to try the next."""
        if agent.persistent:
            return self._join(agent, verdict_at)
        try:
            dial_string = agent_dial_string(agent, self.spec, self.executor.config, self.session.uuid)
        except ValueError as exc:
            self.call._error(str(exc))
            self._drop(agent, "bad_endpoint")
            return False
        if not self._bridge_ready:
            # One multiset for the call: the agent hanging up must come back here, not hang the customer up
            # before the wrap-up is set.
            self.session.execute("multiset", f"hangup_after_bridge=false ringback={RINGBACK} "
                                             f"transfer_ringback={RINGBACK}")
            self._bridge_ready = True
        self._start_recording()
        self.call.notify("heard", f"ringing agent {agent.agent_id}")
        self._bridged.clear()
        done = self.session.execute_async("bridge", dial_string)
        gevent.wait([done, self._bridged], count=1)
        if self._bridged.is_set():
            self._on_connected(agent, verdict_at)
        event = done.get()
        if self.connected:
            self._ended_at = self._ended_at or event_time(event) or None
            self.call.notify("heard", f"agent {agent.agent_id} left the call")
            self._hang_up()
            return True
        cause = (event.headers.get("variable_originate_disposition") or event.headers.get("variable_DIALSTATUS")
                 or "NO_ANSWER")
        self.facts.dial_results.append({"number": agent.endpoint, "status": "not_answered", "billsec": 0})
        self.call.notify("agent", f"agent {agent.agent_id} did not answer ({cause})")
        self._drop(agent, "no_answer")
        return False

    def _join(self, agent: AgentState, verdict_at: float) -> bool:
        if not agent.channel:
            # Ready before the dialer had its channel up (it pauses such an agent, but a call may come first):
            # the room is empty. Paused as waiting for its channel, which the dialer then brings up.
            self.call.notify("agent", f"agent {agent.agent_id} has no channel yet")
            self._drop(agent, CONNECTING)
            return False
        try:
            alive = self.session.api(f"uuid_exists {agent.channel}").strip() == "true"
        except CommandError:
            alive = False
        if not alive:
            # Its nailed-up channel is gone: the room would be empty and the customer would hear nothing.
            self.call.notify("agent", f"agent {agent.agent_id}'s channel {agent.channel} is gone")
            self._drop(agent, "no_channel")
            return False
        self._start_recording()
        self._on_connected(agent, verdict_at)
        room = room_name(agent.agent_id)
        self.call.notify("heard", f"conference room {room} (agent {agent.agent_id})")
        # The stock profile's caller controls would have a customer's '#' leave the room (and '0' mute them).
        self.session.execute("set", "conference_controls=none")
        self.session.execute("conference", f"{room}@default")
        # The conference app returned with the customer still here: the agent's side ended the room or
        # kicked the customer; the call is over.
        self._hang_up()
        return True

    def _on_connected(self, agent: AgentState, verdict_at: float) -> None:
        self.connected = True
        self.facts.agent_id = agent.agent_id
        self.facts.queue_wait_ms = round((time.monotonic() - verdict_at) * 1000)
        self.facts.agent_connected_at = self._connected_at or time.time()
        try:
            self.acd.connected(agent.agent_id, self.session.uuid)
        except AcdError as exc:  # e.g. the agent logged out in the same moment; the conversation goes on
            self.call._error(f"agent call: {exc}")
        self.call.notify("agent", f"connected to agent {agent.agent_id} after {self.facts.queue_wait_ms} ms")

    def _drop(self, agent: AgentState, reason: str) -> None:
        """An agent who could not be reached: paused with ``reason`` and the reservation given back."""
        try:
            # A pause asked for while reserved is kept as pending; giving the reservation back applies it, so
            # no other call can take the agent in between.
            self.acd.pause(agent.agent_id, reason)
            self.acd.unreserve(agent.agent_id, self.session.uuid)
        except AcdError as exc:
            self.call._error(f"agent call: {exc}")
        self.agent = None

    # -- no agent, or a machine -------------------------------------------------------------------------------

    def _abandon(self) -> None:
        """The safe-harbour message (who called, a number to call back), then hangup."""
        if self.session.hung_up:
            return
        self.facts.abandoned = True
        a = self.spec.agent
        self.call.notify("agent", "no agent available: abandoned, safe-harbour message")
        if a.safe_harbour_url:
            try:
                self.executor.run(kml.Play(url=a.safe_harbour_url))
                self._hang_up()
                return
            except InstructionError as exc:  # the recording is missing: the person must still be told
                self.call._error(f"safe-harbour message: {exc}")
        if self.session.hung_up:
            return
        self.executor.run(kml.Speak(text=self._safe_harbour_text()))
        self._hang_up()

    def _safe_harbour_text(self) -> str:
        values = {k: "" if v is None else str(v) for k, v in (self.spec.fields or {}).items()}
        values["caller_id"] = spoken_number(self.spec.caller_id)
        text = self.spec.agent.safe_harbour_text
        if text:
            try:
                return kml.substitute(text, values)
            except Exception as exc:  # noqa: BLE001 - a bad template must not leave the person unanswered
                self.call._error(f"safe-harbour text: {exc}; the default is spoken")
        return kml.substitute(DEFAULT_SAFE_HARBOUR, values)

    def _machine(self, opts: _Options) -> None:
        if opts.machine_action == "message":
            outcome = amd.wait_for_beep(self.session, self.call._hung_up)
            self.call.notify("amd", f"machine: {outcome}, leaving the message")
            spec = dataclasses.replace(self.spec, announcement=self.spec.agent.message, agent=None)
            try:
                app = builtin.builtin_app(spec)
            except (ValueError, kml.KmlError) as exc:
                self.call._error(f"machine message: {exc}")
            else:
                for instr in app.instructions:
                    if self.session.hung_up:
                        break
                    try:
                        self.executor.run(instr)
                    except InstructionError as exc:
                        self.call._error(f"machine message: {exc}")
        self._hang_up()

    # -- bookkeeping ---------------------------------------------------------------------------------------------

    def _hang_up(self) -> None:
        if not self.session.hung_up:
            self.call.ended_by_platform = True
            self.session.hangup()

    def _start_recording(self) -> None:
        if not self.spec.agent.record or self._recording is not None:
            return
        path, url = self.executor._recording_path("agent", "wav")
        self.session.execute("multiset", "RECORD_STEREO=true")
        self.session.execute("record_session", path)
        self._recording = (path, url)

    def _on_event(self, event) -> None:
        name = event.name
        if name == "CHANNEL_BRIDGE":
            self._connected_at = event_time(event) or None
            self._bridged.set()
        elif name == "CHANNEL_EXECUTE" and event.headers.get("Application") == "conference":
            self._connected_at = event_time(event) or None
            if self.facts.agent_connected_at is not None:
                self.facts.agent_connected_at = self._connected_at or self.facts.agent_connected_at
        elif name in ("CHANNEL_UNBRIDGE", "CHANNEL_HANGUP") and self.connected and self._ended_at is None:
            self._ended_at = event_time(event) or None

    def _settle(self) -> None:
        """Release the agent (or give the reservation back), finish the recording and the facts."""
        agent, uuid = self.agent, self.session.uuid
        if agent is not None:
            try:
                if self.connected:
                    # release_call, not release: the dialer's release on the hangup event (its safety net) may
                    # get there first on a loaded machine, and then the agent is in this same wrap-up already.
                    self.acd.release_call(uuid, self._wrap_up)
                    self.facts.wrap_up_seconds = self._wrap_up
                else:
                    self.acd.unreserve(agent.agent_id, uuid)
            except Exception as exc:  # noqa: BLE001 - the dialer's release_call on hangup is the safety net
                self.call._error(f"agent call: releasing agent {agent.agent_id}: {exc}")
        if self.connected:
            self.facts.agent_ended_at = self._ended_at or time.time()
        if self._recording is not None:
            path, url = self._recording
            if not self.session.hung_up:
                try:
                    self.session.execute("stop_record_session", path)
                except (CallGone, CommandError):
                    pass
            talk = 0
            if self.facts.agent_connected_at and self.facts.agent_ended_at:
                talk = max(0, int((self.facts.agent_ended_at - self.facts.agent_connected_at) * 1000))
            self.facts.recordings.append({"name": url.rsplit("/", 1)[-1], "url": url, "duration_ms": talk})
        if self._pops:
            # The CRM's answer is reported with the call; it never holds the call, only (briefly) its facts.
            gevent.joinall(self._pops, timeout=screen_pop.CONNECT_TIMEOUT)
        try:
            self.session.listeners.remove(self._on_event)
        except ValueError:
            pass


def _number(call, name: str, value, default: float, low: float, high: float) -> float:
    """``value`` as a number within [low, high]; otherwise ``default``, reported as an app error."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
        if low <= number <= high:
            return number
    except (TypeError, ValueError):
        pass
    call._error(f"agent call: {name} {value!r} is not between {low:g} and {high:g}; using {default:g}")
    return default

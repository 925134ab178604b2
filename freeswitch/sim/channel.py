"""A simulated channel: its caller profile (profile.py), variables, states and the events it fires.

The state machine follows FreeSWITCH's (switch_channel.c, switch_core_state_machine.c):
running states CS_INIT → CS_ROUTING → CS_CONSUME_MEDIA/CS_EXECUTE → CS_HANGUP →
CS_REPORTING → CS_DESTROY, call states DOWN → RINGING/EARLY → ACTIVE → HANGUP,
and the event sequence a real 1.10 fires for each step.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Iterable

import gevent
import gevent.event
import gevent.queue

from freeswitch.sim import profile as profiles
from freeswitch.sim import sofia
from freeswitch.sim.events import SimEvent
from freeswitch.sim.profile import Profile  # noqa: F401 - the caller profile; importers find it here

if TYPE_CHECKING:  # pragma: no cover
    from freeswitch.sim.core import Switch

STATE_NUMBERS = {
    "CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4, "CS_EXCHANGE_MEDIA": 5,
    "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8, "CS_RESET": 9, "CS_HANGUP": 10, "CS_REPORTING": 11,
    "CS_DESTROY": 12, "CS_NONE": 13,
}
CALLSTATE_NUMBERS = {
    "DOWN": 0, "DIALING": 1, "RINGING": 2, "EARLY": 3, "ACTIVE": 4, "HELD": 5, "RING_WAIT": 6, "HANGUP": 7, "UNHELD": 8,
}

# switch_channel.c CAUSE_CHART: name → Q.850 code.
Q850 = {
    "NONE": 0, "UNALLOCATED_NUMBER": 1, "NO_ROUTE_TRANSIT_NET": 2, "NO_ROUTE_DESTINATION": 3, "CHANNEL_UNACCEPTABLE": 6,
    "CALL_AWARDED_DELIVERED": 7, "NORMAL_CLEARING": 16, "USER_BUSY": 17, "NO_USER_RESPONSE": 18, "NO_ANSWER": 19,
    "SUBSCRIBER_ABSENT": 20, "CALL_REJECTED": 21, "NUMBER_CHANGED": 22, "REDIRECTION_TO_NEW_DESTINATION": 23,
    "EXCHANGE_ROUTING_ERROR": 25, "DESTINATION_OUT_OF_ORDER": 27, "INVALID_NUMBER_FORMAT": 28, "FACILITY_REJECTED": 29,
    "RESPONSE_TO_STATUS_ENQUIRY": 30, "NORMAL_UNSPECIFIED": 31, "NORMAL_CIRCUIT_CONGESTION": 34,
    "NETWORK_OUT_OF_ORDER": 38, "NORMAL_TEMPORARY_FAILURE": 41, "SWITCH_CONGESTION": 42, "ACCESS_INFO_DISCARDED": 43,
    "REQUESTED_CHAN_UNAVAIL": 44, "PRE_EMPTED": 45, "FACILITY_NOT_SUBSCRIBED": 50, "OUTGOING_CALL_BARRED": 52,
    "INCOMING_CALL_BARRED": 54, "BEARERCAPABILITY_NOTAUTH": 57, "BEARERCAPABILITY_NOTAVAIL": 58,
    "SERVICE_UNAVAILABLE": 63, "BEARERCAPABILITY_NOTIMPL": 65, "CHAN_NOT_IMPLEMENTED": 66,
    "FACILITY_NOT_IMPLEMENTED": 69, "SERVICE_NOT_IMPLEMENTED": 79, "INVALID_CALL_REFERENCE": 81,
    "INCOMPATIBLE_DESTINATION": 88, "INVALID_MSG_UNSPECIFIED": 95, "MANDATORY_IE_MISSING": 96,
    "MESSAGE_TYPE_NONEXIST": 97, "WRONG_MESSAGE": 98, "IE_NONEXIST": 99, "INVALID_IE_CONTENTS": 100,
    "WRONG_CALL_STATE": 101, "RECOVERY_ON_TIMER_EXPIRE": 102, "MANDATORY_IE_LENGTH_ERROR": 103,
    "PROTOCOL_ERROR": 111, "INTERWORKING": 127, "SUCCESS": 142, "ORIGINATOR_CANCEL": 487, "CRASH": 500,
    "SYSTEM_SHUTDOWN": 501, "LOSE_RACE": 502, "MANAGER_REQUEST": 503, "BLIND_TRANSFER": 600,
    "ATTENDED_TRANSFER": 601, "ALLOTTED_TIMEOUT": 602, "USER_CHALLENGE": 603, "MEDIA_TIMEOUT": 604,
    "PICKED_OFF": 605, "USER_NOT_REGISTERED": 606, "PROGRESS_TIMEOUT": 607, "INVALID_GATEWAY": 608,
    "GATEWAY_DOWN": 609, "INVALID_URL": 610, "INVALID_PROFILE": 611, "NO_PICKUP": 612, "SRTP_READ_ERROR": 613,
    "BOWOUT": 614, "BUSY_EVERYWHERE": 615, "DECLINE": 616, "DOES_NOT_EXIST_ANYWHERE": 617, "NOT_ACCEPTABLE": 618,
    "UNWANTED": 619, "NO_IDENTITY": 620, "BAD_IDENTITY_INFO": 621, "UNSUPPORTED_CERTIFICATE": 622,
    "INVALID_IDENTITY": 623, "STALE_DATE": 624, "REJECT_ALL": 625,
}
_CODE_TO_CAUSE = {v: k for k, v in Q850.items()}

# switch_channel_event_set_extended_data adds the variable_* headers only to these events (CHANNEL_STATE,
# CHANNEL_CALLSTATE, CHANNEL_OUTGOING and DTMF carry none) — unless the channel has CF_VERBOSE_EVENTS (the
# ``verbose_events`` application: Channel.verbose_events) or the switch runs ``fsctl verbose_events on``.
VERBOSE_EVENTS = frozenset("""
CHANNEL_CREATE CHANNEL_ORIGINATE CHANNEL_UUID CHANNEL_ANSWER CHANNEL_PARK CHANNEL_UNPARK CHANNEL_BRIDGE
CHANNEL_UNBRIDGE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE REQUEST_PARAMS
CHANNEL_DATA CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_DESTROY SESSION_HEARTBEAT API RECORD_START RECORD_STOP
PLAYBACK_START PLAYBACK_STOP CALL_UPDATE MEDIA_BUG_START MEDIA_BUG_STOP CHANNEL_HOLD CHANNEL_UNHOLD TEXT CUSTOM
""".split())


def normalize_cause(value: str | None, default: str = "NORMAL_CLEARING") -> str:
    """A hangup cause name from a name or a Q.850 number (as ``uuid_kill``/``hangup`` accept); unknown → default."""
    if not value:
        return default
    v = value.strip().upper()
    if v.isdigit():
        return _CODE_TO_CAUSE.get(int(v), default)
    return v if v in Q850 else default


class Channel:
    """One leg. Fires its events through the switch; apps and callers act on it from greenlets."""

    def __init__(self, switch: "Switch", uuid: str, name: str, profile: Profile, session_id: int):
        self.switch = switch
        self.uuid = uuid
        self.name = name
        self.profile = profile
        self.session_id = session_id
        self.state = "CS_NONE"       # the running state (Channel-State)
        self.state_num = 1           # the state it is in or entering (Channel-State-Number)
        self.callstate = "DOWN"
        self.answered = False
        self.early = False
        self.hit_dialplan = False
        self.hangup_cause: str | None = None
        self.variables: dict[str, str] = {}
        now = switch.clock.now_us()
        # The current caller profile's timetable (profile.timetable): a new profile (a transfer, a
        # uuid_bridge) starts its transfer and bridge times again at 0.
        self.created_us = now
        self.answered_us = 0
        self.progress_us = 0
        self.progress_media_us = 0
        self.hangup_us = 0
        self.bridged_us = 0
        self.transfer_us = 0
        self.codec = ("PCMU", "8000", "64000")
        self.hung_up = gevent.event.Event()        # set once CHANNEL_HANGUP has fired
        self.reported = gevent.event.Event()       # set once CHANNEL_HANGUP_COMPLETE has fired
        self.destroyed = gevent.event.Event()      # set once CHANNEL_DESTROY has fired
        self._holders: set = set()                 # read locks: outbound sockets, a bridge's A leg on its B leg
        self._released = gevent.event.Event()
        self.answered_evt = gevent.event.Event()
        self.dtmf_queue: gevent.queue.Queue = gevent.queue.Queue()  # digits the far end sent, for apps to read
        self.dtmf_evt = gevent.event.Event()
        self.break_evt = gevent.event.Event()      # uuid_break: stop the current media app
        self.messages: gevent.queue.Queue = gevent.queue.Queue()   # sendmsg events queued for the channel
        self.current_app: str | None = None
        self.bridged_to: "Channel | None" = None
        self.other_type: str | None = None         # the profile clone events show (last_profile_type)
        self.behaviour = None                      # the far end's script (scenario.Behaviour)
        self.caller_speaking_until = 0.0           # simulated time the far end stops talking (for record)
        self.controlled = False                    # an outbound socket holds the channel
        self.greenlets: list[gevent.Greenlet] = []
        self.last_dtmf_duration = "2000"
        self.dtmf_log: list[str] = []              # digits received, for digits_dialed
        self.app_log: list[tuple[str, str | None]] = []  # applications run (name, data), for last_app
        self.has_profile = True                    # a caller profile is attached (not yet in CS_NEW)
        # A transfer (switch_ivr_session_transfer, uuid_bridge) replaces what the channel runs: the
        # applications to run instead, the states to pass through first, and a count that tells a
        # bridge partner its peer has left even after the peer has started its new applications.
        self.transfer_to: list | None = None
        self.transfer_states: tuple[str, ...] = ()
        self.transfers = 0
        self.moved = gevent.event.Event()          # set by the next transfer (which puts a fresh one here)
        self.hangup_hooks: list = []               # called with the channel right after CHANNEL_HANGUP
        self.verbose_events = False                # CF_VERBOSE_EVENTS: every event carries the variables

    # -- read locks on the session (its DESTROY waits for them) ------------

    def read_lock(self, holder) -> None:
        """``holder`` (an outbound socket, a bridge's A leg) holds a read lock on the session."""
        self._holders.add(holder)
        self._released.clear()

    def read_unlock(self, holder) -> None:
        """``holder`` lets the session go."""
        self._holders.discard(holder)
        if not self._holders:
            self._released.set()

    hold_listener = read_lock        # the names the socket code uses
    release_listener = read_unlock

    # -- variables --------------------------------------------------------

    def set_var(self, name: str, value) -> None:
        """Set a channel variable; like FreeSWITCH, a reset variable moves to the end; None or "" unsets."""
        variables = self.variables
        variables.pop(name, None)
        if value is not None and value != "":
            variables[name] = value if value.__class__ is str else str(value)

    def get_var(self, name: str, default: str | None = None) -> str | None:
        """A channel variable, or ``default``."""
        return self.variables.get(name, default)

    def set_vars(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Set several variables in order (each as :meth:`set_var` does)."""
        variables = self.variables
        pop = variables.pop
        for name, value in pairs:
            pop(name, None)
            if value is not None and value != "":
                variables[name] = value if value.__class__ is str else str(value)

    # -- headers ----------------------------------------------------------

    @property
    def answer_state(self) -> str:
        """Answer-State as FreeSWITCH reports it."""
        if self.hangup_cause is not None:
            return "hangup"
        if self.answered:
            return "answered"
        if self.early:
            return "early"
        return "ringing"

    @property
    def is_up(self) -> bool:
        """True while the channel has not hung up."""
        return self.hangup_cause is None

    def profile_headers(self, prefix: str) -> list[tuple[str, str]]:
        """switch_caller_profile_event_set_data on the channel's own (current) caller profile."""
        p = self.profile
        return profiles.headers(p, prefix, self.uuid, self.name, profiles.timetable(self), str(p.index), p.direction)

    def basic_headers(self) -> list[tuple[str, str]]:
        """switch_channel_event_set_basic_data."""
        direction = self.profile.direction
        h = [
            ("Channel-State", self.state),
            ("Channel-Call-State", self.callstate),
            ("Channel-State-Number", str(self.state_num)),
            ("Channel-Name", self.name),
            ("Unique-ID", self.uuid),
            ("Call-Direction", direction),
            ("Presence-Call-Direction", direction),
            ("Channel-HIT-Dialplan", "true" if self.hit_dialplan else "false"),
            ("Channel-Call-UUID", self.variables.get("call_uuid", self.uuid)),
            ("Answer-State", self.answer_state),
        ]
        if self.hangup_cause is not None:
            h.append(("Hangup-Cause", self.hangup_cause))
        if self.variables.get("read_codec") is None:
            return h  # no media negotiated yet: switch_channel_event_set_basic_data finds no read codec
        name, rate, bits = self.codec
        h += [
            ("Channel-Read-Codec-Name", name), ("Channel-Read-Codec-Rate", rate), ("Channel-Read-Codec-Bit-Rate", bits),
            ("Channel-Write-Codec-Name", name), ("Channel-Write-Codec-Rate", rate), ("Channel-Write-Codec-Bit-Rate", bits),
        ]
        return h

    def event_headers(self, with_vars: bool = True) -> list[tuple[str, str]]:
        """switch_channel_event_set_data: basic data, caller profile, other leg, variables."""
        h = self.basic_headers()
        if self.has_profile:
            h += self.profile_headers("Caller")
        # The originator/originatee clone set last, for as long as the profile keeps it (profile.py).
        other = profiles.other_leg(self)
        if other is not None:
            h.append(("Other-Type", other[0]))
            h += other[1].headers("Other-Leg")
        if with_vars:
            variables = self.variables
            h += zip(map("variable_".__add__, variables), variables.values())
        return h

    # -- firing -----------------------------------------------------------

    def fire(self, name: str, extra: list | tuple = (), pre: list | tuple = (), body: str | None = None) -> None:
        """Fire a channel event (built only if some listener wants it)."""
        sw = self.switch
        if not sw.wants(name, self.uuid):
            return
        headers = sw.common(name)
        headers += pre
        headers += self.event_headers(name in VERBOSE_EVENTS or self.verbose_events or sw.verbose_events)
        headers += extra
        sw.deliver(SimEvent(name, headers, body, self.uuid))

    def set_state(self, state: str) -> None:
        """Enter a running state and fire CHANNEL_STATE."""
        self.state = state
        self.state_num = STATE_NUMBERS[state]
        self.fire("CHANNEL_STATE")

    def set_callstate(self, callstate: str) -> None:
        """Change the call state and fire CHANNEL_CALLSTATE (with the state it left)."""
        old = self.callstate
        if old == callstate:
            return
        self.callstate = callstate
        self.fire("CHANNEL_CALLSTATE", pre=[
            ("Original-Channel-Call-State", old),
            ("Channel-Call-State-Number", str(CALLSTATE_NUMBERS[callstate])),
        ])

    # -- call progress ----------------------------------------------------

    def ring(self) -> None:
        """180 Ringing: CHANNEL_PROGRESS, then CHANNEL_CALLSTATE RINGING (switch_channel_mark_ring_ready)."""
        if self.progress_us or not self.is_up:
            return
        self.progress_us = self.switch.clock.now_us()
        profiles.ringing(self)
        self.set_var("progress_stamp", _stamp(self.progress_us))
        self.fire("CHANNEL_PROGRESS")
        self.set_callstate("RINGING")

    def pre_answer(self) -> None:
        """183 Session Progress: CHANNEL_PROGRESS_MEDIA, then CHANNEL_CALLSTATE EARLY (mark_pre_answered)."""
        if self.early or self.answered or not self.is_up:
            return
        self.early = True
        self._media_up()
        self.progress_media_us = self.switch.clock.now_us()
        profiles.early_media(self)
        self.set_var("progress_media_stamp", _stamp(self.progress_media_us))
        self.fire("CHANNEL_PROGRESS_MEDIA")
        self.set_callstate("EARLY")

    def answer(self) -> bool:
        """200 OK: CHANNEL_ANSWER, CHANNEL_CALLSTATE ACTIVE. False when already hung up."""
        if not self.is_up:
            return False
        if self.answered:
            return True
        self.answered = True
        self._media_up()
        self.answered_us = self.switch.clock.now_us()
        self.set_var("answer_stamp", _stamp(self.answered_us))
        self.fire("CHANNEL_ANSWER")
        self.set_var("endpoint_disposition", "ANSWER")  # switch_channel_perform_mark_answered sets it after the event
        self.set_callstate("ACTIVE")
        self.answered_evt.set()
        from freeswitch.sim import hooks

        hooks.execute_on(self, "execute_on_answer")
        hooks.api_on(self, "api_on_answer")
        return True

    def _media_up(self) -> None:
        if self.variables.get("read_codec") is None:
            from freeswitch.sim.calls import set_codec_vars

            set_codec_vars(self)

    def flip_cid(self) -> None:
        """What an originated leg does once it is up: caller and callee ids swap, CALL_UPDATE fires."""
        p = self.profile
        self.set_var("pre_transfer_caller_id_number", p.caller_id_number)
        p.caller_id_name, p.callee_id_name = p.callee_id_name, p.caller_id_name
        p.caller_id_number, p.callee_id_number = p.callee_id_number, p.caller_id_number
        self.set_var("channel_cid_flipped", "yes")
        self.hit_dialplan = True
        self.fire("CALL_UPDATE", pre=[("Direction", "RECV")])

    def hangup(self, cause: str = "NORMAL_CLEARING", remote: bool = False) -> bool:
        """Hang up (once): CHANNEL_HANGUP now; the rest of the teardown runs in :meth:`finish`.

        ``remote`` says the far end ended the call (a BYE, a refusal, a cancel), which
        sofia records in ``sip_hangup_disposition``.
        """
        if self.hangup_cause is not None:
            return False
        self.hangup_cause = cause
        self.state_num = STATE_NUMBERS["CS_HANGUP"]
        self.hangup_us = self.switch.clock.now_us()
        if remote:
            sofia.far_end_hung_up(self)
        self.fire("CHANNEL_HANGUP")
        if remote:
            sofia.after_far_end_hangup(self)
        self.hung_up.set()
        self.break_evt.set()
        self.dtmf_evt.set()
        self.answered_evt.set()
        # State-change hooks (switch_core_event_hook_add_state_change) see CS_HANGUP before the
        # session's other waiters run: att_xfer completes its transfer from one.
        for hook in list(self.hangup_hooks):
            hook(self)
        self.switch.schedule_teardown(self)
        return True

    def finish(self) -> None:
        """The teardown after hangup: CS_HANGUP, HANGUP callstate, CS_REPORTING, HANGUP_COMPLETE, DESTROY."""
        if self.destroyed.is_set():
            return
        self.set_state("CS_HANGUP")
        # switch_core_session_hangup_state: the cause variables, then the call state, then the endpoint's
        # on_hangup (sofia's BYE or CANCEL).
        self.set_vars([("hangup_cause", self.hangup_cause), ("hangup_cause_q850", str(Q850.get(self.hangup_cause, 0)))])
        self.set_callstate("HANGUP")
        sofia.on_hangup(self)
        from freeswitch.sim import hooks

        hooks.hangup_hook(self)
        self.set_state("CS_REPORTING")
        self.set_cdr_vars()
        self.fire("CHANNEL_HANGUP_COMPLETE", pre=[("Hangup-Cause", self.hangup_cause or "NORMAL_CLEARING")])
        self.reported.set()
        # switch_core_session_destroy waits for the read locks outbound listeners hold
        # (a lingering socket keeps the session until the client closes it).
        while self._holders:
            self._released.wait()
        self.state_num = STATE_NUMBERS["CS_DESTROY"]
        self.fire("CHANNEL_DESTROY")
        self.set_state("CS_DESTROY")
        self.destroyed.set()

    def set_cdr_vars(self) -> None:
        """The variables switch_channel_set_timestamps writes before CHANNEL_HANGUP_COMPLETE (cdr.py)."""
        from freeswitch.sim.cdr import set_timestamps

        set_timestamps(self)


_last_stamp: tuple[int, str] = (-1, "")


def _stamp(us: int) -> str:
    """A channel's *_stamp variable: local time to the second (the last one made is reused)."""
    global _last_stamp
    second = us // 1_000_000  # what localtime() makes of us / 1e6: it rounds down to the second
    if _last_stamp[0] != second:
        _last_stamp = (second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(us / 1_000_000)))
    return _last_stamp[1]

"""Connecting: dial (bridge to numbers, SIP URIs and registered users) and conference.

The :class:`ivr.execute.Executor`'s connecting instructions, as a mixin on the executor's state.
Every number, URI and user name is checked against a strict pattern before it goes into the dial
string, so an app cannot inject channel variables.
"""

from __future__ import annotations

import os
import re

import kml
from ivr import dtmf
from ivr.exec_base import _NUMBER, InstructionError, dial_path, event_time, media_arg
from ivr.number_format import dial_number

_ROOM = re.compile(r"[^A-Za-z0-9_.-]")
_SIP_URI = re.compile(r"^sips?:[A-Za-z0-9_.+~!$&*=;:@%-]{1,200}$")
_CLIENT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

#: What the caller hears while a dial rings (model ``moh``): KooKoo's default music, a ring tone, or nothing.
RINGBACK = {"default": "local_stream://moh", "ring": "%(2000,4000,440,480)", "normal": "%(2000,4000,440,480)"}
#: FreeSWITCH DIALSTATUS / originate dispositions → KooKoo's not-answered message.
_DIAL_MESSAGES = {"NOANSWER": "no answer", "NO_ANSWER": "no answer", "BUSY": "busy", "USER_BUSY": "busy",
                  "CALL_REJECTED": "rejected", "UNALLOCATED_NUMBER": "invalid number",
                  "INVALID_NUMBER_FORMAT": "invalid number", "NORMAL_TEMPORARY_FAILURE": "network failure",
                  "ORIGINATOR_CANCEL": "caller hung up", "RECOVERY_ON_TIMER_EXPIRE": "no answer"}


class DialInstructions:
    """Dial (``bridge``, with its ringback, recording and time limit) and conference (``conference``)."""

    def _for_carrier(self, number: str) -> str:
        """A number as the carrier wants it (DIALER_NUMBER_FORMAT); an extension stays as written."""
        return dial_number(number, self.config.number_format, self.config.region)

    def _dial_string(self, d: kml.Dial) -> str:
        caller_id = d.caller_id or self.config.default_caller_id
        legs = []
        for number in d.numbers:
            number = (number or "").strip()
            if not _NUMBER.match(number):
                raise InstructionError(f"cannot dial {number!r}: not a phone number")
            legs.append(self.config.dial_endpoint.format(number=self._for_carrier(number)))
        for uri in d.sip:
            if not _SIP_URI.match(uri or ""):
                raise InstructionError(f"cannot dial {uri!r}: not a SIP URI")
            legs.append(self.config.sip_endpoint.format(uri=uri))
        for name in d.clients:
            if not _CLIENT.match(name or ""):
                raise InstructionError(f"cannot dial client {name!r}: not a user name")
            legs.append(self.config.client_endpoint.format(name=name))
        if not legs:
            raise InstructionError("<dial> has no number")
        variables = [f"call_timeout={max(1, d.timeout_ms // 1000)}", f"leg_timeout={max(1, d.timeout_ms // 1000)}"]
        if caller_id:
            if not _NUMBER.match(caller_id):
                raise InstructionError(f"bad caller id {caller_id!r}")
            variables.append(f"origination_caller_id_number={self._for_carrier(caller_id)}")
        # FreeSWITCH runs every variable named execute_on_answer* on the called leg when it answers.
        if d.time_limit_ms and d.time_limit_ms < 1000_000:
            variables.append(f"execute_on_answer_1='sched_hangup +{max(1, d.time_limit_ms // 1000)} ALLOTTED_TIMEOUT'")
        if d.prompt_to_called:
            variables.append(f"execute_on_answer_2='playback {media_arg(d.prompt_to_called)}'")
        if d.send_digits:
            try:
                variables.append(f"execute_on_answer_3='send_dtmf {dtmf.checked(d.send_digits)}'")
            except ValueError as exc:
                raise InstructionError(str(exc)) from None
        if d.record and d.record_from == "answer" and self._answer_recording:
            # TwiML record-from-answer: the called leg records the bridged call from its answer on.
            variables.append(f"RECORD_STEREO={'true' if d.record_dual else 'false'}")
            variables.append(f"execute_on_answer_4='record_session {self._answer_recording}'")
        # KooKoo/KML: numbers tried in order ('|': "on failure, try the next"); TwiML/Plivo ring them
        # all at once (','), the first to answer is bridged.
        return "{" + ",".join(variables) + "}" + ("," if d.ring_all else "|").join(legs)

    def _do_dial(self, d: kml.Dial) -> dict:
        self._answer_recording = ""
        if d.record and d.record_from == "answer":
            self._answer_recording, url = self._recording_path("dial", "wav")
        dial_string = self._dial_string(d)
        ringback = RINGBACK.get(d.moh, RINGBACK["default"])
        self.session.set_var("ringback", ringback)
        self.session.set_var("transfer_ringback", ringback)
        self.session.set_var("hangup_after_bridge", "false")
        url = ""
        if d.record and d.record_from == "answer":
            url = f"{self.config.public_url.rstrip('/')}/recordings/{os.path.basename(self._answer_recording)}"
        elif d.record:
            path, url = self._recording_path("dial", "wav")
            if self.record_mode == "agent":
                self.session.set_var("RECORD_READ_ONLY", "true")
            elif self.record_mode == "customer":
                self.session.set_var("RECORD_WRITE_ONLY", "true")
            else:
                self.session.set_var("RECORD_STEREO", "true" if d.record_dual else "false")
            self.session.execute("record_session", path)
        if d.hangup_on_star:
            # TwiML/Plivo hangupOnStar: the caller's * ends the bridge and the document carries on.
            self.session.set_var("bridge_terminate_key", "*")
        self.heard(f"dialling {', '.join(d.numbers)} ({d.moh} while ringing)")
        self._bridged_at = None
        done = self.session.execute("bridge", dial_string)
        status = (done.headers.get("variable_DIALSTATUS") or "").upper()
        cause = done.headers.get("variable_originate_disposition") or done.headers.get(
            "variable_bridge_hangup_cause") or status
        answered = status == "SUCCESS" or self._bridged_at is not None
        duration = 0
        if answered and self._bridged_at:
            duration = max(0, round(event_time(done) - self._bridged_at))
        if d.hangup_on_star and not self.session.hung_up:
            self.session.set_var("bridge_terminate_key", "")
        if d.record and d.record_from != "answer" and not self.session.hung_up:
            try:
                self.session.execute("stop_record_session", dial_path(url, self.config))
            except Exception:  # the recording stops with the call anyway
                pass
        message = "" if answered else _DIAL_MESSAGES.get(cause.upper(), cause.lower().replace("_", " "))
        self.heard(f"dial {'answered' if answered else 'not answered'}"
                   + (f" ({duration}s)" if answered else f": {message}"))
        result = {"data": url if answered else "", "status": "answered" if answered else "not_answered",
                  "duration": str(duration), "message": message,
                  "dial_status": "answered" if answered else "not_answered", "dial_duration": str(duration),
                  "media_url": url if answered else "", "dial_cause": "" if answered else cause.upper(),
                  "dial_uuid": done.headers.get("variable_bridge_uuid") or done.headers.get(
                      "variable_last_bridge_to") or "",
                  "dial": {"number": ",".join(d.numbers), "status": "answered" if answered else "not_answered",
                           "billsec": duration}}
        if d.record and answered:
            result["recording"] = {"name": url.rsplit("/", 1)[-1], "url": url, "duration_ms": duration * 1000}
        return result

    def _do_conference(self, c: kml.Conference) -> dict:
        room = _ROOM.sub("_", c.room or "")[:64]
        if not room:
            raise InstructionError("<conference> has no room name")
        self.heard(f"conference room {room}")
        if c.timeout_ms and c.timeout_ms > 0:
            self.session.execute("sched_hangup", f"+{max(1, c.timeout_ms // 1000)} ALLOTTED_TIMEOUT")
        flags = [f for f, on in (("mute", c.muted), ("endconf", c.end_on_exit)) if on]
        done = self.session.execute("conference", f"{room}@default" + (f"+flags{{{'|'.join(flags)}}}" if flags else ""))
        started = self._started.get("conference")
        seconds = str(max(0, round(event_time(done) - started))) if started else "0"
        return {"data": room, "duration": seconds, "conference_duration": seconds}

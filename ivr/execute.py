"""Each instruction of the model carried out with FreeSWITCH dialplan applications.

:class:`Executor` turns one :mod:`kml.model` instruction into ``execute``
commands on the call's :class:`freeswitch.outbound.OutboundSession` and returns
what the instruction produced, as the parameters both dialects report:
KooKoo's ``data``/``duration``/``status``/``message`` and KML's
``key_pressed``/``media_url``/``record_duration``/``dial_status``/... .

Every value from a document or a contact that goes into an application
argument passes through :func:`kml.escape_fs_arg` (text) or a strict pattern
(numbers, room names, URLs), so an app cannot inject channel variables,
extra arguments or ESL headers.

The instruction families live in modules of their own and are mixed into :class:`Executor`:
prompts (:mod:`ivr.exec_prompts`), input (:mod:`ivr.exec_input`), recording
(:mod:`ivr.exec_record`) and connecting (:mod:`ivr.exec_dial`); what they share is in
:mod:`ivr.exec_base`. Call control, queues and SMS stay here. Every name importable from this
module before the split still is.
"""

from __future__ import annotations

import uuid as _uuid
from typing import Callable

import kml
from freeswitch.outbound import OutboundSession
from freeswitch.wire import Event
from ivr import dtmf, queueing
from ivr.exec_base import (FAILED_RESPONSES, _NUMBER, ApplicationFailed, ExecConfig, InstructionError,
                           _shorten, application_failure, dial_path, event_time, media_arg)
from ivr.exec_dial import RINGBACK, DialInstructions
from ivr.exec_input import SILENCE_THRESHOLD, UTTERANCE_LIMIT_S, InputInstructions
from ivr.exec_prompts import PromptInstructions
from ivr.exec_record import BEEP, RecordInstructions

__all__ = ["ApplicationFailed", "BEEP", "ExecConfig", "Executor", "FAILED_RESPONSES", "HANGUP_CAUSES",
           "InstructionError", "RINGBACK", "SILENCE_THRESHOLD", "SMS_JOB", "SMS_QUEUE_SUFFIX", "SmsEnqueuer",
           "UTTERANCE_LIMIT_S", "application_failure", "dial_path", "event_time", "media_arg"]

#: Reasons of <hangup>/<reject> → FreeSWITCH hangup causes.
HANGUP_CAUSES = {"busy": "USER_BUSY", "rejected": "CALL_REJECTED", "reject": "CALL_REJECTED",
                 "no-answer": "NO_ANSWER", None: "NORMAL_CLEARING", "": "NORMAL_CLEARING"}


class Executor(PromptInstructions, InputInstructions, RecordInstructions, DialInstructions):
    """Runs instructions on one call. ``heard`` is told what the caller hears (for transcripts)."""

    def __init__(self, session: OutboundSession, config: ExecConfig, *, record_mode: str = "both",
                 heard: Callable[[str], None] | None = None):
        self.session = session
        self.config = config
        self.record_mode = record_mode
        self.heard = heard or (lambda text: None)
        self._bridged_at: float | None = None
        self._recordings = 0
        self._started: dict[str, float] = {}
        self._tts_vars: tuple[str, str] | None = None
        self._delimiter_set = False
        self._last_prompt = ""
        #: Sends an app's SMS (:class:`SmsEnqueuer`); None: <sendsms> is recorded as an app error.
        self.sms: Callable[[str, str], str | None] | None = None
        self._answer_recording = ""
        session.listeners.append(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.name == "CHANNEL_BRIDGE":
            self._bridged_at = event_time(event)
        elif event.name == "CHANNEL_EXECUTE":
            self._started[event.headers.get("Application", "")] = event_time(event)

    # -- dispatch ----------------------------------------------------------------------

    def run(self, instr: kml.Instruction) -> dict[str, str]:
        """Carry out ``instr``; returns what it produced (empty for prompts)."""
        handler = getattr(self, "_do_" + instr.kind, None)
        if handler is None:
            raise InstructionError(f"<{instr.kind}> is not supported by this platform")
        return handler(instr) or {}

    # -- control --------------------------------------------------------------------------

    def _do_hangup(self, h: kml.Hangup) -> dict:
        self.heard("the platform hangs up")
        self.session.hangup(HANGUP_CAUSES.get(h.reason, "NORMAL_CLEARING"))

    def _do_reject(self, r: kml.Reject) -> dict:
        if r.ring > 0:
            # ring_ready sends 180 Ringing; sleep on a channel without media just waits (switch_ivr_sleep):
            # the caller hears their network's ringback, and nothing is answered.
            self.heard(f"ringing {r.ring} s")
            self.session.execute("ring_ready")
            self.session.execute("sleep", str(r.ring * 1000))
            if self.session.hung_up:
                return None
        self.heard(f"call rejected ({r.reason})")
        self.session.hangup(HANGUP_CAUSES.get(r.reason, "CALL_REJECTED"))

    def _do_goto(self, g: kml.GoTo) -> dict:
        return None

    def _do_send_digits(self, s: kml.SendDigits) -> dict:
        try:
            return dtmf.send_digits(self, s.digits)
        except ValueError as exc:
            raise InstructionError(str(exc)) from None

    def _do_enqueue(self, e: kml.Enqueue) -> dict:
        try:
            return queueing.enqueue(self, e, media_arg)
        except ValueError as exc:
            raise InstructionError(f"<Enqueue>: {exc}") from None

    def _do_dial_queue(self, d: kml.DialQueue) -> dict:
        try:
            return queueing.dial_queue(self, d)
        except ValueError as exc:
            raise InstructionError(f"<Dial><Queue>: {exc}") from None

    def _do_pre_answer(self, p: kml.PreAnswer) -> dict:
        """Plivo PreAnswer: early media (183) and its prompts before the call is answered."""
        self.heard("early media (pre-answer)")
        self.session.execute("pre_answer")
        for prompt in p.prompts:
            self.run(prompt)

    def _do_send_sms(self, s: kml.SendSms) -> dict:
        to = (s.to or "").strip()
        if not _NUMBER.match(to):
            raise InstructionError(f"<sendsms> to {to!r} is not a number")
        if self.sms is None:
            raise InstructionError("<sendsms> needs the SMS path, which this call has not (the call carries on)")
        sms_id = self.sms(to, s.text)
        if sms_id is None:
            raise InstructionError("<sendsms> could not be queued (Redis unavailable); the call carries on")
        self.heard(f"SMS to {to} queued: {_shorten(s.text, 60)}")
        return {}


#: The RQ job an app's <sendsms> / <Sms> becomes, by dotted name: the runtime never imports the sms package.
SMS_JOB = "sms.jobs.send_from_call"
SMS_QUEUE_SUFFIX = "sms"


class SmsEnqueuer:
    """Sends an app's SMS through the platform's one SMS path: the job :data:`SMS_JOB` on ``<prefix>-sms``.

    Called as ``enqueuer(to, text)``; returns the id the message is stored under (so a job run twice
    stores one message), or None when Redis could not take it (logged, never raised into the call).
    """

    def __init__(self, redis_conn, key_prefix: str, *, account_id: str, sender: str | None, call_uuid: str):
        from rq import Queue

        self.queue = Queue(f"{key_prefix}-{SMS_QUEUE_SUFFIX}", connection=redis_conn)
        self.account_id, self.sender, self.call_uuid = account_id, sender, call_uuid

    def __call__(self, to: str, text: str) -> str | None:
        import logging

        sms_id = f"{self.call_uuid}:{_uuid.uuid4().hex}"
        payload = {"sms_id": sms_id, "account_id": self.account_id, "to": to, "text": text,
                   "from": self.sender, "call_uuid": self.call_uuid}
        try:
            self.queue.enqueue(SMS_JOB, payload, job_timeout=60, result_ttl=300, failure_ttl=7 * 86400)
        except Exception as exc:  # noqa: BLE001 - a lost SMS must not take the call down
            logging.getLogger(__name__).error("could not enqueue the SMS of call %s: %s", self.call_uuid, exc)
            return None
        return sms_id


"""One call, from FreeSWITCH's connection to the facts reported: the interpreter of the instruction model.

:meth:`Call.run` (in the connection's own greenlet):

1. ``connect`` / ``myevents`` / ``linger`` (:meth:`OutboundSession.start`);
2. which app: the call spec on the channel (``vaani_call``) for outbound calls,
   the inbound-number table for inbound ones; a built-in app
   (:mod:`ivr.builtin`) or the customer's URL;
3. the loop: fetch a document for the current event (falling back to
   ``fallback_url``, then ``DEFAULT_APP_URL``, then an apology and a clean
   hangup), execute its instructions, and follow
   :meth:`kml.Instruction.next_request` to the next document or the end;
4. at the end — whoever hung up, whenever — the final event to the app
   (KooKoo ``Hangup``/``Disconnect``, KML ``call_status=end|error``) and the
   :class:`CallFacts` as an RQ job.

A caller hanging up while the runtime waits on the app's HTTP response ends
that wait at once (the request runs in its own greenlet, which is killed); a hangup
during a prompt or a dial ends the pending application wait. Either way step 4
still runs.

The steps live in modules of their own, mixed into :class:`Call`: set-up (:mod:`ivr.call_setup`),
fetching (:mod:`ivr.call_fetch`) and the end (:mod:`ivr.call_end`); what they share is in
:mod:`ivr.call_common`. The interpreter loop stays here.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urljoin

import gevent
import gevent.event

import kml
from freeswitch.outbound import CallGone, CommandError, OutboundSession
from ivr import builtin
from ivr.call_common import _describe, _fatal, _fmt_params
from ivr.call_end import FINAL_REQUEST_TIMEOUT, CallEnding
from ivr.call_fetch import AppFetching
from ivr.call_setup import CallSetup
from ivr.call_spec import CallFacts, CallSpec
from ivr.execute import Executor, InstructionError
from ivr.fetch import FetchError
from ivr.params import CallIdentity, request_params

__all__ = ["Call", "FINAL_REQUEST_TIMEOUT", "MAX_EMPTY_DOCUMENTS"]

log = logging.getLogger(__name__)

#: Documents fetched in a row without one instruction that does something on the call (an app
#: whose gotourl points at itself would otherwise spin for ever while the caller hears nothing).
MAX_EMPTY_DOCUMENTS = 10


class Call(CallSetup, AppFetching, CallEnding):
    """The state of one call while its greenlet runs it."""

    def __init__(self, runtime, session: OutboundSession, accepted_at: float):
        self.runtime = runtime
        self.session = session
        self.accepted_at = accepted_at
        self.accepted_at_epoch = time.time()  # the call's start for Plivo's Duration
        self.spec: CallSpec | None = None
        self.facts: CallFacts | None = None
        self.ident: CallIdentity | None = None
        self.url: str | None = None
        self.dialect = kml.KOOKOO
        self.executor: Executor | None = None
        self.greenlet = None
        self.first_request_done = False
        #: The last event-producing instruction and what it produced (KooKoo Hangup's process/data).
        self.process = ""
        self.process_data = ""
        self.ended_by_platform = False
        self.final_status = "end"
        self._hung_up = gevent.event.Event()
        self._event_at: float | None = None  # perf_counter of the event the next command answers
        self._fetch_spent = 0.0
        self.job_id: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def run(self) -> None:
        """Drive the call to its end; never raises."""
        self.greenlet = gevent.getcurrent()
        try:
            channel = self.session.start()
        except (CallGone, CommandError, OSError) as exc:
            log.warning("outbound session failed during set-up: %s", exc)
            self.session.close()
            return
        uuid = self.session.uuid
        self.runtime.calls[uuid] = self
        self.runtime.metrics.count("calls_started")
        self.session.on_hangup = self._on_hangup
        self.session.on_command = self.command_sent
        try:
            self._setup(channel)
            self._interpret()
        except CallGone:
            pass
        except CommandError as exc:  # FreeSWITCH said no: the operator's problem, not a bug of ours
            log.warning("call %s: %s", uuid, exc)
            self._error(str(exc))
            self.final_status = "error"
            self.session.hangup("NORMAL_TEMPORARY_FAILURE")
        except Exception as exc:  # noqa: BLE001 - a bug must end one call cleanly, not the process
            log.exception("call %s failed", uuid)
            self._error(f"internal error: {exc}")
            self.final_status = "error"
            self.session.hangup("NORMAL_TEMPORARY_FAILURE")
        finally:
            try:
                self._finish()
            finally:
                self.runtime.calls.pop(uuid, None)
                self.session.close()
                # Break the call ↔ session ↔ executor cycles so reference counting frees them at once.
                self.session.listeners.clear()
                self.session.on_hangup = self.session.on_command = None
                self.runtime.metrics.count("calls_finished")
                for callback in self.runtime.on_finished:
                    try:
                        callback(self)
                    except Exception:  # noqa: BLE001
                        log.exception("on_finished callback failed")

    def _on_hangup(self, cause: str) -> None:
        # Called from the session's reader greenlet. Waits on FreeSWITCH fail through the session;
        # a wait on the app's HTTP response watches this event.
        self._hung_up.set()

    # -- the interpreter ---------------------------------------------------------------------

    def _interpret(self) -> None:
        if self.spec.agent is not None:
            # An agent campaign's call is not a document: reserve, ring, wait and release (ivr/agent_call.py).
            from ivr.agent_call import AgentCallApp

            AgentCallApp(self).run()
            return
        if builtin.has_builtin(self.spec):
            try:
                doc = builtin.builtin_app(self.spec)
            except (ValueError, kml.KmlError) as exc:
                raise _fatal(self, f"built-in app: {exc}")
            self.url = None
            self.dialect = kml.KML
            self.notify("request", f"built-in {self.spec.call_type} app")
        else:
            self.url = self.spec.app_url
            # Twilio and Plivo request the answer URL with POST (their default); the app expects it.
            method = "POST" if self.dialect in (kml.TWIML, kml.PLIVO) else self.spec.method
            doc = self._fetch(self.url, method, kml.EVENT_NEW_CALL, {})
        idle_documents = 0
        while True:
            request = None
            result: dict = {}
            if any(not isinstance(i, kml.GoTo) for i in doc.instructions):
                idle_documents = 0
            else:
                idle_documents += 1
                if idle_documents > MAX_EMPTY_DOCUMENTS:
                    raise _fatal(self, f"app {self.url}: {MAX_EMPTY_DOCUMENTS} documents in a row that only "
                                       f"redirect (gotourl loop)")
            for instr in doc.instructions:
                if not isinstance(instr, (kml.Reject, kml.PreAnswer)):
                    self._ensure_answered()
                if self.runtime.observers:  # the description is for transcripts only: not built otherwise
                    self.notify("instruction", _describe(instr))
                try:
                    result = self.executor.run(instr)
                except InstructionError as exc:
                    self._error(str(exc))
                    continue
                self._note_result(instr, result)
                if getattr(instr, "status_callback", None) and result.get("recording"):
                    self._recording_callback(instr, result)
                if self.session.hung_up:
                    if isinstance(instr, (kml.Hangup, kml.Reject)):
                        self.ended_by_platform = True
                    elif isinstance(instr, kml.Enqueue) and result.get("queue_result") in ("bridged", "hangup"):
                        self._action_after_hangup(instr, doc, result)
                    return
                nxt = instr.next_request(doc)
                if nxt is None:
                    continue
                if isinstance(instr, (kml.CollectDigits, kml.Recognize)) and not result.get("data") \
                        and not getattr(instr, "action_on_empty", True):
                    continue
                if nxt.kind == kml.NEXT_END:
                    self.ended_by_platform = True
                    self.session.hangup()
                    return
                if nxt.kind == kml.NEXT_SAME_URL and self.url is None:
                    continue  # a built-in app has no URL to report to
                request = nxt
                break
            if request is None:
                # Ran off the end of the document: both dialects hang up.
                self.ended_by_platform = True
                self.session.hangup()
                return
            target = urljoin(self.url or "", request.url) if request.url else self.url
            doc = self._fetch(target, request.method, request.event, result)

    def _action_after_hangup(self, instr, doc: kml.App, result: dict) -> None:
        """Twilio requests an Enqueue's action when the caller hung up in the queue (QueueResult ``hangup``)
        and once a bridged caller's call is over (``bridged``, queueing.py): the request is made though the
        call has ended; what the app answers has no call left to run."""
        nxt = instr.next_request(doc)
        if nxt is None or not nxt.url:
            return
        url = urljoin(self.url or "", nxt.url)
        params = request_params(self.dialect, self.ident, nxt.event, result)
        if self.runtime.observers:
            self.notify("request", f"{nxt.method or 'GET'} {url} {_fmt_params(params)}")
        try:
            self.runtime.fetcher.fetch(url, params, nxt.method or "GET", connect_timeout=self.spec.app_connect_timeout,
                                       read_timeout=self.spec.app_read_timeout)
        except FetchError as exc:
            self._error(f"app {exc.url}: {exc.reason}")

    def _ensure_answered(self) -> None:
        if self.facts.answered_at is None and self.session.channel.get("Answer-State") != "answered":
            self.session.execute("answer")
            if self.facts.answered_at is None:
                self.facts.answered_at = time.time()

    def _note_result(self, instr, result: dict) -> None:
        if instr.event:
            self.process = instr.event
            self.process_data = result.get("data", "")
        if isinstance(instr, kml.CollectDigits) and result.get("data"):
            self.facts.dtmf_inputs.append(result["data"])
        if result.get("recording"):
            recording = result["recording"]
            # Transcripts are made after the call by the dialer (dialer/transcripts.py), for TwiML's
            # Record transcribe/transcribeCallback and seed 002's click2call transcript=on.
            c2c = self.spec.click2call if self.spec is not None else None
            if getattr(instr, "transcribe", False) or (c2c is not None and c2c.transcript == "on"):
                recording = {**recording, "transcribe": True}
                if getattr(instr, "transcribe_callback", None):
                    recording["transcribe_callback"] = urljoin(self.url or "", instr.transcribe_callback)
            self.facts.recordings.append(recording)
        if result.get("dial"):
            self.facts.dial_results.append(result["dial"])

    # -- helpers ----------------------------------------------------------------------------------

    def command_sent(self) -> None:
        """Record the event→command latency when a command answers a call event (see ivr.metrics)."""
        if self._event_at is not None:
            spent = time.perf_counter() - self._event_at
            metrics = self.runtime.metrics
            metrics.add("event_to_command", max(0.0, spent - self._fetch_spent))
            # The same span with the app request left in (an upper bound on the runtime's own share).
            metrics.add("event_to_command_with_fetch", spent)
            self._event_at = None

    def _error(self, reason: str) -> None:
        log.warning("call %s: %s", self.session.uuid, reason)
        if self.facts is not None:
            self.facts.app_errors.append(reason)
        self.notify("error", reason)

    def notify(self, kind: str, text: str) -> None:
        """Tell the runtime's observers (transcripts)."""
        if self.runtime.observers:
            self.runtime.notify(self, kind, text)


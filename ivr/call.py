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
from ivr.call_spec import CALL_VAR, DIALECT_AUTO, DIALECTS, CallFacts, CallSpec, CallSpecError
from ivr.documents import parse_document
from ivr.execute import Executor, InstructionError
from ivr.fetch import FetchError
from ivr.inbound import InboundLookupError, lookup
from ivr import params_plivo, params_twiml
from ivr.params import CallIdentity, final_params, request_params

log = logging.getLogger(__name__)

#: Seconds the final (Hangup/Disconnect) request may take; the call is over, nobody is waiting.
FINAL_REQUEST_TIMEOUT = 5.0
#: Documents fetched in a row without one instruction that does something on the call (an app
#: whose gotourl points at itself would otherwise spin for ever while the caller hears nothing).
MAX_EMPTY_DOCUMENTS = 10


class _AppUnavailable(Exception):
    """Every URL of the fallback chain failed."""


class Call:
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

    # -- set-up -------------------------------------------------------------------------------

    def _setup(self, channel: dict[str, str]) -> None:
        encoded = self.session.var(CALL_VAR)
        remote = channel.get("Caller-Caller-ID-Number", "")
        dialled = channel.get("Caller-Destination-Number", "")
        if encoded:
            direction = "outbound"
            try:
                self.spec = CallSpec.decode(encoded)
            except CallSpecError as exc:
                self.spec = CallSpec(call_type="campaign")
                self._start_facts(direction)
                raise _fatal(self, f"damaged call spec: {exc}")
            cid = self.spec.called_number or dialled
            did = self.spec.caller_id or remote
        else:
            direction = "inbound"
            cid, did = remote, dialled
            prefix = self.runtime.settings.key_prefix
            if self.session.var("vaani_prefix") != prefix:
                # The dialer's listener follows only channels marked with this installation's prefix; without
                # it the inbound call's hangup is never seen and its CDR waits for the stale sweep. The shipped
                # dialplan sets it; this covers any other dialplan.
                self.session.set_var("vaani_prefix", prefix)
            try:
                self.spec = lookup(self.runtime.redis, self.runtime.settings.key_prefix, dialled, remote)
            except InboundLookupError as exc:
                self.spec = CallSpec(call_type="inbound", called_number=dialled, caller_id=remote)
                self._start_facts(direction)
                self._error(str(exc))
                self.final_status = "error"
                self.session.hangup("UNALLOCATED_NUMBER")
                raise CallGone("UNALLOCATED_NUMBER")
            except Exception as exc:  # Redis down: the caller still gets an apology, not silence
                self.spec = CallSpec(call_type="inbound", called_number=dialled, caller_id=remote)
                self._start_facts(direction)
                raise _fatal(self, f"inbound-number table unavailable: {exc}")
        # An unknown value (a newer dialer, a hand-edited table) is read as "auto" rather than guessed.
        self.dialect = self.spec.dialect if self.spec.dialect in DIALECTS else DIALECT_AUTO
        self.ident = CallIdentity(sid=self.session.uuid, cid=cid or "", called_number=did or "",
                                  outbound_sid=self.spec.request_id or "", campaign_id=self.spec.campaign_id or "",
                                  account_id=str(self.spec.account_id or ""), direction=direction)
        self._start_facts(direction)
        record_mode = self.spec.click2call.recording_option if self.spec.click2call else "both"
        self.executor = Executor(self.session, self._exec_config(), record_mode=record_mode,
                                 heard=lambda text: self.notify("heard", text))
        if self.spec.account_id:
            from ivr.execute import SmsEnqueuer

            self.executor.sms = SmsEnqueuer(self.runtime.redis, self.runtime.settings.key_prefix,
                                            account_id=self.spec.account_id, sender=did, call_uuid=self.session.uuid)
        self.session.listeners.append(self._on_event)
        if self.spec.max_duration and self.spec.max_duration > 0:
            self.session.execute_async("sched_hangup", f"+{int(self.spec.max_duration)} ALLOTTED_TIMEOUT")

    def _exec_config(self):
        cfg = self.runtime.exec_config
        if self.spec.gateway:
            from dataclasses import replace
            import re

            if re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", self.spec.gateway):
                cfg = replace(cfg, dial_endpoint=f"sofia/gateway/{self.spec.gateway}/{{number}}")
        if self.spec.caller_id and not cfg.default_caller_id:
            from dataclasses import replace

            cfg = replace(cfg, default_caller_id=self.spec.caller_id)
        return cfg

    def _start_facts(self, direction: str) -> None:
        spec = self.spec
        answered = _us(self.session.channel.get("Caller-Channel-Answered-Time"))
        self.facts = CallFacts(
            uuid=self.session.uuid, call_type=spec.call_type, request_id=spec.request_id,
            attempt_id=spec.attempt_id or self.session.var("vaani_attempt_id"), account_id=spec.account_id,
            campaign_id=spec.campaign_id, caller_id=spec.caller_id, called_number=spec.called_number,
            direction=direction, answered_at=answered)

    def _on_event(self, event) -> None:
        if event.name == "CHANNEL_ANSWER" and self.facts and self.facts.answered_at is None:
            self.facts.answered_at = _us(event.headers.get("Caller-Channel-Answered-Time")) or time.time()
        elif event.name == "CHANNEL_EXECUTE_COMPLETE":
            self._event_at = self.session.last_event_at
            self._fetch_spent = 0.0

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

    # -- fetching -------------------------------------------------------------------------------

    def _fetch(self, url: str, method: str, event: str | None, result: dict) -> kml.App:
        """The next document, through the fallback chain; an apology and hangup when all fail."""
        params = request_params(self.dialect, self.ident, event, result)
        chain = [url]
        for extra in (self.spec.fallback_url, self.runtime.settings.default_app_url):
            if extra and extra not in chain:
                chain.append(extra)
        for candidate in chain:
            doc = self._try_fetch(candidate, method, params, event)
            if doc is not None:
                return doc
        raise _fatal(self, None)

    def _try_fetch(self, url: str, method: str, params: dict, event: str | None) -> kml.App | None:
        if not self.first_request_done:
            self.first_request_done = True
            total = time.perf_counter() - self.accepted_at
            self.runtime.metrics.add("connect_to_first_request", total)
            # The same span without the connect round trip, i.e. less FreeSWITCH's own reply time.
            self.runtime.metrics.add("connect_to_first_request_own", max(0.0, total - self.session.setup_seconds))
        if self.runtime.observers:
            self.notify("request", f"{method or 'GET'} {url} {_fmt_params(params)}")
        started = time.perf_counter()
        # The request runs in a greenlet of its own so that a hangup can abandon it at once
        # without throwing anything into the call's greenlet.
        job = gevent.spawn(self.runtime.fetcher.fetch, url, params, method or "GET",
                           connect_timeout=self.spec.app_connect_timeout, read_timeout=self.spec.app_read_timeout)
        try:
            gevent.wait([job, self._hung_up], count=1)
            if not job.ready():
                job.kill(block=False)
                raise CallGone(self.session.hangup_cause)
            res = job.get()
        except FetchError as exc:
            self._error(f"app {exc.url}: {exc.reason}")
            self.runtime.metrics.count("fetch_failed")
            return None
        finally:
            self._fetch_spent += time.perf_counter() - started
        if self.runtime.observers:
            self.notify("response", f"HTTP {res.status} {len(res.body)} bytes in {res.seconds * 1000:.0f} ms")
        try:
            # A call configured as (or found to be) TwiML or Plivo reads every document in that dialect:
            # a later `<Response><Say>` alone would otherwise read as KML, with KML's defaults.
            doc = parse_document(res.body, self.dialect if self.dialect in (kml.TWIML, kml.PLIVO) else None)
        except kml.KmlError as exc:
            self._error(f"app {url}: malformed document: {exc}")
            self.runtime.metrics.count("app_malformed")
            return None
        # The URL as requested (our query parameters are not part of it): same-URL requests go here again.
        self.url = url
        if self.dialect == DIALECT_AUTO:
            # Nobody said which dialect the app speaks: its first document says it, for the rest of the call.
            self.dialect = doc.dialect
            if self.runtime.observers:
                self.notify("dialect", f"the app speaks {doc.dialect} (detected from its document)")
        return doc

    # -- the end ------------------------------------------------------------------------------------

    def _finish(self) -> None:
        """Final event to the app, facts to the dialer. Runs whether the call ended well or not."""
        if self.facts is None:
            return
        if not self.session.hung_up:
            self.session.hangup()
        self.session.wait_closed(5.0)
        hc = self.session.hangup_complete or {}
        self.facts.hangup_cause = hc.get("Hangup-Cause") or self.session.hangup_cause
        self.facts.ended_at = _us(hc.get("Caller-Channel-Hangup-Time")) or time.time()
        billsec = hc.get("variable_billsec")
        if billsec and billsec.isdigit():
            self.facts.media_duration = float(billsec)
        elif self.facts.answered_at:
            self.facts.media_duration = round(max(0.0, self.facts.ended_at - self.facts.answered_at), 3)
        self.facts.final_status = self.final_status
        self._final_request()
        self.notify("end", f"call ended: {self.facts.hangup_cause} "
                           f"({'platform' if self.ended_by_platform else 'caller'} hung up), "
                           f"status {self.final_status}")
        if self.runtime.reporter is not None:
            self.job_id = self.runtime.reporter.report(self.facts)

    def _final_request(self) -> None:
        if not self.url or self.ident is None or self.dialect == kml.TWIML:
            return  # Twilio reports the end to a status callback only, never to the voice URL
        method = self.spec.method or "GET"
        url = self.url
        if self.dialect == kml.PLIVO:
            # Plivo's hangup URL defaults to the answer URL.
            billsec = int(self.facts.media_duration or 0)
            duration = int(max(0.0, (self.facts.ended_at or 0) - self.accepted_at_epoch)) if self.facts.ended_at else 0
            params = params_plivo.final_params(self.ident, self.facts.hangup_cause or "", max(duration, billsec),
                                               billsec)
            method, url = "POST", self.spec.app_url or self.url
        else:
            params = final_params(self.dialect, self.ident, ended_by_platform=self.ended_by_platform,
                                  final_status=self.final_status, process=self.process, data=self.process_data)
        if self.runtime.observers:
            self.notify("request", f"{method} {url} {_fmt_params(params)}")
        try:
            self.runtime.fetcher.fetch(url, params, method,
                                       read_timeout=min(FINAL_REQUEST_TIMEOUT, self.runtime.fetcher.read_timeout))
        except FetchError as exc:
            self._error(f"final event to {exc.url}: {exc.reason}")

    def _recording_callback(self, instr, result: dict) -> None:
        """TwiML ``recordingStatusCallback`` / Plivo ``callbackUrl``: told, in the background, that the file is done."""
        url = urljoin(self.url or "", instr.status_callback)
        if self.dialect == kml.PLIVO:
            params = params_plivo.recording_callback_params(self.ident, result)
        else:
            params = params_twiml.recording_status_params(self.ident, result)
        if self.runtime.observers:
            self.notify("request", f"{instr.status_callback_method} {url} {_fmt_params(params)}")

        def send():
            try:
                self.runtime.fetcher.fetch(url, params, instr.status_callback_method,
                                           read_timeout=min(FINAL_REQUEST_TIMEOUT, self.runtime.fetcher.read_timeout))
            except FetchError as exc:
                self._error(f"recording callback {exc.url}: {exc.reason}")

        gevent.spawn(send)

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


def _fatal(call: Call, reason: str | None) -> CallGone:
    """Apologise and hang up cleanly (the app could not be run); returns the exception that ends the call."""
    if reason:
        call._error(reason)
    call.final_status = "error"
    call.runtime.metrics.count("calls_apologised")
    if not call.session.hung_up:
        try:
            call._ensure_answered()
            call.notify("heard", f"speech: {call.runtime.apology}")
            from ivr import tts

            cfg = call.runtime.exec_config
            call.session.execute("speak", tts.speak_arg(call.runtime.apology, engine=cfg.tts_engine,
                                                        voice_map=cfg.voice_map))
        except (CallGone, CommandError):
            pass
        call.ended_by_platform = True
        call.session.hangup("NORMAL_CLEARING")
    return CallGone("NORMAL_CLEARING")


def _describe(instr) -> str:
    """One transcript line for an instruction: its kind and the fields that say something."""
    data = instr.to_dict()
    kind = data.pop("type")
    parts = []
    for key, value in data.items():
        if key == "line" or value in (None, "", (), [], False):
            continue
        if key == "prompts":
            value = "[" + "; ".join(f"{p['type']} {p.get('text') or p.get('url') or p.get('length_ms', '')!r}"
                                   for p in value) + "]"
            parts.append(f"prompts={value}")
        else:
            parts.append(f"{key}={value!r}")
    return kind + " " + ", ".join(parts)


def _fmt_params(params: dict) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items() if v != "") or "(no parameters)"


def _us(value: str | None) -> float | None:
    """A FreeSWITCH microsecond timestamp header as epoch seconds (None when absent or 0)."""
    try:
        n = int(value or 0)
    except ValueError:
        return None
    return n / 1e6 if n > 0 else None

"""A call's set-up: which app and spec (the channel's call spec or the inbound-number table), its facts, its executor.

A mixin of :class:`ivr.call.Call`, on the call's state (``runtime``, ``session``, ``spec``, ``facts``...).
"""

from __future__ import annotations

import time

from freeswitch.outbound import CallGone
from ivr.call_common import _fatal, _us
from ivr.call_spec import CALL_VAR, DIALECT_AUTO, DIALECTS, CallFacts, CallSpec, CallSpecError
from ivr.execute import Executor
from ivr.inbound import InboundLookupError, lookup
from ivr.params import CallIdentity


class CallSetup:
    """Reads the call's spec, starts its facts, builds its executor and watches its answer."""

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

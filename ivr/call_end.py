"""The end of a call: its facts completed and reported, the final event to the app, recording callbacks.

A mixin of :class:`ivr.call.Call`, on the call's state.
"""

from __future__ import annotations

import time
from urllib.parse import urljoin

import gevent

import kml
from ivr import params_plivo, params_twiml
from ivr.call_common import _fmt_params, _us
from ivr.fetch import FetchError
from ivr.params import final_params

#: Seconds the final (Hangup/Disconnect) request may take; the call is over, nobody is waiting.
FINAL_REQUEST_TIMEOUT = 5.0


class CallEnding:
    """Hangup facts and the dialer's job, the final request (KooKoo/KML/Plivo) and TwiML/Plivo recording callbacks."""

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

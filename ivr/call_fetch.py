"""Fetching the app's documents: the fallback chain, a request a hangup abandons at once, the dialect detected.

A mixin of :class:`ivr.call.Call`, on the call's state.
"""

from __future__ import annotations

import time

import gevent

import kml
from freeswitch.outbound import CallGone
from ivr.call_common import _fatal, _fmt_params
from ivr.call_spec import DIALECT_AUTO
from ivr.documents import parse_document
from ivr.fetch import FetchError
from ivr.params import request_params


class AppFetching:
    """The next document, from the app's URL, its ``fallback_url`` or ``DEFAULT_APP_URL``."""

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

"""Fetching customers' IVR apps over HTTP: one pooled client, bounded in time and size.

Every call of the process shares one :class:`AppFetcher`: one urllib3
``PoolManager`` with a large connection pool per host, so a campaign of
thousands of calls to the same app reuses keep-alive connections instead of
opening one per call event. Under gevent's monkey-patching its sockets are
cooperative: a slow app blocks only its own call's greenlet.

urllib3 directly rather than ``requests.Session``: the runtime makes one
request per call event at thousands of concurrent calls, and requests'
per-request machinery (environment proxies and netrc, hooks, cookie jars,
settings merging) cost about twice urllib3's CPU per request in
``bench/bench_ivr.py``; nothing of it is needed here.

Failures are raised as :class:`FetchError` with a reason an operator can read
("connect timeout after 3.0s", "HTTP 500", "response larger than 1048576
bytes", ...); the call records them in ``CallFacts.app_errors``.
"""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode

import urllib3
from urllib3.exceptions import (ConnectTimeoutError, HTTPError, MaxRetryError, NewConnectionError,
                                ProtocolError, ReadTimeoutError)

from ivr import metrics as _metrics

USER_AGENT = "Vaani-IVR/0.1"


class FetchError(Exception):
    """An app URL that could not be fetched; ``str()`` is the operator-readable reason."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass
class FetchResult:
    """A fetched document: its bytes, the final URL after redirects, and how long it took."""

    url: str
    body: bytes
    status: int
    seconds: float
    content_type: str = ""


class AppFetcher:
    """The process-wide HTTP client for app documents.

    ``connect_timeout``/``read_timeout``/``max_bytes`` are the defaults; a call
    may pass its own per request (per-account overrides ride on the call spec).
    Proxy environment variables are read once, at construction.
    """

    def __init__(self, connect_timeout: float = 3.0, read_timeout: float = 10.0,
                 max_bytes: int = 1024 * 1024, pool_size: int = 1000, max_redirects: int = 5):
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        headers = {"User-Agent": USER_AGENT}
        self._timeouts: dict[tuple[float, float], urllib3.Timeout] = {}
        # No retries: a failed app goes to the fallback chain at once, the caller is waiting.
        self._retries = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=max_redirects,
                                      raise_on_redirect=True, raise_on_status=False)
        proxy = urllib.request.getproxies().get("http")
        if proxy:
            self.pool = urllib3.ProxyManager(proxy, num_pools=64, maxsize=pool_size, block=False, headers=headers)
        else:
            self.pool = urllib3.PoolManager(num_pools=64, maxsize=pool_size, block=False, headers=headers)

    def fetch(self, url: str, params: dict[str, str], method: str = "GET", *,
              connect_timeout: float | None = None, read_timeout: float | None = None,
              max_bytes: int | None = None) -> FetchResult:
        """Request ``url`` with the call-event ``params`` (query string for GET, form body for POST)."""
        try:
            res = self._fetch(url, params, method, connect_timeout, read_timeout, max_bytes)
        except FetchError as exc:
            _metrics.fetch_failed(exc.reason)
            raise
        _metrics.fetched(res.seconds)
        return res

    def _fetch(self, url: str, params: dict[str, str], method: str, connect_timeout: float | None,
               read_timeout: float | None, max_bytes: int | None) -> FetchResult:
        if not url or not url.lower().startswith(("http://", "https://")):
            raise FetchError(url or "(no url)", "not an http(s) URL")
        ct = connect_timeout or self.connect_timeout
        rt = read_timeout or self.read_timeout
        limit = max_bytes or self.max_bytes
        method = (method or "GET").upper()
        started = time.perf_counter()
        timeout = self._timeouts.get((ct, rt))
        if timeout is None:
            # urllib3 clones the Timeout it is given per request: one per (connect, read) pair serves all.
            timeout = urllib3.Timeout(connect=ct, read=rt)
            if len(self._timeouts) < 64:  # per-account values are few; never grow without bound
                self._timeouts[(ct, rt)] = timeout
        kwargs = dict(timeout=timeout, retries=self._retries, preload_content=False, redirect=True)
        try:
            if method == "POST":
                resp = self.pool.request("POST", url, body=urlencode(params),
                                         headers={"Content-Type": "application/x-www-form-urlencoded",
                                                  "User-Agent": USER_AGENT}, **kwargs)
            else:
                sep = "&" if "?" in url else "?"
                resp = self.pool.request("GET", url + (sep + urlencode(params) if params else ""), **kwargs)
        except MaxRetryError as exc:
            raise FetchError(url, _reason(exc.reason, ct, rt, self.max_redirects)) from None
        except (ConnectTimeoutError, NewConnectionError, ReadTimeoutError, ProtocolError, HTTPError) as exc:
            raise FetchError(url, _reason(exc, ct, rt, self.max_redirects)) from None
        except (ValueError, LookupError) as exc:  # a URL urllib3 cannot even parse
            raise FetchError(url, f"bad URL: {exc}") from None
        final = url  # errors name the URL the app configured (redirects are followed transparently)
        complete = False
        try:
            if resp.status >= 400:
                raise FetchError(final, f"HTTP {resp.status}")
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise FetchError(final, f"response larger than {limit} bytes ({declared})")
            chunks, size = [], 0
            try:
                while True:
                    chunk = resp.read(65536)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > limit:
                        raise FetchError(final, f"response larger than {limit} bytes")
                    chunks.append(chunk)
            except ReadTimeoutError:
                raise FetchError(final, f"no response within {rt}s") from None
            except (ProtocolError, HTTPError) as exc:
                raise FetchError(final, f"response cut short: {_short(exc)}") from None
            complete = True
            return FetchResult(final, b"".join(chunks), resp.status, time.perf_counter() - started,
                               resp.headers.get("Content-Type", ""))
        finally:
            if complete:
                resp.release_conn()
            else:
                # Cut short (error, size cap, or the caller hung up mid-read): a connection with
                # unread bytes must not go back to the pool.
                resp.close()

    def close(self) -> None:
        """Close pooled connections."""
        self.pool.clear()


def _reason(exc: BaseException | None, ct: float, rt: float, max_redirects: int) -> str:
    # NewConnectionError subclasses ConnectTimeoutError in urllib3: test it first.
    if isinstance(exc, NewConnectionError) and "timed out" not in str(exc):
        return f"cannot connect: {_short(exc)}"
    if isinstance(exc, ConnectTimeoutError):
        return f"connect timeout after {ct}s"
    if isinstance(exc, ReadTimeoutError):
        return f"no response within {rt}s"
    if exc is not None and "redirect" in str(exc).lower():
        return f"more than {max_redirects} redirects"
    if isinstance(exc, ProtocolError):
        return f"cannot connect: {_short(exc)}"
    return f"request failed: {_short(exc)}"


def _short(exc: BaseException | None) -> str:
    text = str(exc)
    # urllib3 wraps the useful part ("Connection refused") deep inside a long repr.
    for marker in ("Connection refused", "Name or service not known", "timed out", "Connection reset",
                   "Remote end closed"):
        if marker in text:
            return marker
    return text[:200]

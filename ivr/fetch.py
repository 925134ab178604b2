"""Fetching customers' IVR apps over HTTP: one pooled client, bounded in time and size.

Every call of the process shares one :class:`AppFetcher` (one
``requests.Session`` with a large connection pool), so a campaign of
thousands of calls to the same app reuses keep-alive connections instead of
opening one per call event. Under gevent's monkey-patching the session's
sockets are cooperative: a slow app blocks only its own call's greenlet.

Failures are raised as :class:`FetchError` with a reason an operator can read
("connect timeout after 3.0s", "HTTP 500", "response larger than 1048576
bytes", ...); the call records them in ``CallFacts.app_errors``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

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
    """

    def __init__(self, connect_timeout: float = 3.0, read_timeout: float = 10.0,
                 max_bytes: int = 1024 * 1024, pool_size: int = 1000, max_redirects: int = 5):
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_bytes = max_bytes
        self.session = requests.Session()
        self.session.max_redirects = max_redirects
        self.session.headers["User-Agent"] = USER_AGENT
        # No retries: a failed app goes to the fallback chain at once, the caller is waiting.
        adapter = HTTPAdapter(pool_connections=64, pool_maxsize=pool_size, max_retries=0, pool_block=False)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def fetch(self, url: str, params: dict[str, str], method: str = "GET", *,
              connect_timeout: float | None = None, read_timeout: float | None = None,
              max_bytes: int | None = None) -> FetchResult:
        """Request ``url`` with the call-event ``params`` (query string for GET, form body for POST)."""
        if not url or not url.lower().startswith(("http://", "https://")):
            raise FetchError(url or "(no url)", "not an http(s) URL")
        timeout = (connect_timeout or self.connect_timeout, read_timeout or self.read_timeout)
        limit = max_bytes or self.max_bytes
        method = (method or "GET").upper()
        started = time.perf_counter()
        try:
            if method == "POST":
                resp = self.session.post(url, data=params, timeout=timeout, stream=True)
            else:
                resp = self.session.get(url, params=params, timeout=timeout, stream=True)
        except requests.exceptions.ConnectTimeout:
            raise FetchError(url, f"connect timeout after {timeout[0]}s") from None
        except requests.exceptions.ReadTimeout:
            raise FetchError(url, f"no response within {timeout[1]}s") from None
        except requests.exceptions.TooManyRedirects:
            raise FetchError(url, f"more than {self.session.max_redirects} redirects") from None
        except requests.exceptions.ConnectionError as exc:
            raise FetchError(url, f"cannot connect: {_short(exc)}") from None
        except requests.exceptions.RequestException as exc:
            raise FetchError(url, f"request failed: {_short(exc)}") from None
        try:
            if resp.status_code >= 400:
                raise FetchError(resp.url, f"HTTP {resp.status_code}")
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise FetchError(resp.url, f"response larger than {limit} bytes ({declared})")
            chunks, size = [], 0
            try:
                for chunk in resp.iter_content(65536):
                    size += len(chunk)
                    if size > limit:
                        raise FetchError(resp.url, f"response larger than {limit} bytes")
                    chunks.append(chunk)
            except requests.exceptions.RequestException as exc:
                if "timed out" in str(exc).lower():
                    raise FetchError(resp.url, f"no response within {timeout[1]}s") from None
                raise FetchError(resp.url, f"response cut short: {_short(exc)}") from None
            return FetchResult(resp.url, b"".join(chunks), resp.status_code,
                               time.perf_counter() - started, resp.headers.get("Content-Type", ""))
        finally:
            resp.close()

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()


def _short(exc: BaseException) -> str:
    text = str(exc)
    # urllib3 wraps the useful part ("Connection refused") deep inside a long repr.
    for marker in ("Connection refused", "Name or service not known", "timed out", "Connection reset"):
        if marker in text:
            return marker
    return text[:200]

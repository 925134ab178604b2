"""App fetches as the IVR runtime's Prometheus metrics count them: latency of answers, failures by reason."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from ivr.fetch import AppFetcher, FetchError
from ivr.metrics import failure_reason
from tests.conftest import free_port


def _failures(reason: str) -> float:
    return REGISTRY.get_sample_value("vaani_ivr_app_fetch_failures_total", {"reason": reason}) or 0.0


@pytest.fixture
def app_server():
    """A real HTTP app: /ok answers a document, /gone 404, /broken 503, /big more than the size cap."""
    from gevent.pywsgi import WSGIServer

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        status, body = {"/ok": ("200 OK", b"<response><hangup/></response>"), "/gone": ("404 Not Found", b""),
                        "/broken": ("503 Unavailable", b""), "/big": ("200 OK", b"x" * 5000)}[path]
        start_response(status, [("Content-Length", str(len(body)))])
        return [body]

    server = WSGIServer(("127.0.0.1", 0), app, log=None, error_log=None)
    server.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.stop(timeout=1)


def test_fetches_are_counted_by_outcome_and_reason(app_server):
    fetcher = AppFetcher(connect_timeout=1, read_timeout=2, max_bytes=1000)
    ok_before = REGISTRY.get_sample_value("vaani_ivr_app_fetch_seconds_count") or 0.0
    before = {r: _failures(r) for r in ("http_4xx", "http_5xx", "too_large", "connect_error", "bad_url")}
    fetcher.fetch(app_server + "/ok", {"event": "NewCall"})
    for path, reason in (("/gone", "http_4xx"), ("/broken", "http_5xx"), ("/big", "too_large")):
        with pytest.raises(FetchError) as exc:
            fetcher.fetch(app_server + path, {})
        assert failure_reason(exc.value.reason) == reason
    with pytest.raises(FetchError):
        fetcher.fetch(f"http://127.0.0.1:{free_port()}/nothing-listens", {})
    with pytest.raises(FetchError):
        fetcher.fetch("ftp://example.com/app.xml", {})
    assert (REGISTRY.get_sample_value("vaani_ivr_app_fetch_seconds_count") or 0.0) == ok_before + 1
    assert {r: _failures(r) - before[r] for r in before} == \
        {"http_4xx": 1, "http_5xx": 1, "too_large": 1, "connect_error": 1, "bad_url": 1}


def test_every_reason_the_fetcher_gives_has_its_label():
    assert failure_reason("connect timeout after 3.0s") == "connect_timeout"
    assert failure_reason("cannot connect: Connection refused") == "connect_error"
    assert failure_reason("no response within 10.0s") == "read_timeout"
    assert failure_reason("response larger than 1048576 bytes (2000000)") == "too_large"
    assert failure_reason("response cut short: Connection reset") == "cut_short"
    assert failure_reason("more than 5 redirects") == "redirects"
    assert failure_reason("not an http(s) URL") == "bad_url"
    assert failure_reason("bad URL: Invalid port") == "bad_url"
    assert failure_reason("HTTP 302") == "http_3xx"
    assert failure_reason("request failed: something new") == "other"

"""A real HTTP server standing in for a customer's IVR app (and a callback receiver) in tests.

Routes map a path to a function ``(params) -> str | (status, body) | (status, body, delay_seconds)``;
every request is recorded with its method and parameters (query string and form body merged).
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

import gevent
from gevent.pywsgi import WSGIServer

from tests.conftest import nodelay_listener


class AppServer:
    """gevent WSGI server on a free loopback port; ``url(path)`` gives absolute URLs."""

    def __init__(self):
        self.routes: dict = {}
        self.requests: list[dict] = []
        listener = nodelay_listener()  # the runtime keeps its connection alive: no 40 ms Nagle wait per fetch
        self.port = listener.getsockname()[1]
        self.server = WSGIServer(listener, self._app, log=None, error_log=None)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, handler) -> None:
        self.routes[path] = handler

    def requests_to(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def _app(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        params = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        body = ""
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length).decode()
            if "json" not in environ.get("CONTENT_TYPE", ""):
                params.update(parse_qsl(body, keep_blank_values=True))
        self.requests.append({"path": path, "method": environ.get("REQUEST_METHOD"), "params": params,
                              "body": body, "at": time.monotonic()})
        handler = self.routes.get(path)
        if handler is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        out = handler(params)
        status, body, delay = 200, out, 0.0
        if isinstance(out, tuple):
            status, body = out[0], out[1]
            delay = out[2] if len(out) > 2 else 0.0
        if delay:
            gevent.sleep(delay)
        if isinstance(status, int) and 300 <= status < 400:
            start_response(f"{status} Redirect", [("Location", body), ("Content-Length", "0")])
            return [b""]
        data = body.encode() if isinstance(body, str) else body
        start_response(f"{status} X", [("Content-Type", "application/xml"), ("Content-Length", str(len(data)))])
        return [data]

    def start(self) -> "AppServer":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop(timeout=1)


def wav(seconds: float, sample: bytes = b"\0\0") -> bytes:
    """A WAV file an app serves as audio: 8 kHz 16-bit mono, ``seconds`` long, ``sample`` (2 or 4 bytes)
    repeated (silence by default)."""
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(sample * int(8000 * seconds * 2 / len(sample)))
    return buf.getvalue()

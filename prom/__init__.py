"""Prometheus plumbing shared by every long-running process: the on/off switch and ``/metrics``.

The metrics themselves are defined beside the code they measure (``api/metrics.py``,
``dialer/metrics.py``, ``ivr/metrics.py``; docs/metrics.md lists them all). This
package holds only what those share:

* :data:`ON` — whether anything is counted (METRICS_ENABLED). Every
  instrumentation helper returns at once when it is False, so metrics switched
  off cost one function call and one attribute read per instrumented event and
  nothing else (``bench/bench_metrics.py`` measures both ways);
  :func:`configure` sets it when a process starts.
* :func:`serve` — a process's ``/metrics`` on a port of its own (the dialer
  workers, the IVR runtime), served by gevent's WSGI server in the process's hub.
* :func:`render` — the text exposition of this process's metrics or, under
  gunicorn (``PROMETHEUS_MULTIPROC_DIR`` set, see ``api/gunicorn_conf.py``),
  of every worker process's together (prometheus_client's multiprocess mode).

It imports nothing of ours, so every package may import it.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

#: Whether metrics are counted (METRICS_ENABLED); read by every instrumentation helper.
ON = True

#: Buckets (seconds) for spans of the runtime's own work: tens of microseconds to a second.
FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
#: Buckets (seconds) for network round trips: HTTP requests, SQL transactions, callbacks.
NETWORK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def configure(enabled: bool) -> None:
    """Switch counting on or off for this process (entry points call it with METRICS_ENABLED)."""
    global ON
    ON = bool(enabled)


def multiprocess_dir() -> str:
    """The directory prometheus_client's multiprocess mode shares between processes ('' when not in it)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "") or os.environ.get("prometheus_multiproc_dir", "")


def registry():
    """The registry to expose: this process's, or under multiprocess mode one gathering every process's files."""
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client import multiprocess

    if multiprocess_dir():
        reg = CollectorRegistry()
        multiprocess.MultiProcessCollector(reg)
        return reg
    return REGISTRY


class _Only:
    """A registry's families whose names start with one of ``prefixes`` (what generate_latest needs: collect)."""

    def __init__(self, reg, prefixes: tuple[str, ...]):
        self.reg, self.prefixes = reg, prefixes

    def collect(self):
        """The selected families."""
        return (f for f in self.reg.collect() if f.name.startswith(self.prefixes))


def render(only: tuple[str, ...] = ()) -> tuple[bytes, str]:
    """(body, content type) of the text exposition of :func:`registry`; ``only``: just these name prefixes.

    A process imports other parts' metric modules (the API imports the dialer's, whose callbacks it can
    queue): ``only`` keeps their never-used zeros out of its exposition.
    """
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    reg = registry()
    return generate_latest(_Only(reg, only) if only else reg), CONTENT_TYPE_LATEST


def _app(environ, start_response, only: tuple[str, ...] = ()):
    """WSGI: ``GET /metrics`` (any path, as prometheus_client's own server answers) → the exposition."""
    try:
        body, ctype = render(only)
    except Exception as exc:  # noqa: BLE001 - a broken collector must not take the process's server down
        log.exception("rendering metrics failed")
        body, ctype = f"metrics unavailable: {exc}\n".encode(), "text/plain; charset=utf-8"
        start_response("500 Internal Server Error", [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [body]
    start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def serve(host: str, port: int, *, name: str = "metrics", only: tuple[str, ...] = ()):
    """Serve ``/metrics`` on ``host:port`` in this gevent process; the server, or None when off or not bound.

    ``only``: the name prefixes of the families shown (the process's own part; see :func:`render`).

    A port already taken is logged and skipped, not fatal: a dialer or runtime that cannot show its metrics
    must still place and run calls.
    """
    if not ON or not port:
        return None
    from gevent.pywsgi import WSGIServer

    server = WSGIServer((host, int(port)), lambda env, start: _app(env, start, only), log=None, error_log=None)
    try:
        server.start()
    except OSError as exc:
        log.warning("%s: cannot serve /metrics on %s:%s: %s", name, host, port, exc)
        return None
    log.info("%s: /metrics on http://%s:%s/metrics", name, host, server.server_port)
    return server

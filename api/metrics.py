"""Prometheus metrics of the HTTP API: requests by endpoint and status, latency histograms, and ``/metrics``.

:func:`install` adds two request hooks and the ``GET /metrics`` route to the
app. The endpoint label is the Flask URL rule (``/api/v1/Accounts/<account_id>/Calls``),
never the raw path, so account ids and request ids do not each make a time
series; a request no rule matched is counted under ``(unmatched)``.

Under gunicorn every worker process counts into prometheus_client's
multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, set up by
``api/gunicorn_conf.py``) and ``/metrics`` on any worker shows the sum of all
of them; in one process (tests, ``flask run``) it shows that process's.
Nothing is counted when metrics are off (METRICS_ENABLED=0), and ``/metrics``
answers 404 then.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import Counter, Histogram

import prom

REQUESTS = Counter("vaani_api_requests_total", "HTTP requests answered, by method, endpoint (URL rule) and status.",
                   ["method", "endpoint", "status"])
LATENCY = Histogram("vaani_api_request_duration_seconds",
                    "Time from a request's start to its response being ready, by method and endpoint (URL rule).",
                    ["method", "endpoint"], buckets=prom.NETWORK_BUCKETS)

UNMATCHED = "(unmatched)"


def _started() -> None:
    if prom.ON:
        g._metrics_t0 = time.perf_counter()


def _answered(response: Response) -> Response:
    t0 = g.pop("_metrics_t0", None)
    if t0 is None:
        return response
    rule = request.url_rule
    endpoint = rule.rule if rule is not None else UNMATCHED
    REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
    LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - t0)
    return response


def metrics_view():
    """``GET /metrics``: the Prometheus text exposition (every gunicorn worker's, summed)."""
    if not prom.ON:
        return Response("metrics are off (METRICS_ENABLED=0)\n", status=404, mimetype="text/plain")
    body, ctype = prom.render(only=("vaani_api_", "process_", "python_"))
    return Response(body, status=200, headers={"Content-Type": ctype})


def install(app: Flask, enabled: bool = True) -> None:
    """Count every request of ``app`` and serve ``/metrics`` (``enabled``: METRICS_ENABLED)."""
    prom.configure(enabled)
    app.before_request(_started)
    app.after_request(_answered)
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])

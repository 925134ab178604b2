"""METRICS_ENABLED=0 is a real off: nothing counted anywhere, no /metrics served (what bench_metrics compares with)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

import prom


@pytest.fixture
def metrics_off(tmp_path):
    from api.app import create_app
    from config import load

    app = create_app(load({"DATA_DIR": str(tmp_path), "METRICS_ENABLED": "0", "REDIS_KEY_PREFIX": "test-metrics-off"}),
                     migrate=False)  # /health and /metrics need no tables
    try:
        yield app
    finally:
        prom.configure(True)  # the switch is process-wide: the rest of the suite counts


def _value(name: str, labels: dict | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_nothing_is_counted_or_served_when_off(metrics_off):
    from dialer import metrics as dialer_metrics
    from ivr.metrics import Metrics

    assert prom.ON is False
    client = metrics_off.test_client()
    labels = {"method": "GET", "endpoint": "/health", "status": "200"}
    before = _value("vaani_api_requests_total", labels)
    assert client.get("/health").status_code == 200
    assert _value("vaani_api_requests_total", labels) == before
    reply = client.get("/metrics")
    assert reply.status_code == 404 and b"METRICS_ENABLED=0" in reply.data

    class A:
        call_type, origination_uuid, hangup_cause, dial_status, fs_node = "campaign", "u-off", "USER_BUSY", "BUSY", "n"

    failed = {"call_type": "campaign", "cause": "USER_BUSY", "status": "BUSY"}
    before_failed, before_sent = _value("vaani_dialer_failed_total", failed), _value("vaani_dialer_originates_total",
                                                                                     {"node": "n"})
    dialer_metrics.sent("n", None, 3)
    dialer_metrics.call_ended(A(), False)
    assert _value("vaani_dialer_failed_total", failed) == before_failed
    assert _value("vaani_dialer_originates_total", {"node": "n"}) == before_sent
    hist = "vaani_ivr_event_to_command_seconds_count"
    before_hist = _value(hist)
    m = Metrics(size=10)
    m.add("event_to_command", 0.001)
    assert _value(hist) == before_hist and len(m.samples["event_to_command"]) == 1  # the bench's own figures stay
    assert prom.serve("127.0.0.1", 1) is None  # nothing binds

    prom.configure(True)
    dialer_metrics.call_ended(A(), False)
    assert _value("vaani_dialer_failed_total", failed) == before_failed + 1

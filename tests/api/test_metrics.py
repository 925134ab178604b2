"""Prometheus metrics scraped over HTTP during a simulated campaign, checked against the CDRs and the store.

Every part is a real process, started as ``make run`` starts it: the FreeSWITCH simulator, the IVR runtime
(``ivr serve``, its /metrics on IVR_METRICS_PORT), a dialer worker (``python -m dialer worker --metrics-port``)
and the API under gunicorn with two gevent workers (multiprocess mode: /metrics on either worker sums both).
The customer's app and callback receiver are real HTTP servers in this process. A seed-002 campaign and a
Konnect call request go through the API; while the campaign runs, the dialer's pacing gauges are scraped; when
everything has settled, each /metrics is scraped again and its counters must equal what the CDRs, the callback
tries and the servers' own logs say.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port
from tests.dialer.engine_helpers import Sim

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KOOKOO = b"<response><playtext>Hello</playtext><playtext>from the metrics test</playtext><hangup/></response>"

#: Campaign contacts and what the simulator's default scenario does with them (by suffix).
CAMPAIGN = ["919876500001", "919876500002", "919876500555",  # answer; ...555's app answers HTTP 500
            "919876500486", "919876500480", "919876500603"]  # busy, no user response, rejected
KONNECT = ["919876500011", "919876500404"]  # answer; unallocated number


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """One scrape of ``url``: {(sample name, sorted labels): value}."""
    reply = requests.get(url, timeout=5)
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(reply.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def total(samples: dict, name: str, **labels) -> float:
    """Sum of the samples named ``name`` whose labels include ``labels``."""
    return sum(v for (n, lab), v in samples.items()
               if n == name and all(dict(lab).get(k) == w for k, w in labels.items()))


def by_label(samples: dict, name: str, *keys: str) -> dict[tuple, float]:
    """Samples named ``name`` summed by the values of the labels ``keys`` (zeros left out)."""
    out: dict[tuple, float] = collections.Counter()
    for (n, lab), v in samples.items():
        if n == name and v:
            d = dict(lab)
            out[tuple(d.get(k, "") for k in keys)] += v
    return dict(out)


class Servers:
    """The customer's app (KooKoo; HTTP 500 for one number) and callback receiver (503 twice, then 200)."""

    def __init__(self):
        from gevent.pywsgi import WSGIServer

        self.app_ok = self.app_failed = 0
        self.callbacks: list[int] = []
        self.app = WSGIServer(("127.0.0.1", 0), self._app, log=None, error_log=None)
        self.receiver = WSGIServer(("127.0.0.1", 0), self._receiver, log=None, error_log=None)
        self.app.start()
        self.receiver.start()

    def _app(self, environ, start_response):
        if "500555" in environ.get("QUERY_STRING", ""):
            self.app_failed += 1
            start_response("500 Internal Server Error", [("Content-Length", "0")])
            return [b""]
        self.app_ok += 1
        start_response("200 OK", [("Content-Type", "application/xml"), ("Content-Length", str(len(KOOKOO)))])
        return [KOOKOO]

    def _receiver(self, environ, start_response):
        environ["wsgi.input"].read()
        status = 503 if len(self.callbacks) < 2 else 200
        self.callbacks.append(status)
        start_response(f"{status} X", [("Content-Length", "0")])
        return [b""]

    def url(self, server, path: str) -> str:
        return f"http://127.0.0.1:{server.server_port}{path}"

    def stop(self):
        self.app.stop(timeout=1)
        self.receiver.stop(timeout=1)


def _wait(predicate, timeout: float, what: str, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(step)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def stack(tmp_path, redis_url, key_prefix):
    """Simulator, IVR runtime, dialer worker and gunicorn API as processes, on one SQLite file and Redis prefix."""
    from dialer.store import db

    db_url = f"sqlite:///{tmp_path / 'vaani.db'}"
    db.init_db(db_url)  # migrated once, before three processes open it
    sim = Sim(free_port(), speed=50)
    ports = {k: free_port() for k in ("http", "ivr", "ivr_metrics", "dialer_metrics")}
    env = {k: v for k, v in os.environ.items() if k.upper() != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({
        "DATA_DIR": str(tmp_path), "DATABASE_URL": db_url, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": key_prefix,
        "FREESWITCH_NODES": f"127.0.0.1:{sim.port}:ClueCon:10000:5000", "IVR_LISTEN": f"127.0.0.1:{ports['ivr']}",
        "DIALER_GATEWAY_CPS": "0", "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(ports["http"]), "HTTP_WORKERS": "2",
        "METRICS_ENABLED": "1", "METRICS_HOST": "127.0.0.1", "IVR_METRICS_PORT": str(ports["ivr_metrics"]),
        "CALLBACK_BACKOFF": "0.2", "CALLBACK_READ_TIMEOUT": "2", "LOG_LEVEL": "WARNING",
    })
    bindir = os.path.dirname(sys.executable)
    procs = [
        subprocess.Popen([os.path.join(bindir, "ivr"), "serve", "--log-level", "WARNING"], env=env, cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True),
        subprocess.Popen([sys.executable, "-m", "dialer", "worker", "--metrics-port", str(ports["dialer_metrics"])],
                         env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True),
        subprocess.Popen([os.path.join(bindir, "gunicorn"), "-c", "python:api.gunicorn_conf", "api.wsgi:app"],
                         env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True),
    ]
    urls = {"api": f"http://127.0.0.1:{ports['http']}/metrics",
            "ivr": f"http://127.0.0.1:{ports['ivr_metrics']}/metrics",
            "dialer": f"http://127.0.0.1:{ports['dialer_metrics']}/metrics",
            "base": f"http://127.0.0.1:{ports['http']}", "db": db_url, "prefix": key_prefix}
    try:
        for name in ("ivr", "dialer", "api"):
            _wait(lambda: _answers(urls[name]) or any(p.poll() is not None for p in procs), 40, f"{name} /metrics")
            assert all(p.poll() is None for p in procs), "a process of the stack died at start-up"
        yield urls
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGQUIT if p is procs[-1] else signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        sim.stop()
        db.dispose(db_url)


def _campaign(base: str, acct, app_url: str) -> str:
    headers = {"account": acct.account_id, "auth": acct.auth}
    post = lambda path, body: requests.post(base + path, json=body, headers=headers, timeout=10)  # noqa: E731
    list_id = post("/api/create_campaign_list", {"list_name": "m"}).json()["response"]["list_id"]
    r = post("/api/add_contact_to_list", {"list_id": list_id, "contacts": [
        {"contact_name": f"c{i}", "contact_number": n} for i, n in enumerate(CAMPAIGN)]})
    assert r.status_code == 200, r.text
    start = dt.datetime.utcnow() - dt.timedelta(minutes=1)
    r = post("/api/create_campaign", {
        "list_id": list_id, "campaign_name": "metrics", "campaign_type": "1", "ivr_app_url": app_url,
        "campaign_caller_id": "15168148111", "dynamic_announcement": "0", "recorded_filename": "",
        "announcement_text": "", "campaign_start_date": start.strftime("%Y-%m-%d %H:%M:%S"),
        "campaign_end_date": (start + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"), "time_zone": "UTC",
        "repeat": "1", "max_retries": "0", "retry_time": "60", "calls_per_minute": "120"})
    assert r.status_code == 200, r.text
    return r.json()["response"]["campaign_id"]


def test_each_metrics_endpoint_matches_the_cdrs(stack):
    import sqlalchemy as sa

    from dialer.store import accounts, db
    from dialer.store.models import CallbackDelivery, CallbackTry, Cdr

    servers = Servers()
    try:
        with db.session_scope(stack["db"]) as s:
            acct = accounts.create_account(s, "metrics", ip_allowlist=["127.0.0.1/32"])
        base = stack["base"]
        before = scrape(stack["api"])
        for _ in range(3):
            assert requests.get(base + f"/no/such/{acct.account_id}", timeout=5).status_code == 404
        campaign_id = _campaign(base, acct, servers.url(servers.app, "/app.xml"))
        r = requests.post(base + f"/api/v1/Accounts/{acct.account_id}/Calls", timeout=10,
                          headers={"Authorization": acct.api_token},
                          json={"id": "metrics-1", "caller_id": "919221001234", "recipient": KONNECT,
                                "direction": "outbound", "doc_url": servers.url(servers.app, "/konnect.xml"),
                                "callback_url": servers.url(servers.receiver, "/cb")})
        assert r.status_code == 200, r.text

        # While the campaign runs: its cap and the rate this worker achieves, per campaign.
        def pacing():
            d = scrape(stack["dialer"])
            achieved = total(d, "vaani_dialer_campaign_achieved_per_minute", campaign=campaign_id)
            return d if achieved > 0 else None
        during = _wait(pacing, 20, "the campaign's pacing gauges", step=0.05)
        assert total(during, "vaani_dialer_campaign_calls_per_minute", campaign=campaign_id) == 120
        assert total(during, "vaani_dialer_campaign_cap_per_minute", campaign=campaign_id) == 120
        assert 0 < total(during, "vaani_dialer_campaign_achieved_per_minute", campaign=campaign_id) <= 120 * 1.1

        # Settled: every call has its CDR, every answered call its IVR half, every callback its last try.
        def settled():
            with db.session_scope(stack["db"]) as s:
                cdrs = s.execute(sa.select(Cdr).where(Cdr.account_id == acct.account_id)).scalars().all()
                open_ = s.scalar(sa.select(sa.func.count()).select_from(CallbackDelivery)
                                 .where(CallbackDelivery.status.in_(("pending", "sending"))))
                done = s.scalar(sa.select(sa.func.count()).select_from(CallbackDelivery))
                facts = [c for c in cdrs if c.dial_status == "ANSWER" and not c.ivr_recorded]
            last[:] = [[(c.dialed_number, c.dial_status, c.ivr_recorded) for c in cdrs], done, open_]
            return len(cdrs) == len(CAMPAIGN) + len(KONNECT) and not facts and done >= 3 and not open_
        last: list = []
        try:
            _wait(settled, 60, "every CDR and callback")
        except AssertionError:
            raise AssertionError(f"not settled: {last}") from None
        with db.session_scope(stack["db"]) as s:
            cdrs = [(c.dial_status, c.hangup_cause or "", c.call_type)
                    for c in s.execute(sa.select(Cdr).where(Cdr.account_id == acct.account_id)).scalars()]
            tries = [t.try_no for t in s.execute(sa.select(CallbackTry)).scalars()]
            delivered = s.scalar(sa.select(sa.func.count()).select_from(CallbackDelivery)
                                 .where(CallbackDelivery.status == "delivered"))
        answered = [c for c in cdrs if c[0] == "ANSWER"]
        failed = collections.Counter((cause, status) for status, cause, _ in cdrs if status != "ANSWER")
        assert len(answered) == 4 and sum(failed.values()) == 4, cdrs

        # The dialer's counters are the CDRs': originated, answered, failed by cause and dial status.
        def dialer_matches():
            d = scrape(stack["dialer"])
            ok = (total(d, "vaani_dialer_originates_total") == len(cdrs)
                  and total(d, "vaani_dialer_answered_total") == len(answered)
                  and by_label(d, "vaani_dialer_failed_total", "cause", "status") == dict(failed))
            return d if ok else None
        try:
            d = _wait(dialer_matches, 5, "the dialer's counters to match the CDRs")
        except AssertionError:
            d = scrape(stack["dialer"])
            assert by_label(d, "vaani_dialer_failed_total", "cause", "status") == dict(failed)
            assert total(d, "vaani_dialer_answered_total") == len(answered)
            assert total(d, "vaani_dialer_originates_total") == len(cdrs)
            raise
        by_type = collections.Counter(t for s_, _, t in cdrs if s_ == "ANSWER")
        assert by_label(d, "vaani_dialer_answered_total", "call_type") == {(t,): n for t, n in by_type.items()}
        assert total(d, "vaani_dialer_claimed_attempts_total") == len(cdrs)
        assert total(d, "vaani_dialer_claims_total") >= 2 and total(d, "vaani_dialer_claim_seconds_count") >= 2
        assert total(d, "vaani_dialer_event_lag_seconds_count") >= len(cdrs)
        assert total(d, "vaani_dialer_events_applied_total") >= len(cdrs)
        assert total(d, "vaani_dialer_live_launches") == 0 and total(d, "vaani_dialer_event_backlog") == 0
        assert total(d, "vaani_dialer_esl_reconnects_total") == 0
        # Callbacks: every try the receiver saw, the two it refused retried, three deliveries made.
        assert total(d, "vaani_callback_tries_total") == len(servers.callbacks) == len(tries)
        assert total(d, "vaani_callback_tries_total", outcome="retry") == servers.callbacks.count(503) == 2
        assert total(d, "vaani_callback_tries_total", outcome="delivered") == delivered == 3
        assert total(d, "vaani_callback_retries_total") == sum(1 for t in tries if t > 1)
        # Queues drained; the node's own status report: sessions, its sps ceiling and the headroom under it.
        queues = {dict(lab)["queue"] for (n, lab) in d if n == "vaani_rq_queue_depth"}
        assert queues == {f"{stack['prefix']}-records", f"{stack['prefix']}-callbacks"}
        assert total(d, "vaani_rq_queue_depth") == 0
        assert total(d, "vaani_freeswitch_node_up") == 1
        assert total(d, "vaani_freeswitch_node_max_sessions") == 10000
        assert total(d, "vaani_freeswitch_node_sps_max") == 5000
        assert 0 < total(d, "vaani_freeswitch_node_sps_headroom") <= 5000
        assert total(d, "vaani_freeswitch_node_slots_in_use") == 0

        # The IVR runtime: one call per answered CDR, the app's failure by its reason, fetches as the app saw them.
        ivr = scrape(stack["ivr"])
        assert total(ivr, "vaani_ivr_calls_started_total") == len(answered)
        assert total(ivr, "vaani_ivr_calls_finished_total") == len(answered)
        assert total(ivr, "vaani_ivr_live_calls") == 0
        assert total(ivr, "vaani_ivr_calls_apologised_total") == 1
        assert servers.app_failed >= 1
        assert by_label(ivr, "vaani_ivr_app_fetch_failures_total", "reason") == {("http_5xx",): servers.app_failed}
        assert total(ivr, "vaani_ivr_app_fetch_seconds_count") == servers.app_ok > 0
        # Each good call's second prompt answers its first's completion (the apologised call has none).
        assert total(ivr, "vaani_ivr_event_to_command_seconds_count") >= len(answered) - 1
        assert total(ivr, "vaani_ivr_connect_to_first_request_seconds_count") == len(answered)

        # The API (two gunicorn workers, summed): requests by URL rule, never by raw path, and their latencies.
        api = scrape(stack["api"])
        diff = lambda name, **lab: total(api, name, **lab) - total(before, name, **lab)  # noqa: E731
        assert diff("vaani_api_requests_total", endpoint="(unmatched)", status="404") == 3
        calls_rule = "/api/v1/Accounts/<account_id>/Calls"
        assert diff("vaani_api_requests_total", endpoint=calls_rule, method="POST", status="200") == 1
        assert diff("vaani_api_requests_total", endpoint="/api/create_campaign", status="200") == 1
        assert diff("vaani_api_request_duration_seconds_count", endpoint=calls_rule) == 1
        assert not any(acct.account_id in dict(lab).get("endpoint", "") for (_, lab) in api)
    finally:
        servers.stop()

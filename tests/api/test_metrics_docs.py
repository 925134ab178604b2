"""docs/metrics.md lists every metric; the shipped dashboard, recording rules and scrape config name only real ones."""

from __future__ import annotations

import json
import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _families() -> dict[str, str]:
    """Our metric families by name → type, as prometheus_client registers them."""
    import api.metrics  # noqa: F401 - each module registers its metrics on import
    import dialer.metrics  # noqa: F401
    import ivr.metrics  # noqa: F401
    from prometheus_client import REGISTRY

    return {f.name: f.type for f in REGISTRY.collect() if f.name.startswith("vaani_")}


def _exposed(families: dict[str, str]) -> set[str]:
    """The series names a scrape shows (counters with _total, histograms with _bucket/_count/_sum)."""
    out = set()
    for name, kind in families.items():
        if kind == "counter":
            out.add(name + "_total")
        elif kind == "histogram":
            out |= {name, name + "_bucket", name + "_count", name + "_sum"}
        else:
            out.add(name)
    return out


def _read(*parts: str) -> str:
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as fh:
        return fh.read()


def test_the_docs_list_every_metric_and_no_other():
    families = _families()
    doc = _read("docs", "metrics.md")
    listed = set(re.findall(r"^\| `(vaani_[a-z_]+)`", doc, re.M))
    wanted = {n + "_total" if t == "counter" else n for n, t in families.items()}
    assert listed == wanted, (sorted(wanted - listed), sorted(listed - wanted))


def test_dashboard_and_rules_name_real_metrics():
    exposed = _exposed(_families())
    dashboard = json.loads(_read("deploy", "grafana-dashboard.json"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 20
    rules = yaml.safe_load(_read("deploy", "prometheus-rules.yml"))
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    used = {m for e in exprs for m in re.findall(r"\bvaani_[a-z_]+", e)}
    assert used and used <= exposed, sorted(used - exposed)
    # Every metric family appears somewhere on the dashboard.
    shown = {re.sub(r"_(bucket|count|sum|total)$", "", m) for m in used}
    assert set(_families()) - shown <= {"vaani_ivr_event_to_command_with_fetch_seconds",
                                        "vaani_ivr_connect_to_first_request_seconds",
                                        "vaani_ivr_calls_finished", "vaani_dialer_events_applied",
                                        "vaani_freeswitch_node_max_sessions_configured",
                                        "vaani_freeswitch_node_sps_configured"}


def test_the_scrape_config_targets_the_default_ports():
    from config import load

    cfg = load({})
    scrape = yaml.safe_load(_read("deploy", "prometheus.yml"))
    targets = {j["job_name"]: j["static_configs"][0]["targets"] for j in scrape["scrape_configs"]}
    assert targets == {"vaani-api": [f"127.0.0.1:{cfg.http_port}"],
                       "vaani-dialer": [f"127.0.0.1:{cfg.dialer_metrics_port}"],
                       "vaani-ivr": [f"127.0.0.1:{cfg.ivr_metrics_port}"]}
    assert scrape["rule_files"] == ["prometheus-rules.yml"]

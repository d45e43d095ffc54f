"""docs/metrics.md and the Grafana dashboard name the metrics conveyor exports."""

from __future__ import annotations

import json
import re

from tests.support import ROOT

EXPORTED = {
    "conveyor_jobs", "conveyor_workers_alive", "conveyor_attempts_started_total",
    "conveyor_attempts_completed_total", "conveyor_attempts_failed_total",
    "conveyor_attempts_retried_total", "conveyor_run_duration_seconds",
    "conveyor_start_latency_seconds",
}


def test_metrics_doc_lists_every_exported_metric() -> None:
    text = (ROOT / "docs" / "metrics.md").read_text()
    listed = set(re.findall(r"^\| `(conveyor_[a-z_]+)` \|", text, re.M))
    assert listed == EXPORTED


def test_grafana_dashboard_queries_only_exported_metrics() -> None:
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {re.sub(r"_(bucket|count|sum)$", "", m)
            for e in exprs for m in re.findall(r"conveyor_[a-z_]+", e)}
    assert used and used <= EXPORTED

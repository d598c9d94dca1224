"""Static checks of the Grafana dashboard: layout, datasource, the metrics it queries."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from .conftest import DASHBOARD

# Metric names the services export (agreed names), plus the shared service kit's own names.
METRICS = {
    "triage_cases_total",
    "triage_prediction_confidence",
    "triage_deadletter_total",
    "triage_outbox_pending",
    "http_requests_total",
    "router_cases_assigned_total",
    "router_cases_escalated_total",
    "router_reassignments_total",
    "router_time_to_owner_seconds",
    "router_notifications_total",
    "router_notifications_failed",
    "router_swarms_open",
    "router_realised_precision",
    "router_squad_demotions_total",
    "deadletter_total",
    "outbox_pending",
    "catalogue_problems",
}
HISTOGRAMS = {"triage_prediction_confidence", "router_time_to_owner_seconds"}


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
                "and", "or", "unless", "inf", "nan"}  # fmt: skip


def _metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (functions, keywords and label names dropped)."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    stripped = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", stripped)
    stripped = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", stripped
    )
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", stripped):
        word, rest = match.group(0), stripped[match.end() :].lstrip()
        if word.lower() in PROMQL_WORDS or rest.startswith("("):
            continue
        for suffix in ("_bucket", "_sum", "_count"):
            if word.endswith(suffix) and word.removesuffix(suffix) in HISTOGRAMS:
                word = word.removesuffix(suffix)
        names.add(word)
    return names


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_dashboard_has_a_prometheus_datasource_variable(dashboard: dict[str, Any]) -> None:
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    uid = "${" + variable["name"] + "}"
    for panel in _panels(dashboard):
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip() and target["datasource"]["uid"] == uid


def test_dashboard_panels_do_not_overlap(dashboard: dict[str, Any]) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24
        area = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not area & cells, panel["title"]
        cells |= area


def test_dashboard_uses_only_exported_metrics_and_covers_them(dashboard: dict[str, Any]) -> None:
    used: set[str] = set()
    for panel in _panels(dashboard):
        for target in panel["targets"]:
            expr = target["expr"]
            assert expr.count("(") == expr.count(")"), expr
            names = _metric_names(expr)
            assert names and names <= METRICS, (panel["title"], names - METRICS)
            used |= names
    assert METRICS - {"deadletter_total", "outbox_pending"} <= used
    exprs = [t["expr"] for p in _panels(dashboard) for t in p["targets"]]
    for q in ("0.5", "0.9"):
        assert any(f"histogram_quantile({q}, " in e and "time_to_owner" in e for e in exprs)


def test_dashboard_queries_parse_as_promql(dashboard: dict[str, Any]) -> None:
    parser = pytest.importorskip("promql_parser", reason="promql-parser is not installed")
    for panel in _panels(dashboard):
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", "5m").replace("$window", "1d")
            parser.parse(expr)


def test_metric_name_extraction() -> None:
    expr = (
        "histogram_quantile(0.9, sum by (le, squad) (rate(router_time_to_owner_seconds_bucket"
        '{squad!="x"}[5m]))) / on (job) group_left sum(up offset 1h) or vector(0)'
    )
    assert _metric_names(expr) == {"router_time_to_owner_seconds", "up"}

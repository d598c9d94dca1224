"""Prometheus metrics of the router (exposed on `/metrics`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CASES_ASSIGNED = Counter(
    "router_cases_assigned_total", "Cases assigned, by squad and by whom", ["squad", "by"]
)
CASES_ESCALATED = Counter(
    "router_cases_escalated_total", "Cases escalated to Service Delivery", ["reason"]
)
REASSIGNMENTS = Counter(
    "router_reassignments_total", "Cases a person moved to another squad (misroutes)"
)
TIME_TO_OWNER = Histogram(
    "router_time_to_owner_seconds",
    "From receipt to the assignment the owning squad acknowledged",
    buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800),
)
NOTIFICATIONS = Counter(
    "router_notifications_total", "Delivery attempts by channel and outcome", ["channel", "status"]
)
NOTIFICATIONS_THROTTLED = Counter(
    "router_notifications_throttled_total",
    "Assignment messages not sent: their case had reached its notification limit",
)
NOTIFICATIONS_FAILED = Gauge(
    "router_notifications_failed", "Notifications that finally failed (need attention)"
)
SWARMS_OPEN = Gauge("router_swarms_open", "Swarms currently open")
SWEEP_ERRORS = Counter(
    "router_sweep_errors_total",
    "Ack-timeout escalations that failed (the case is retried on the next sweep)",
)
JSON_STRUCTURED = Counter(
    "router_json_structured_events_total",
    "Records whose JSON value was a whole CloudEvent under a JSON content type (the classic "
    "CloudEvents SDK to_structured), read as structured mode",
    ["topic"],
)
REALISED_PRECISION = Gauge(
    "router_realised_precision",
    "Share of a squad's automatic assignments in its watch window not corrected by a person",
    ["squad"],
)
DEMOTIONS = Counter(
    "router_squad_demotions_total",
    "Squads demoted to suggest because their realised precision fell",
    ["squad"],
)

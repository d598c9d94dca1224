"""Prometheus metrics of the triage service (registered once, at import)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

CASES = Counter("triage_cases_total", "Cases classified and stored", ["source", "decision"])
CONFIDENCE = Histogram(
    "triage_prediction_confidence",
    "Confidence of the predicted squad",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
)
DUPLICATES = Counter(
    "triage_duplicates_total", "Cases skipped or replayed as duplicates", ["reason"]
)
LABELS = Counter("triage_labels_total", "Correction labels recorded from reassignments")
RETRAINS = Counter(
    "triage_model_retrains_total", "Model retrains by outcome (succeeded, failed)", ["outcome"]
)
PROMOTIONS = Counter(
    "triage_model_promotions_total",
    "Challengers judged by a retrain (promoted, rejected) and promotions by hand (manual)",
    ["decision"],
)
JSON_STRUCTURED = Counter(
    "triage_json_structured_events_total",
    "Records whose JSON value was a whole CloudEvent under a JSON content type (the classic "
    "CloudEvents SDK to_structured), read as structured mode",
    ["topic"],
)

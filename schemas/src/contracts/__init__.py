"""Contracts shared by the support-triage services.

Everything that crosses a service boundary lives here once: case bodies, triage results,
CloudEvents envelope and Kafka wire codec, topic names, lifecycle events and the service
catalogue model. Services import from here; they never share tables.

The package depends on pydantic (models) and PyYAML (the Backstage catalogue is YAML).

How the contracts evolve (the rule, also in the README):

- A change within a version only adds optional fields (with a default); removing or renaming
  a field, changing its type or meaning, or adding a required field makes a new type and
  topic version (`support.case.received.v2`), published alongside v1 until consumers move.
- Strict on HTTP: request bodies refuse unknown fields (422 naming them), so a client learns
  at once that the server does not know a field yet.
- Tolerant on Kafka: consumers ignore unknown fields at every level of the event data
  (`contracts.wire.parse_data`), so a producer may be upgraded before its consumers without
  its events being dead-lettered. The JSON Schemas still describe what a producer may send.
- Idempotency hashes only the fields that differ from their defaults, so a body sent before
  a field was added hashes the same after the deploy and its retry replays (triage's
  `request_hash`).
"""

from contracts.cases import (
    Candidate,
    CaseSource,
    CaseSubmission,
    Decision,
    MatchedComponent,
    Priority,
    Recommendation,
    Reporter,
    ThresholdSource,
    TriageResult,
)
from contracts.envelope import CloudEvent
from contracts.ids import new_event_id, new_id
from contracts.problems import FieldError, Problem
from contracts.topics import Topics

__all__ = [
    "Candidate",
    "CaseSource",
    "CaseSubmission",
    "CloudEvent",
    "Decision",
    "FieldError",
    "MatchedComponent",
    "Priority",
    "Problem",
    "Recommendation",
    "Reporter",
    "ThresholdSource",
    "Topics",
    "TriageResult",
    "new_event_id",
    "new_id",
]

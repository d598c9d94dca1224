"""Contracts shared by the support-triage services.

Everything that crosses a service boundary lives here once: case bodies, triage results,
CloudEvents envelope and Kafka wire codec, topic names, lifecycle events and the service
catalogue model. Services import from here; they never share tables.

The package depends on pydantic (models) and PyYAML (the Backstage catalogue is YAML).
"""

from contracts.cases import (
    Candidate,
    CaseSource,
    CaseSubmission,
    Decision,
    MatchedComponent,
    Priority,
    Reporter,
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
    "Reporter",
    "Topics",
    "TriageResult",
    "new_event_id",
    "new_id",
]

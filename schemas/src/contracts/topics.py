"""Kafka topic names and CloudEvents types."""

from __future__ import annotations

from pydantic import BaseModel

# CloudEvents types
CASE_RECEIVED = "support.case.received.v1"
CASE_TRIAGED = "support.case.triaged.v1"
CASE_ASSIGNED = "support.case.assigned.v1"
CASE_ESCALATED = "support.case.escalated.v1"
CASE_REASSIGNED = "support.case.reassigned.v1"
CASE_ACKNOWLEDGED = "support.case.acknowledged.v1"
CASE_RESOLVED = "support.case.resolved.v1"
SWARM_OPENED = "support.swarm.opened.v1"
SWARM_CLOSED = "support.swarm.closed.v1"

LIFECYCLE_TYPES = (
    CASE_ASSIGNED,
    CASE_ESCALATED,
    CASE_REASSIGNED,
    CASE_ACKNOWLEDGED,
    CASE_RESOLVED,
    SWARM_OPENED,
    SWARM_CLOSED,
)


class Topics(BaseModel):
    """Topic names; every one can be overridden by configuration."""

    received: str = "support.case.received.v1"
    triaged: str = "support.case.triaged.v1"
    lifecycle: str = "support.case.lifecycle.v1"
    deadletter: str = "support.case.deadletter.v1"

"""What happened to a case or swarm: the router's domain events, in the past tense.

`router.domain.lifecycle.transition` returns the events a lifecycle action caused; the swarm
steps of the desk add `SwarmClosed` and `SwarmJoined`. `router.service.effects` maps each
event, once, to what the router writes and counts: its lifecycle CloudEvent (the
`contracts.events` payload of the same name, e.g. `CaseAssigned`), its routing-history entry,
the notifications it causes and the metrics it counts.

| event           | caused by                          | notifies                          |
|-----------------|------------------------------------|-----------------------------------|
| CaseAssigned    | Assign (automatic, or by a person  | the squad (`assigned`); Service   |
|                 | to the case's own/predicted squad) | Delivery when the squad has no    |
|                 |                                    | channel (`unreachable_squad`)     |
| CaseReassigned  | Assign by a person to another squad| the new squad (`reassigned`); the |
|                 |                                    | same for a squad with no channel  |
| CaseEscalated   | Escalate, AckTimeout               | Service Delivery (`escalated`,    |
|                 |                                    | or `ack_timeout`)                 |
| SwarmOpened     | OpenSwarm                          | each member (`swarm_opened`)      |
| CaseAcknowledged| Acknowledge                        | --                                |
| CaseResolved    | Resolve                            | --                                |
| SwarmClosed     | closing a swarm (desk)             | --                                |
| SwarmJoined     | inviting a squad (desk)            | the squad (`swarm_opened`)        |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contracts.events import EscalationReason
from router.domain.swarm import Swarm


@dataclass(frozen=True, slots=True)
class CaseAssigned:
    """The case was assigned to `squad` (automatically unless `manual`)."""

    squad: str
    by: str
    manual: bool
    ack_deadline: datetime | None
    note: str | None
    from_squad: str | None


@dataclass(frozen=True, slots=True)
class CaseReassigned:
    """A person moved the case to `squad`, away from its squad (or from the prediction when
    it had none): a correction, and a training label for triage."""

    squad: str
    by: str
    ack_deadline: datetime | None
    note: str | None
    from_squad: str | None
    predicted_squad: str | None


@dataclass(frozen=True, slots=True)
class CaseEscalated:
    """The case went to Service Delivery for `reason`; `squads` are the plausible ones."""

    reason: EscalationReason
    squads: tuple[str, ...]
    detail: str
    by: str
    from_squad: str | None


@dataclass(frozen=True, slots=True)
class SwarmOpened:
    """A swarm opened on the escalated case."""

    swarm: Swarm
    by: str


@dataclass(frozen=True, slots=True)
class CaseAcknowledged:
    """The assigned squad acknowledged the case."""

    squad: str
    by: str


@dataclass(frozen=True, slots=True)
class CaseResolved:
    """The case was resolved; `squad` is the squad it had."""

    squad: str | None
    by: str
    resolution: str | None


@dataclass(frozen=True, slots=True)
class SwarmClosed:
    """The swarm (as closed: owner and outcome) closed."""

    swarm: Swarm
    by: str


@dataclass(frozen=True, slots=True)
class SwarmJoined:
    """`squad` was invited into the swarm (as joined)."""

    swarm: Swarm
    squad: str
    by: str


DomainEvent = (
    CaseAssigned
    | CaseReassigned
    | CaseEscalated
    | SwarmOpened
    | CaseAcknowledged
    | CaseResolved
    | SwarmClosed
    | SwarmJoined
)

"""The case lifecycle in the router: one immutable state, one `match (status, action)`.

`transition(state, action)` returns a `Transition`: the new state and the domain events the
action caused (`router.domain.events`), which the service maps to lifecycle events, history,
notifications and metrics in one place (`router.service.effects`).

```
            Assign(auto)                 Acknowledge(assigned squad)
 triaged ───────────────▶ assigned ─────────────────────────▶ acknowledged
    │                     │  ▲  │ AckTimeout (once)                │
    │ Escalate            │  │  ▼                                  │
    └───────────────────▶ escalated ◀──── Escalate (by a person) ───┘
                             │ OpenSwarm
                             ▼
                          swarming ── Assign(manual) ──▶ assigned (closes the swarm)

 Resolve: from assigned, acknowledged, escalated, swarming  ──▶ resolved (terminal)
 Assign(manual): from triaged, assigned, acknowledged, escalated, swarming ──▶ assigned
```

Rules beyond the picture:

- An automatic assignment only happens from `triaged`, never to a squad in
  `moved_away_from` (no ping-pong).
- A manual assignment to another squad adds the previous squad to `moved_away_from`;
  the set only grows. Assigning a case that is assigned/acknowledged to its own squad is
  refused (nothing would change).
- A manual assignment is a correction (`CaseReassigned`) when it moves the case to another
  squad than its own or, when it has none, than the predicted one; else `CaseAssigned`.
- Only the assigned squad can acknowledge, and only while the case is `assigned`.
- `AckTimeout(now)` only from `assigned` and once the deadline has passed: afterwards the case
  is `escalated` (ack_timeout), so a second timeout is refused. `Escalate` cannot claim
  `ack_timeout` itself.
- `squad` keeps the last squad the case was assigned to, also while escalated, so that a later
  manual assignment records it in `moved_away_from`.

Refused transitions raise `InvalidTransition` (code `invalid_transition`, HTTP 409).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from contracts.events import EscalationReason
from router.domain.errors import InvalidTransition
from router.domain.events import (
    CaseAcknowledged,
    CaseAssigned,
    CaseEscalated,
    CaseReassigned,
    CaseResolved,
    DomainEvent,
    SwarmOpened,
)
from router.domain.swarm import Swarm

ROUTER = "router"
"""Who acts when the router itself assigns, escalates or opens a swarm."""


class LifecycleStatus(StrEnum):
    """Where a case is in the router."""

    TRIAGED = "triaged"
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    SWARMING = "swarming"


@dataclass(frozen=True, slots=True)
class CaseState:
    """The router's state of one case (`predicted_squad`, triage's prediction, tells a
    correction from an assignment)."""

    status: LifecycleStatus = LifecycleStatus.TRIAGED
    squad: str | None = None
    moved_away_from: frozenset[str] = frozenset()
    escalation_reason: EscalationReason | None = None
    ack_deadline: datetime | None = None
    predicted_squad: str | None = None


@dataclass(frozen=True, slots=True)
class Assign:
    """Assign to `squad`: automatically (`manual=False`, by the router) or by a person."""

    name: ClassVar[str] = "assign"
    squad: str
    by: str
    manual: bool = False
    ack_deadline: datetime | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Escalate:
    """Hand the case to Service Delivery; `squads` are the plausible ones, `detail` why."""

    name: ClassVar[str] = "escalate"
    reason: EscalationReason
    squads: tuple[str, ...] = ()
    detail: str = ""
    by: str = ROUTER


@dataclass(frozen=True, slots=True)
class OpenSwarm:
    """Service Delivery opens `swarm` for an escalated case."""

    name: ClassVar[str] = "open_swarm"
    swarm: Swarm
    by: str = ROUTER


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """The assigned squad acknowledges the case."""

    name: ClassVar[str] = "acknowledge"
    squad: str
    by: str


@dataclass(frozen=True, slots=True)
class Resolve:
    """The case is resolved."""

    name: ClassVar[str] = "resolve"
    by: str
    resolution: str | None = None


@dataclass(frozen=True, slots=True)
class AckTimeout:
    """The assigned squad did not acknowledge before the deadline; `now` is the check time."""

    name: ClassVar[str] = "ack_timeout"
    now: datetime


Action = Assign | Escalate | OpenSwarm | Acknowledge | Resolve | AckTimeout

_S = LifecycleStatus
_MANUAL_ASSIGN_FROM = (_S.TRIAGED, _S.ASSIGNED, _S.ACKNOWLEDGED, _S.ESCALATED, _S.SWARMING)
_RESOLVE_FROM = (_S.ASSIGNED, _S.ACKNOWLEDGED, _S.ESCALATED, _S.SWARMING)


@dataclass(frozen=True, slots=True)
class Transition:
    """The state after an action and the domain events it caused, in order."""

    state: CaseState
    events: tuple[DomainEvent, ...]


def _refuse(state: CaseState, action: Action, why: str = "") -> InvalidTransition:
    return InvalidTransition(state.status.value, action.name, why)


def _assigned(state: CaseState, action: Assign) -> Transition:
    moved = state.moved_away_from
    if state.squad is not None and state.squad != action.squad:
        moved = moved | {state.squad}
    new = replace(
        state,
        status=_S.ASSIGNED,
        squad=action.squad,
        moved_away_from=moved,
        escalation_reason=None,
        ack_deadline=action.ack_deadline,
    )
    previous = state.squad if state.squad is not None else state.predicted_squad
    event: DomainEvent
    if action.manual and action.squad != previous:
        event = CaseReassigned(
            squad=action.squad,
            by=action.by,
            ack_deadline=action.ack_deadline,
            note=action.note,
            from_squad=state.squad,
            predicted_squad=state.predicted_squad,
        )
    else:
        event = CaseAssigned(
            squad=action.squad,
            by=action.by,
            manual=action.manual,
            ack_deadline=action.ack_deadline,
            note=action.note,
            from_squad=state.squad,
        )
    return Transition(new, (event,))


def _escalated(state: CaseState, action: Escalate | AckTimeout) -> Transition:
    if isinstance(action, AckTimeout):
        squad, deadline = state.squad, state.ack_deadline
        escalated = CaseEscalated(
            reason=EscalationReason.ACK_TIMEOUT,
            squads=(squad,) if squad else (),
            detail=f"{squad} did not acknowledge by {deadline:%Y-%m-%d %H:%M:%S} UTC",
            by=ROUTER,
            from_squad=squad,
        )
    else:
        escalated = CaseEscalated(
            reason=action.reason,
            squads=action.squads,
            detail=action.detail,
            by=action.by,
            from_squad=state.squad,
        )
    new = replace(state, status=_S.ESCALATED, escalation_reason=escalated.reason, ack_deadline=None)
    return Transition(new, (escalated,))


def transition(state: CaseState, action: Action) -> Transition:
    """Apply `action` to `state`: the new state and the domain events the action caused.

    Args:
        state: The current state.
        action: What happened or was asked for.

    Returns:
        The next state (a new object; `state` is unchanged) and its events.

    Raises:
        InvalidTransition: The action is not allowed now (see the module docstring).
    """
    match (state.status, action):
        case (_S.TRIAGED, Assign(manual=False, squad=squad)) if squad in state.moved_away_from:
            raise _refuse(state, action, f"{squad!r} already handed this case on")
        case (_S.TRIAGED, Assign(manual=False)):
            return _assigned(state, action)
        case (_S.ASSIGNED | _S.ACKNOWLEDGED, Assign(manual=True, squad=squad)) if (
            squad == state.squad
        ):
            raise _refuse(state, action, f"the case is already assigned to {squad!r}")
        case (status, Assign(manual=True)) if status in _MANUAL_ASSIGN_FROM:
            return _assigned(state, action)
        case (_S.ASSIGNED, Acknowledge(squad=squad)) if squad != state.squad:
            raise _refuse(state, action, f"only {state.squad!r} can acknowledge, not {squad!r}")
        case (_S.ASSIGNED, Acknowledge(squad=squad, by=by)):
            new = replace(state, status=_S.ACKNOWLEDGED, ack_deadline=None)
            return Transition(new, (CaseAcknowledged(squad=squad, by=by),))
        case (_, Escalate(reason=EscalationReason.ACK_TIMEOUT)):
            raise _refuse(state, action, "ack_timeout escalations come from AckTimeout only")
        case (_S.TRIAGED | _S.ASSIGNED | _S.ACKNOWLEDGED, Escalate()):
            return _escalated(state, action)
        case (_S.ASSIGNED, AckTimeout(now=now)) if (
            state.ack_deadline is None or state.ack_deadline > now
        ):
            raise _refuse(state, action, "the acknowledgement deadline has not passed")
        case (_S.ASSIGNED, AckTimeout()):
            return _escalated(state, action)
        case (_S.ESCALATED, OpenSwarm(swarm=swarm, by=by)):
            new = replace(state, status=_S.SWARMING)
            return Transition(new, (SwarmOpened(swarm=swarm, by=by),))
        case (status, Resolve(by=by, resolution=resolution)) if status in _RESOLVE_FROM:
            new = replace(state, status=_S.RESOLVED, ack_deadline=None)
            return Transition(new, (CaseResolved(squad=state.squad, by=by, resolution=resolution),))
        case _:
            raise _refuse(state, action)

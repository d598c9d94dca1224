"""The case lifecycle in the router: one immutable state, one `match (status, action)`.

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
- Only the assigned squad can acknowledge, and only while the case is `assigned`.
- `AckTimeout` only from `assigned`: afterwards the case is `escalated` (ack_timeout), so a
  second timeout is refused. `Escalate` cannot claim `ack_timeout` itself.
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
    """The router's state of one case."""

    status: LifecycleStatus = LifecycleStatus.TRIAGED
    squad: str | None = None
    moved_away_from: frozenset[str] = frozenset()
    escalation_reason: EscalationReason | None = None
    ack_deadline: datetime | None = None


@dataclass(frozen=True, slots=True)
class Assign:
    """Assign to `squad`: automatically (`manual=False`, by the router) or by a person."""

    name: ClassVar[str] = "assign"
    squad: str
    by: str
    manual: bool = False
    ack_deadline: datetime | None = None


@dataclass(frozen=True, slots=True)
class Escalate:
    """Hand the case to Service Delivery."""

    name: ClassVar[str] = "escalate"
    reason: EscalationReason


@dataclass(frozen=True, slots=True)
class OpenSwarm:
    """Service Delivery opens a swarm for an escalated case."""

    name: ClassVar[str] = "open_swarm"


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


@dataclass(frozen=True, slots=True)
class AckTimeout:
    """The assigned squad did not acknowledge before the deadline."""

    name: ClassVar[str] = "ack_timeout"


Action = Assign | Escalate | OpenSwarm | Acknowledge | Resolve | AckTimeout

_S = LifecycleStatus
_MANUAL_ASSIGN_FROM = (_S.TRIAGED, _S.ASSIGNED, _S.ACKNOWLEDGED, _S.ESCALATED, _S.SWARMING)
_RESOLVE_FROM = (_S.ASSIGNED, _S.ACKNOWLEDGED, _S.ESCALATED, _S.SWARMING)


def _refuse(state: CaseState, action: Action, why: str = "") -> InvalidTransition:
    return InvalidTransition(state.status.value, action.name, why)


def _assigned(state: CaseState, action: Assign) -> CaseState:
    moved = state.moved_away_from
    if state.squad is not None and state.squad != action.squad:
        moved = moved | {state.squad}
    return CaseState(
        status=_S.ASSIGNED,
        squad=action.squad,
        moved_away_from=moved,
        escalation_reason=None,
        ack_deadline=action.ack_deadline,
    )


def transition(state: CaseState, action: Action) -> CaseState:
    """Apply `action` to `state` and return the new state.

    Args:
        state: The current state.
        action: What happened or was asked for.

    Returns:
        The next state (a new object; `state` is unchanged).

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
        case (_S.ASSIGNED, Acknowledge()):
            return replace(state, status=_S.ACKNOWLEDGED, ack_deadline=None)
        case (_, Escalate(reason=EscalationReason.ACK_TIMEOUT)):
            raise _refuse(state, action, "ack_timeout escalations come from AckTimeout only")
        case (_S.TRIAGED | _S.ASSIGNED | _S.ACKNOWLEDGED, Escalate(reason=reason)):
            return replace(state, status=_S.ESCALATED, escalation_reason=reason, ack_deadline=None)
        case (_S.ASSIGNED, AckTimeout()):
            return replace(
                state,
                status=_S.ESCALATED,
                escalation_reason=EscalationReason.ACK_TIMEOUT,
                ack_deadline=None,
            )
        case (_S.ESCALATED, OpenSwarm()):
            return replace(state, status=_S.SWARMING)
        case (status, Resolve()) if status in _RESOLVE_FROM:
            return replace(state, status=_S.RESOLVED, ack_deadline=None)
        case _:
            raise _refuse(state, action)

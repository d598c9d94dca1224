"""Steps of the manual triage desk, each run inside the caller's transaction.

`router.service.desk` composes them into its use cases (one transaction each): loading a case
or swarm (`CaseNotFound`, `SwarmNotFound`), checking a squad against the catalogue, applying a
lifecycle action with the optimistic version check (`ConcurrentUpdate`), closing a swarm, and
the whole of a manual assignment (shared by `assign_case` and `close_swarm`). The steps
return the domain events they caused or add them to the caller's `Effects`; nothing here
builds an event, a history row or a notification by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from contracts.catalogue import Catalogue
from router.domain.errors import SwarmAlreadyClosed
from router.domain.events import CaseReassigned, DomainEvent, SwarmClosed
from router.domain.lifecycle import Action, Assign, transition
from router.domain.policy import Policy
from router.ports import RouterTransaction
from router.records import CaseRecord, SwarmRecord, SwarmStatus
from router.service.common import to_domain
from router.service.effects import Effects
from router.service.errors import (
    CaseNotFound,
    ConcurrentUpdate,
    SwarmNotFound,
    UnknownSquadError,
)


def check_owning_squad(squad: str, catalogue: Catalogue, field: str) -> None:
    """Refuse `squad` unless it is an owning (not Service Delivery) squad of the catalogue."""
    entry = catalogue.squads.get(squad)
    if entry is None:
        known = ", ".join(sorted(s for s, e in catalogue.squads.items() if not e.service_delivery))
        raise UnknownSquadError(f"{squad!r} is not a squad of the catalogue ({known})", field=field)
    if entry.service_delivery:
        raise UnknownSquadError(
            f"{squad!r} is Service Delivery; assign to an owning squad", field=field
        )


def load_case(tx: RouterTransaction, case_id: UUID) -> CaseRecord:
    """The case, or `CaseNotFound`."""
    case = tx.get_case(case_id)
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    return case


def apply_action(
    tx: RouterTransaction, case: CaseRecord, action: Action, now: datetime
) -> tuple[CaseRecord, tuple[DomainEvent, ...]]:
    """The case after `action` (the domain decides) and the events it caused, saved with the
    optimistic version check."""
    step = transition(case.state, action)
    new = case.with_state(step.state, now=now)
    if not tx.update_case(new, expect=case):
        raise ConcurrentUpdate(f"case {case.id} changed while this request ran; try again")
    return new, step.events


def close_swarm_in_tx(
    tx: RouterTransaction,
    swarm: SwarmRecord,
    *,
    owner: str | None,
    outcome: str,
    by: str,
    now: datetime,
    catalogue: Catalogue | None,
) -> SwarmClosed:
    """Close `swarm` (the domain validates); the event that says so."""
    closed = to_domain(swarm).close(owner, outcome, now=now, catalogue=catalogue)
    record = swarm.model_copy(
        update={
            "status": SwarmStatus.CLOSED,
            "owner_squad": closed.owner_squad,
            "outcome": closed.outcome,
            "closed_at": closed.closed_at,
        }
    )
    if not tx.close_swarm(record):
        raise SwarmAlreadyClosed(f"swarm {swarm.id} is already closed")
    return SwarmClosed(swarm=closed, by=by)


def close_open_swarm(
    tx: RouterTransaction,
    case_id: UUID,
    *,
    owner: str | None,
    outcome: str,
    by: str,
    now: datetime,
    catalogue: Catalogue | None,
) -> list[DomainEvent]:
    """Close the open swarm on the case, if there is one; the event that says so, if any."""
    swarm = tx.open_swarm_for(case_id)
    if swarm is None:
        return []
    return [
        close_swarm_in_tx(
            tx, swarm, owner=owner, outcome=outcome, by=by, now=now, catalogue=catalogue
        )
    ]


@dataclass(frozen=True, slots=True)
class Assignment:
    """A manual assignment: the case after it, and whether it was a reassignment (a
    correction: `support.case.reassigned.v1`) and from which squad (None: the case had none,
    it moved away from the prediction)."""

    case: CaseRecord
    reassigned: bool
    from_squad: str | None

    @property
    def audit_action(self) -> str:
        """Its name in the audit log."""
        return "case.reassign" if self.reassigned else "case.assign"


def assign_in_tx(
    tx: RouterTransaction,
    case: CaseRecord,
    *,
    squad: str,
    by: str,
    note: str | None,
    policy: Policy,
    effects: Effects,
    swarm_outcome: str | None = None,
) -> Assignment:
    """Assign `case` by hand (closing an open swarm on it); its effects go to `effects`.

    Whether it was a reassignment is the domain's answer (the event it caused), never a
    later reading of the history."""
    now = effects.now
    deadline = policy.ack_deadline(case.priority, now)
    assign = Assign(squad=squad, by=by, manual=True, ack_deadline=deadline, note=note)
    new, happened = apply_action(tx, case, assign, now)
    closed = close_open_swarm(
        tx,
        case.id,
        owner=squad,
        outcome=swarm_outcome or f"assigned to {squad} by {by}",
        by=by,
        now=now,
        catalogue=effects.catalogue,
    )
    effects.add(new, [*closed, *happened])
    moved = next((e for e in happened if isinstance(e, CaseReassigned)), None)
    return Assignment(new, reassigned=moved is not None, from_squad=case.squad)


def load_swarm(tx: RouterTransaction, swarm_id: UUID) -> SwarmRecord:
    """The swarm, or `SwarmNotFound`."""
    swarm = tx.get_swarm(swarm_id)
    if swarm is None:
        raise SwarmNotFound(f"no swarm {swarm_id}")
    return swarm

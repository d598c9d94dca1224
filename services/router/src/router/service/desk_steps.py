"""Steps of the manual triage desk, each run inside the caller's transaction.

`router.service.desk` composes them into its use cases (one transaction each): loading a case
or swarm (`CaseNotFound`, `SwarmNotFound`), checking a squad against the catalogue, applying a
lifecycle action with the optimistic version check (`ConcurrentUpdate`), closing a swarm, and
the whole of a manual assignment (shared by `assign_case` and `close_swarm`).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from contracts import topics
from contracts.catalogue import Catalogue
from contracts.envelope import OutboundEvent
from contracts.events import CaseAssigned, CaseReassigned
from router import metrics
from router.domain.errors import SwarmAlreadyClosed
from router.domain.lifecycle import Action, Assign, transition
from router.domain.notifications import NotificationKind
from router.domain.policy import Policy
from router.ports import RouterTransaction
from router.records import CaseRecord, HistoryAction, HistoryEntry, SwarmRecord, SwarmStatus
from router.service.common import Publishing, notifications_for, to_domain
from router.service.errors import (
    CaseNotFound,
    ConcurrentUpdate,
    SwarmNotFound,
    UnknownSquadError,
)

MANUAL = "person"


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
) -> CaseRecord:
    """The case after `action` (the domain decides), saved with the optimistic version check."""
    new = case.with_state(transition(case.state, action), now=now)
    if not tx.update_case(new, expect=case):
        raise ConcurrentUpdate(f"case {case.id} changed while this request ran; try again")
    return new


def close_swarm_in_tx(
    tx: RouterTransaction,
    swarm: SwarmRecord,
    *,
    owner: str | None,
    outcome: str,
    by: str,
    now: datetime,
    catalogue: Catalogue,
    pub: Publishing,
) -> OutboundEvent:
    """Close `swarm` (the domain validates), record it in history; the swarm.closed event."""
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
    tx.add_history(
        [
            HistoryEntry(
                case_id=swarm.case_id,
                at=now,
                action=HistoryAction.SWARM_CLOSED,
                to_squad=owner,
                by=by,
                note=outcome,
            )
        ]
    )
    return pub.event(topics.SWARM_CLOSED, swarm.case_id, closed.closed_event())


def close_open_swarm(
    tx: RouterTransaction,
    case_id: UUID,
    *,
    owner: str | None,
    outcome: str,
    by: str,
    now: datetime,
    catalogue: Catalogue,
    pub: Publishing,
) -> list[OutboundEvent]:
    """Close the open swarm on the case, if there is one; the events to publish."""
    swarm = tx.open_swarm_for(case_id)
    if swarm is None:
        return []
    return [
        close_swarm_in_tx(
            tx, swarm, owner=owner, outcome=outcome, by=by, now=now, catalogue=catalogue, pub=pub
        )
    ]


def assign_in_tx(
    tx: RouterTransaction,
    case: CaseRecord,
    *,
    squad: str,
    by: str,
    note: str | None,
    catalogue: Catalogue,
    policy: Policy,
    pub: Publishing,
    now: datetime,
    swarm_outcome: str | None = None,
) -> CaseRecord:
    """Assign `case` by hand: state, swarm closure, events, history, notifications, metrics."""
    deadline = policy.ack_deadline(case.priority, now)
    new = apply_action(
        tx, case, Assign(squad=squad, by=by, manual=True, ack_deadline=deadline), now
    )
    events = close_open_swarm(
        tx,
        case.id,
        owner=squad,
        outcome=swarm_outcome or f"assigned to {squad} by {by}",
        by=by,
        now=now,
        catalogue=catalogue,
        pub=pub,
    )
    reassigned = squad != (case.squad if case.squad is not None else case.predicted_squad)
    assigned = pub.event(
        topics.CASE_ASSIGNED,
        case.id,
        CaseAssigned(
            case_id=case.id,
            squad=squad,
            assigned_at=now,
            by=by,
            confidence=case.confidence if squad == case.predicted_squad else None,
            note=note,
            ack_deadline=deadline,
        ),
    )
    events.append(assigned)
    if reassigned:
        events.append(
            pub.event(
                topics.CASE_REASSIGNED,
                case.id,
                CaseReassigned(
                    case_id=case.id,
                    from_squad=case.squad,
                    to_squad=squad,
                    predicted_squad=case.predicted_squad,
                    by=by,
                    note=note,
                    reassigned_at=now,
                ),
            )
        )
    tx.add_history(
        [
            HistoryEntry(
                case_id=case.id,
                at=now,
                action=HistoryAction.REASSIGNED if reassigned else HistoryAction.ASSIGNED,
                from_squad=case.squad,
                to_squad=squad,
                by=by,
                note=note,
            )
        ]
    )
    kind = NotificationKind.REASSIGNED if reassigned else NotificationKind.ASSIGNED
    tx.queue_notifications(
        notifications_for(
            case=new,
            kind=kind,
            squad=squad,
            catalogue=catalogue,
            pub=pub,
            event_key=assigned.event.id,
            now=now,
        )
    )
    tx.add_events(events)
    metrics.CASES_ASSIGNED.labels(squad, MANUAL).inc()
    if reassigned:
        metrics.REASSIGNMENTS.inc()
    return new


def load_swarm(tx: RouterTransaction, swarm_id: UUID) -> SwarmRecord:
    """The swarm, or `SwarmNotFound`."""
    swarm = tx.get_swarm(swarm_id)
    if swarm is None:
        raise SwarmNotFound(f"no swarm {swarm_id}")
    return swarm

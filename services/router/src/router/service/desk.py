"""The manual triage desk: what people do to cases and swarms in Swagger UI.

Each function runs one transaction: it loads the case (or swarm), asks the domain whether the
action is allowed (`InvalidTransition` / `SwarmAlreadyClosed` otherwise), writes the new state
with an optimistic version check (`ConcurrentUpdate` when someone else changed it first), and
writes history, notifications and lifecycle events in the same transaction.

A manual assignment to a squad other than the current one (or, when there is none, other
than the predicted one) is a correction: it emits `support.case.reassigned.v1`, the training
label for triage, and the domain records the old squad in `moved_away_from`.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from contracts import topics
from contracts.catalogue import Catalogue
from contracts.events import CaseAcknowledged, CaseAssigned, CaseReassigned, CaseResolved
from router import metrics
from router.adapters.notifications import NotificationKind
from router.domain.errors import SwarmAlreadyClosed
from router.domain.lifecycle import Acknowledge, Action, Assign, Resolve, transition
from router.domain.policy import Policy
from router.domain.swarm import Swarm
from router.ports import Clock, OutboundEvent, RouterStore, RouterTransaction
from router.records import (
    CaseRecord,
    HistoryAction,
    HistoryEntry,
    SwarmMember,
    SwarmNoteRecord,
    SwarmRecord,
    SwarmStatus,
)
from router.service.common import Publishing, notifications_for, to_domain
from router.service.errors import ConcurrentUpdate, NotFound, UnknownSquadError

MANUAL = "person"


def _owning_squad(squad: str, catalogue: Catalogue, field: str) -> None:
    entry = catalogue.squads.get(squad)
    if entry is None:
        known = ", ".join(sorted(s for s, e in catalogue.squads.items() if not e.service_delivery))
        raise UnknownSquadError(f"{squad!r} is not a squad of the catalogue ({known})", field=field)
    if entry.service_delivery:
        raise UnknownSquadError(
            f"{squad!r} is Service Delivery; assign to an owning squad", field=field
        )


def _load(tx: RouterTransaction, case_id: UUID) -> CaseRecord:
    case = tx.get_case(case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


def _apply(tx: RouterTransaction, case: CaseRecord, action: Action, now: datetime) -> CaseRecord:
    """The case after `action` (the domain decides), saved with the optimistic version check."""
    new = case.with_state(transition(case.state, action), now=now)
    if not tx.update_case(new, expect=case):
        raise ConcurrentUpdate(f"case {case.id} changed while this request ran; try again")
    return new


def _close_swarm(
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


def _close_open_swarm(
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
        _close_swarm(
            tx, swarm, owner=owner, outcome=outcome, by=by, now=now, catalogue=catalogue, pub=pub
        )
    ]


def _assign(
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
    deadline = policy.ack_deadline(case.priority, now)
    new = _apply(tx, case, Assign(squad=squad, by=by, manual=True, ack_deadline=deadline), now)
    events = _close_open_swarm(
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


def assign_case(
    case_id: UUID,
    *,
    squad: str,
    by: str,
    note: str | None = None,
    store: RouterStore,
    catalogue: Catalogue,
    policy: Policy,
    clock: Clock,
    pub: Publishing,
) -> CaseRecord:
    """Assign or reassign a case by hand.

    Raises:
        UnknownSquadError: `squad` is not an owning squad of the catalogue.
        NotFound: No such case.
        InvalidTransition: The case cannot be assigned now (e.g. resolved, same squad).
        ConcurrentUpdate: The case changed meanwhile.
    """
    _owning_squad(squad, catalogue, "body.squad")
    now = clock.now()
    with store.transaction() as tx:
        case = _load(tx, case_id)
        return _assign(
            tx,
            case,
            squad=squad,
            by=by,
            note=note,
            catalogue=catalogue,
            policy=policy,
            pub=pub,
            now=now,
        )


def acknowledge_case(
    case_id: UUID, *, squad: str, by: str, store: RouterStore, clock: Clock, pub: Publishing
) -> CaseRecord:
    """The assigned squad acknowledges the case.

    Raises:
        NotFound: No such case.
        InvalidTransition: Not assigned, or assigned to another squad.
        ConcurrentUpdate: The case changed meanwhile.
    """
    now = clock.now()
    with store.transaction() as tx:
        case = _load(tx, case_id)
        new = _apply(tx, case, Acknowledge(squad=squad, by=by), now)
        tx.add_history(
            [
                HistoryEntry(
                    case_id=case.id,
                    at=now,
                    action=HistoryAction.ACKNOWLEDGED,
                    to_squad=squad,
                    by=by,
                )
            ]
        )
        tx.add_events(
            [
                pub.event(
                    topics.CASE_ACKNOWLEDGED,
                    case.id,
                    CaseAcknowledged(case_id=case.id, squad=squad, by=by, acknowledged_at=now),
                )
            ]
        )
        owner_at = max(
            (
                h.at
                for h in tx.case_history(case.id)
                if h.action in (HistoryAction.ASSIGNED, HistoryAction.REASSIGNED)
                and h.to_squad == squad
            ),
            default=None,
        )
    if owner_at is not None:
        metrics.TIME_TO_OWNER.observe(max(0.0, (owner_at - case.received_at).total_seconds()))
    return new


def resolve_case(
    case_id: UUID,
    *,
    by: str,
    resolution: str | None = None,
    store: RouterStore,
    catalogue: Catalogue,
    clock: Clock,
    pub: Publishing,
) -> CaseRecord:
    """Resolve a case (an open swarm on it closes with the resolution).

    Raises:
        NotFound: No such case.
        InvalidTransition: Not in a status that can be resolved.
        ConcurrentUpdate: The case changed meanwhile.
    """
    now = clock.now()
    with store.transaction() as tx:
        case = _load(tx, case_id)
        new = _apply(tx, case, Resolve(by=by), now)
        events = _close_open_swarm(
            tx,
            case.id,
            owner=None,
            outcome=f"resolved: {resolution}" if resolution else "resolved",
            by=by,
            now=now,
            catalogue=catalogue,
            pub=pub,
        )
        tx.add_history(
            [
                HistoryEntry(
                    case_id=case.id,
                    at=now,
                    action=HistoryAction.RESOLVED,
                    from_squad=case.squad,
                    by=by,
                    note=resolution,
                )
            ]
        )
        events.append(
            pub.event(
                topics.CASE_RESOLVED,
                case.id,
                CaseResolved(
                    case_id=case.id, squad=case.squad, by=by, resolution=resolution, resolved_at=now
                ),
            )
        )
        tx.add_events(events)
    return new


def _load_swarm(tx: RouterTransaction, swarm_id: UUID) -> SwarmRecord:
    swarm = tx.get_swarm(swarm_id)
    if swarm is None:
        raise NotFound(f"no swarm {swarm_id}")
    return swarm


def add_swarm_member(
    swarm_id: UUID,
    *,
    squad: str,
    by: str,
    store: RouterStore,
    catalogue: Catalogue,
    clock: Clock,
    pub: Publishing,
) -> SwarmRecord:
    """Invite a squad into a swarm (notified like the first members).

    Raises:
        NotFound: No such swarm.
        SwarmAlreadyClosed: The swarm is closed.
        UnknownSquad / UnknownSquadError: Not an owning squad of the catalogue.
    """
    _owning_squad(squad, catalogue, "body.squad")
    now = clock.now()
    with store.transaction() as tx:
        swarm = _load_swarm(tx, swarm_id)
        domain = to_domain(swarm)
        joined = domain.join(squad, catalogue=catalogue)
        if joined is domain:
            return swarm
        tx.add_member(swarm.id, SwarmMember(squad=squad, joined_at=now, invited_by=by))
        case = _load(tx, swarm.case_id)
        tx.queue_notifications(
            notifications_for(
                case=case,
                kind=NotificationKind.SWARM_OPENED,
                squad=squad,
                catalogue=catalogue,
                pub=pub,
                event_key=f"join:{swarm.id}",
                now=now,
                reason=str(swarm.reason),
                squads_involved=list(joined.squads),
                swarm_id=swarm.id,
            )
        )
        return _load_swarm(tx, swarm_id)


def add_swarm_note(
    swarm_id: UUID, *, author: str, text: str, store: RouterStore, clock: Clock
) -> SwarmRecord:
    """Append a note to an open swarm.

    Raises:
        NotFound: No such swarm.
        SwarmAlreadyClosed: The swarm is closed.
        InvalidSwarmInput: Empty author or text.
    """
    now = clock.now()
    with store.transaction() as tx:
        swarm = _load_swarm(tx, swarm_id)
        noted: Swarm = to_domain(swarm).note(author, text, now=now)
        last = noted.notes[-1]
        tx.add_note(swarm.id, SwarmNoteRecord(author=last.author, text=last.text, at=last.at))
        return _load_swarm(tx, swarm_id)


def close_swarm(
    swarm_id: UUID,
    *,
    owner_squad: str,
    outcome: str,
    by: str,
    store: RouterStore,
    catalogue: Catalogue,
    policy: Policy,
    clock: Clock,
    pub: Publishing,
) -> SwarmRecord:
    """Close a swarm: the owner squad takes the case (assigned, swarm.closed + assigned).

    Raises:
        NotFound: No such swarm.
        SwarmAlreadyClosed: The swarm is closed.
        UnknownSquadError: The owner is not an owning squad of the catalogue.
        InvalidSwarmInput: Empty outcome.
        InvalidTransition: The case cannot be assigned now.
    """
    _owning_squad(owner_squad, catalogue, "body.owner_squad")
    now = clock.now()
    with store.transaction() as tx:
        swarm = _load_swarm(tx, swarm_id)
        if swarm.status is SwarmStatus.CLOSED:
            raise SwarmAlreadyClosed(f"swarm {swarm.id} closed at {swarm.closed_at}")
        to_domain(swarm).close(owner_squad, outcome, now=now, catalogue=catalogue)  # validates
        case = _load(tx, swarm.case_id)
        _assign(
            tx,
            case,
            squad=owner_squad,
            by=by,
            note=f"swarm outcome: {outcome.strip()}",
            catalogue=catalogue,
            policy=policy,
            pub=pub,
            now=now,
            swarm_outcome=outcome,
        )
        return _load_swarm(tx, swarm_id)

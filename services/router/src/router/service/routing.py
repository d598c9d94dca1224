"""Automatic routing: triaged cases in, assignments or escalations out; ack-timeout sweeps.

`route_triaged` handles a batch of triaged events in one transaction: for each new event it
decides (`router.domain.decision.decide`) and collects the case row, its history, the swarm
(when one opens), the queued notifications and the lifecycle events; then it writes each kind
of row for the whole batch in one statement (executemany) and marks the events processed --
all or nothing. Events seen before are skipped (at-least-once input). Rows keep arrival
order, so a case's history and its lifecycle events (outbox ids) stay in order; a second
event for a case routed earlier in the same batch counts as a re-triage, as it would in the
next batch.

`sweep_ack_timeouts` escalates assigned cases whose acknowledgement deadline passed. Each
escalation is claimed with one conditional update, so it happens exactly once however many
router instances sweep the same database. Each case has its own transaction: one that fails
is logged, counted (`router_sweep_errors_total`) and left for the next sweep, and the others
go ahead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from contracts import topics
from contracts.cases import Decision
from contracts.catalogue import Catalogue
from contracts.envelope import OutboundEvent
from contracts.events import CaseAssigned, CaseEscalated, CaseTriaged, EscalationReason
from router import metrics
from router.domain.decision import RoutingDecision, decide
from router.domain.errors import InvalidTransition
from router.domain.lifecycle import AckTimeout, Assign, Escalate, OpenSwarm, transition
from router.domain.notifications import NotificationKind
from router.domain.policy import Policy
from router.domain.swarm import Swarm
from router.ports import Clock, RouterStore, RouterTransaction
from router.records import (
    CaseRecord,
    HistoryAction,
    HistoryEntry,
    NotificationRecord,
    SwarmRecord,
)
from router.service.common import ROUTER, Publishing, notifications_for, to_record

log = logging.getLogger(__name__)


@dataclass
class RoutingReport:
    """What one batch did."""

    assigned: dict[str, int] = field(default_factory=dict)
    escalated: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    retriaged: int = 0
    swarms_opened: int = 0
    notifications: int = 0

    def record_metrics(self) -> None:
        """Count the batch in the Prometheus metrics (call after the commit)."""
        for squad, n in self.assigned.items():
            metrics.CASES_ASSIGNED.labels(squad, ROUTER).inc(n)
        for reason, n in self.escalated.items():
            metrics.CASES_ESCALATED.labels(reason).inc(n)


@dataclass
class _Writes:
    """The rows a batch writes, in arrival order (one statement per table at the end)."""

    cases: list[CaseRecord] = field(default_factory=list)
    swarms: list[SwarmRecord] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    notifications: list[NotificationRecord] = field(default_factory=list)
    events: list[OutboundEvent] = field(default_factory=list)

    def flush(self, tx: RouterTransaction) -> int:
        """Write everything (parents first); return how many notifications were queued."""
        tx.insert_cases(self.cases)
        tx.insert_swarms(self.swarms)
        tx.add_history(self.history)
        queued = tx.queue_notifications(self.notifications)
        tx.add_events(self.events)
        return queued


def new_case_record(triaged: CaseTriaged, now: datetime) -> CaseRecord:
    """The read-model row of a triaged case, before routing."""
    case, result = triaged.case, triaged.result
    return CaseRecord(
        id=triaged.case_id,
        title=case.title,
        description=case.description,
        priority=case.priority,
        source=case.source,
        received_at=triaged.received_at,
        triaged_at=triaged.triaged_at,
        predicted_squad=result.squad,
        confidence=result.confidence,
        candidates=result.candidates,
        matched_components=result.matched_components,
        model_version=result.model_version,
        updated_at=now,
    )


def route_triaged(
    items: Sequence[tuple[str, CaseTriaged]],
    *,
    store: RouterStore,
    catalogue: Catalogue,
    policy: Policy,
    clock: Clock,
    pub: Publishing,
) -> RoutingReport:
    """Route a batch of triaged cases (event id, payload) in one transaction.

    Args:
        items: CloudEvents ids with their payloads, in arrival order.
        store: The database.
        catalogue: The catalogue in force.
        policy: The routing policy in force.
        clock: The time of the decisions.
        pub: Lifecycle topic and links.

    Returns:
        What happened, for metrics and logs.
    """
    report = RoutingReport()
    now = clock.now()
    with store.transaction() as tx:
        seen = tx.processed([event_id for event_id, _ in items])
        fresh: dict[str, CaseTriaged] = {}
        for event_id, triaged in items:
            if event_id in seen or event_id in fresh:
                report.duplicates += 1
            else:
                fresh[event_id] = triaged
        existing = tx.get_cases([t.case_id for t in fresh.values()])
        writes = _Writes()
        for event_id, triaged in fresh.items():
            if triaged.case_id in existing:
                # Triage published this case again (a retry with a new id, or a re-triage):
                # the case is already routed; people take it from here.
                report.retriaged += 1
                writes.history.append(
                    HistoryEntry(
                        case_id=triaged.case_id,
                        at=now,
                        action=HistoryAction.RETRIAGED,
                        to_squad=triaged.result.squad,
                        by=ROUTER,
                        note=f"triaged again by model {triaged.result.model_version}",
                    )
                )
                continue
            decision = decide(triaged=triaged, catalogue=catalogue, policy=policy, now=now)
            record = new_case_record(triaged, now)
            existing[triaged.case_id] = record
            _apply_decision(writes, record, decision, event_id, catalogue, pub, now, report)
        report.notifications += writes.flush(tx)
        tx.mark_processed(list(fresh), now)
    report.record_metrics()
    return report


def _apply_decision(
    writes: _Writes,
    record: CaseRecord,
    decision: RoutingDecision,
    event_id: str,
    catalogue: Catalogue,
    pub: Publishing,
    now: datetime,
    report: RoutingReport,
) -> None:
    events = writes.events
    history = writes.history
    notes = writes.notifications
    swarm: Swarm | None = None

    def notify(kind: NotificationKind, squad: str, **kw: object) -> None:
        notes.extend(
            notifications_for(
                case=record,
                kind=kind,
                squad=squad,
                catalogue=catalogue,
                pub=pub,
                event_key=event_id,
                now=now,
                **kw,  # type: ignore[arg-type]
            )
        )

    if decision.action is Decision.ASSIGN and decision.squad is not None:
        squad = decision.squad
        state = transition(
            record.state, Assign(squad=squad, by=ROUTER, ack_deadline=decision.ack_deadline)
        )
        payload = CaseAssigned(
            case_id=record.id,
            squad=squad,
            assigned_at=now,
            by=ROUTER,
            confidence=record.confidence,
            note=decision.detail,
            ack_deadline=decision.ack_deadline,
        )
        events.append(pub.event(topics.CASE_ASSIGNED, record.id, payload))
        history.append(
            HistoryEntry(
                case_id=record.id,
                at=now,
                action=HistoryAction.ASSIGNED,
                to_squad=squad,
                by=ROUTER,
                note=decision.detail,
            )
        )
        record = record.with_state(state, now=now)
        notify(NotificationKind.ASSIGNED, squad)
        report.assigned[squad] = report.assigned.get(squad, 0) + 1
    else:
        reason = decision.reason or EscalationReason.MANUAL
        state = transition(record.state, Escalate(reason=reason))
        events.append(
            pub.event(
                topics.CASE_ESCALATED,
                record.id,
                CaseEscalated(
                    case_id=record.id,
                    reason=reason,
                    squads=decision.squads_involved,
                    escalated_at=now,
                    detail=decision.detail,
                ),
            )
        )
        history.append(
            HistoryEntry(
                case_id=record.id,
                at=now,
                action=HistoryAction.ESCALATED,
                by=ROUTER,
                note=decision.detail,
                reason=str(reason),
            )
        )
        if decision.open_swarm:
            state = transition(state, OpenSwarm())
            swarm = Swarm.open(
                case_id=record.id, squads=decision.squads_involved, reason=reason, now=now
            )
            events.append(pub.event(topics.SWARM_OPENED, record.id, swarm.opened_event()))
            history.append(
                HistoryEntry(
                    case_id=record.id,
                    at=now,
                    action=HistoryAction.SWARM_OPENED,
                    by=ROUTER,
                    note="swarm with " + ", ".join(swarm.squads),
                    reason=str(reason),
                )
            )
            report.swarms_opened += 1
        record = record.with_state(state, now=now)
        sd = catalogue.service_delivery
        if sd is not None:  # without one the case waits in the queue, unannounced (README)
            notify(
                NotificationKind.ESCALATED,
                sd.name,
                reason=str(reason),
                squads_involved=decision.squads_involved,
                swarm_id=swarm.id if swarm else None,
            )
        if swarm is not None:
            for squad in swarm.squads:
                notify(
                    NotificationKind.SWARM_OPENED,
                    squad,
                    reason=str(reason),
                    squads_involved=list(swarm.squads),
                    swarm_id=swarm.id,
                )
        report.escalated[str(reason)] = report.escalated.get(str(reason), 0) + 1
    writes.cases.append(record)
    if swarm is not None:
        writes.swarms.append(to_record(swarm, invited_by=ROUTER))


def sweep_ack_timeouts(
    *,
    store: RouterStore,
    catalogue: Catalogue,
    clock: Clock,
    pub: Publishing,
    limit: int = 200,
) -> int:
    """Escalate every assigned case whose acknowledgement deadline has passed.

    Args:
        store: The database.
        catalogue: Where Service Delivery's channels are.
        clock: The sweep time.
        pub: Lifecycle topic and links.
        limit: Most cases per sweep (the next sweep takes the rest).

    Returns:
        How many cases this call escalated (others racing on the same rows are not counted).
    """
    now = clock.now()
    escalated = 0
    for overdue in store.overdue_cases(now, limit):
        try:
            detail = _escalate_overdue(
                overdue.id, now=now, store=store, catalogue=catalogue, pub=pub
            )
        except Exception:
            # One case's failure must not cost the others their escalation: its transaction
            # rolled back (the claim with it), so the next sweep tries it again.
            metrics.SWEEP_ERRORS.inc()
            log.exception("ack-timeout escalation of case %s failed", overdue.id)
            continue
        if detail is None:
            continue
        escalated += 1
        metrics.CASES_ESCALATED.labels(EscalationReason.ACK_TIMEOUT.value).inc()
        log.info("case %s escalated: %s", overdue.id, detail)
    return escalated


def _escalate_overdue(
    case_id: UUID, *, now: datetime, store: RouterStore, catalogue: Catalogue, pub: Publishing
) -> str | None:
    """Escalate one overdue case in its own transaction; its detail, or None when it was
    acknowledged or moved since the query or another sweeper claimed it first."""
    with store.transaction() as tx:
        case = tx.get_case(case_id)
        if case is None:
            return None
        try:
            state = transition(case.state, AckTimeout())
        except InvalidTransition:
            return None  # acknowledged or moved since the query
        if not tx.claim_ack_timeout(case, now):
            return None  # another sweeper won
        squad = case.squad
        detail = f"{squad} did not acknowledge by {case.ack_deadline:%Y-%m-%d %H:%M:%S} UTC"
        event = pub.event(
            topics.CASE_ESCALATED,
            case.id,
            CaseEscalated(
                case_id=case.id,
                reason=EscalationReason.ACK_TIMEOUT,
                squads=[squad] if squad else [],
                escalated_at=now,
                detail=detail,
            ),
        )
        tx.add_history(
            [
                HistoryEntry(
                    case_id=case.id,
                    at=now,
                    action=HistoryAction.ESCALATED,
                    from_squad=squad,
                    by=ROUTER,
                    note=detail,
                    reason=EscalationReason.ACK_TIMEOUT.value,
                )
            ]
        )
        sd = catalogue.service_delivery
        if sd is not None:  # without one the case waits in the queue, unannounced (README)
            tx.queue_notifications(
                notifications_for(
                    case=case.with_state(state, now=now),
                    kind=NotificationKind.ACK_TIMEOUT,
                    squad=sd.name,
                    catalogue=catalogue,
                    pub=pub,
                    event_key=event.event.id,
                    now=now,
                    reason=EscalationReason.ACK_TIMEOUT.value,
                    squads_involved=[squad] if squad else [],
                )
            )
        tx.add_events([event])
    return detail

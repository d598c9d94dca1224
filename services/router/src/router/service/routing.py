"""Automatic routing: triaged cases in, assignments or escalations out; ack-timeout sweeps.

`route_triaged` handles a batch of triaged events in one transaction: for each new event it
decides (`router.domain.decision.decide`: the one place that decides, on triage's
recommendation, the policy and the squads the precision watch demoted), records the decision
on the case (the model's mode, the recommendation, the suggested squad), applies it to the
case's lifecycle (`transition`: assign, or escalate and maybe open a swarm) and collects the
case row and the effects of the domain events (`router.service.effects`: history, swarm,
queued notifications, lifecycle events); then it writes each kind of row for the whole batch
in one statement (executemany) and marks the events processed -- all or nothing. Events seen
before are skipped (at-least-once input). Rows keep arrival order, so a case's history and
its lifecycle events (outbox ids) stay in order; a second event for a case routed earlier in
the same batch counts as a re-triage, as it would in the next batch.

`sweep_ack_timeouts` escalates assigned cases whose acknowledgement deadline passed: the
lifecycle decides (`AckTimeout`), and the new state is written with the same optimistic
version check as every other change, so each escalation happens exactly once however many
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

from contracts.cases import Decision
from contracts.catalogue import Catalogue
from contracts.events import CaseTriaged, EscalationReason
from router import metrics
from router.domain.decision import RoutingDecision, decide
from router.domain.errors import InvalidTransition
from router.domain.lifecycle import (
    ROUTER,
    AckTimeout,
    Assign,
    Escalate,
    OpenSwarm,
    Transition,
    transition,
)
from router.domain.policy import Policy
from router.domain.swarm import Swarm
from router.ports import Clock, RouterStore
from router.records import CaseRecord, HistoryAction, HistoryEntry
from router.service.common import Publishing
from router.service.effects import Effects
from router.service.watch import demoted_squads

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
        pub: Lifecycle topic, links and channels.

    Returns:
        What happened, for metrics and logs.
    """
    report = RoutingReport()
    now = clock.now()
    effects = Effects(catalogue=catalogue, pub=pub, now=now, policy=policy)
    with store.transaction() as tx:
        seen = tx.processed([event_id for event_id, _ in items])
        effects.squad_modes = tx.squad_modes()  # the watch's review needs them too
        demoted = demoted_squads(effects.squad_modes)
        fresh: dict[str, CaseTriaged] = {}
        for event_id, triaged in items:
            if event_id in seen or event_id in fresh:
                report.duplicates += 1
            else:
                fresh[event_id] = triaged
        existing = tx.get_cases([t.case_id for t in fresh.values()])
        cases: list[CaseRecord] = []
        for event_id, triaged in fresh.items():
            if triaged.case_id in existing:
                # Triage published this case again (a retry with a new id, or a re-triage):
                # the case is already routed; people take it from here.
                report.retriaged += 1
                effects.history.append(
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
            decision = decide(
                triaged=triaged, catalogue=catalogue, policy=policy, demoted=demoted, now=now
            )
            record = new_case_record(triaged, now).model_copy(
                update={
                    "model_mode": decision.mode,
                    "recommendation": decision.recommendation,
                    "suggested_squad": (
                        decision.suggestion.squad if decision.suggestion is not None else None
                    ),
                }
            )
            step = _route(record, decision, now)
            routed = record.with_state(step.state, now=now)
            existing[triaged.case_id] = routed
            cases.append(routed)
            effects.add(routed, step.events, event_key=event_id)
        tx.insert_cases(cases)
        report.notifications = effects.write(tx)
        tx.mark_processed(list(fresh), now)
    effects.count()
    for (squad, _by), n in effects.assigned.items():
        report.assigned[squad] = report.assigned.get(squad, 0) + n
    report.escalated = {reason.value: n for reason, n in effects.escalated.items()}
    report.swarms_opened = len(effects.swarms)
    return report


def _route(record: CaseRecord, decision: RoutingDecision, now: datetime) -> Transition:
    """The lifecycle step of a routing decision: assign, or escalate (and open a swarm)."""
    if decision.action is Decision.ASSIGN and decision.squad is not None:
        assign = Assign(
            squad=decision.squad,
            by=ROUTER,
            ack_deadline=decision.ack_deadline,
            note=decision.detail,
        )
        return transition(record.state, assign)
    reason = decision.reason or EscalationReason.MANUAL
    involved = tuple(decision.squads_involved)
    step = transition(
        record.state, Escalate(reason=reason, squads=involved, detail=decision.detail)
    )
    if not decision.open_swarm:
        return step
    swarm = Swarm.open(case_id=record.id, squads=involved, reason=reason, now=now)
    opened = transition(step.state, OpenSwarm(swarm=swarm))
    return Transition(opened.state, step.events + opened.events)


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
        pub: Lifecycle topic, links and channels.
        limit: Most cases per sweep (the next sweep takes the rest).

    Returns:
        How many cases this call escalated (others racing on the same rows are not counted).
    """
    now = clock.now()
    escalated = 0
    for overdue in store.overdue_cases(now, limit):
        try:
            effects = _escalate_overdue(
                overdue.id, now=now, store=store, catalogue=catalogue, pub=pub
            )
        except Exception:
            # One case's failure must not cost the others their escalation: its transaction
            # rolled back (the claim with it), so the next sweep tries it again.
            metrics.SWEEP_ERRORS.inc()
            log.exception("ack-timeout escalation of case %s failed", overdue.id)
            continue
        if effects is None:
            continue
        escalated += 1
        effects.count()
        log.info("case %s escalated: %s", overdue.id, effects.history[0].note)
    return escalated


def _escalate_overdue(
    case_id: UUID, *, now: datetime, store: RouterStore, catalogue: Catalogue, pub: Publishing
) -> Effects | None:
    """Escalate one overdue case in its own transaction; what it wrote, or None when it was
    acknowledged or moved since the query or another sweeper escalated it first."""
    with store.transaction() as tx:
        case = tx.get_case(case_id)
        if case is None:
            return None
        try:
            step = transition(case.state, AckTimeout(now=now))
        except InvalidTransition:
            return None  # acknowledged, moved or given a new deadline since the query
        escalated = case.with_state(step.state, now=now)
        if not tx.update_case(escalated, expect=case):
            return None  # another sweeper (or a person) changed it first
        effects = Effects(catalogue=catalogue, pub=pub, now=now)
        effects.add(escalated, step.events)
        effects.write(tx)
    return effects

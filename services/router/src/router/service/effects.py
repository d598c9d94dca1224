"""The one place that turns what happened into what the router writes and counts.

Every change to a case or swarm is a domain event (`router.domain.events`), returned by the
lifecycle's `transition()` or made by a swarm step. `Effects.add(case, events)` maps each,
once, to:

- its lifecycle CloudEvent (the `contracts.events` payload of the same name) on the
  lifecycle topic, keyed by the case id;
- its routing-history entry;
- its notifications: who is told (the squad, Service Delivery -- when the catalogue has
  one -- the swarm's members) and how (`NotificationKind`), one queued row per channel the
  recipient configured;
- the metrics it counts;
- for the realised precision watch: an automatic assignment is recorded, a manual
  assignment to another squad corrects the case's automatic one. Given the routing policy,
  `write` then reviews the squads touched (`router.service.watch.review`); a squad demoted
  to `suggest` is announced to Service Delivery once (`model_demoted`, about the case that
  tipped it).

A squad the catalogue gives no channel at all (`Catalogue.unreachable_reason`) cannot be
told of a case assigned to it: the case is still assigned, the history records it
(`unreachable`), and Service Delivery -- when the catalogue has one -- gets an
`unreachable_squad` notification naming the squad and the catalogue problem. Its
de-duplication key is the case and that squad, not the event: once per case and squad,
however often the case is moved back to it, and a case moved on to another such squad is
announced again (Service Delivery has to act for each). A squad with no channel invited to a
swarm is announced the same way, once per swarm and squad (the message carries the swarm).

An `Effects` collects the writes of one transaction (a routing batch collects all its cases'
writes); `write(tx)` stores them, one statement per table, and `count()` counts the metrics
once the transaction committed.

A case bounced between squads must not flood their channels: with `Publishing.throttle`,
`write` lets through at most `max_per_case` assignment messages (assigned, reassigned; a
message is one squad told of one event, on all its channels) per case within the window,
counting those already queued. The rest are not queued; the case's history records each
held-back batch (`throttled`, naming the squads that were not told) and the metric
`router_notifications_throttled_total` counts the messages. Escalations and swarm
invitations always go out.

A notification's `event_key` (the de-duplication key of the delivery queue, with case, kind,
squad and channel) is the id of the lifecycle event that announced it, unless the caller
names one: routing uses the triaged event's id, so a redelivered triaged event never queues
a message twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import assert_never
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel

from contracts import events as lifecycle
from contracts import topics
from contracts.catalogue import Catalogue
from contracts.envelope import OutboundEvent
from contracts.events import EscalationReason
from contracts.ids import new_id
from router import metrics
from router.domain.events import (
    CaseAcknowledged,
    CaseAssigned,
    CaseEscalated,
    CaseReassigned,
    CaseResolved,
    DomainEvent,
    SwarmClosed,
    SwarmJoined,
    SwarmOpened,
)
from router.domain.lifecycle import ROUTER
from router.domain.notifications import NotificationKind
from router.domain.policy import Policy
from router.domain.swarm import Swarm
from router.ports import RouterTransaction
from router.records import (
    AutoAssignment,
    CaseRecord,
    HistoryAction,
    HistoryEntry,
    NotificationRecord,
    SquadModeState,
    SwarmRecord,
)
from router.service.common import Publishing, to_record
from router.service.notifying import notifications_for
from router.service.watch import Demotion, review

THROTTLED_KINDS = (NotificationKind.ASSIGNED, NotificationKind.REASSIGNED)
"""The messages a case's notification limit applies to."""

MANUAL = "person"
"""The `by` label of the assignment metric for assignments made by people."""


@dataclass
class Effects:
    """The writes and counts of one transaction (see the module docstring). `catalogue`
    (where squads are notified) may be None only when nothing notifies anyone; `policy`
    (the precision watch's rules) None when nothing is assigned; `squad_modes` the modes the
    transaction already read, if it did (the watch reads them otherwise)."""

    catalogue: Catalogue | None
    pub: Publishing
    now: datetime
    policy: Policy | None = None
    squad_modes: dict[str, SquadModeState] | None = None
    events: list[OutboundEvent] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    notifications: list[NotificationRecord] = field(default_factory=list)
    swarms: list[SwarmRecord] = field(default_factory=list)
    assigned: Counter[tuple[str, str]] = field(default_factory=Counter)
    escalated: Counter[EscalationReason] = field(default_factory=Counter)
    reassigned: int = 0
    auto_assignments: list[AutoAssignment] = field(default_factory=list)
    corrections: list[tuple[CaseRecord, str]] = field(default_factory=list)
    demotions: list[Demotion] = field(default_factory=list)
    realised: dict[str, float] = field(default_factory=dict)
    throttled: int = 0

    def add(
        self, case: CaseRecord, happened: Sequence[DomainEvent], *, event_key: str | None = None
    ) -> None:
        """Map the events that happened to `case` (as it is now), in order.

        Args:
            case: The case the events are about, in its new state.
            happened: The domain events, in the order they happened.
            event_key: The notifications' de-duplication key (default: the id of the
                lifecycle event that announced each).
        """
        for event in happened:
            match event:
                case CaseAssigned() | CaseReassigned():
                    self._assigned(case, event, event_key)
                case CaseEscalated():
                    swarm = next((e.swarm for e in happened if isinstance(e, SwarmOpened)), None)
                    self._escalated(case, event, swarm, event_key)
                case SwarmOpened(swarm=swarm, by=by):
                    out = self._publish(topics.SWARM_OPENED, case.id, swarm.opened_event())
                    note = "swarm with " + ", ".join(swarm.squads)
                    self._history(
                        case.id, HistoryAction.SWARM_OPENED, by, note=note, reason=swarm.reason
                    )
                    self.swarms.append(to_record(swarm, invited_by=by))
                    for squad in swarm.squads:
                        self._swarm_message(case, swarm, squad, event_key or out.event.id)
                case CaseAcknowledged(squad=squad, by=by):
                    data = lifecycle.CaseAcknowledged(
                        case_id=case.id, squad=squad, by=by, acknowledged_at=self.now
                    )
                    self._publish(topics.CASE_ACKNOWLEDGED, case.id, data)
                    self._history(case.id, HistoryAction.ACKNOWLEDGED, by, to_squad=squad)
                case CaseResolved(squad=squad, by=by, resolution=resolution):
                    resolved = lifecycle.CaseResolved(
                        case_id=case.id,
                        squad=squad,
                        by=by,
                        resolution=resolution,
                        resolved_at=self.now,
                    )
                    self._publish(topics.CASE_RESOLVED, case.id, resolved)
                    self._history(
                        case.id, HistoryAction.RESOLVED, by, from_squad=squad, note=resolution
                    )
                case SwarmClosed(swarm=swarm, by=by):
                    self._publish(topics.SWARM_CLOSED, swarm.case_id, swarm.closed_event())
                    self._history(
                        swarm.case_id,
                        HistoryAction.SWARM_CLOSED,
                        by,
                        to_squad=swarm.owner_squad,
                        note=swarm.outcome,
                    )
                case SwarmJoined(swarm=swarm, squad=squad):
                    self._swarm_message(case, swarm, squad, event_key or f"join:{swarm.id}")
                case _:  # pragma: no cover - mypy checks that every event is mapped
                    assert_never(event)

    def _assigned(
        self, case: CaseRecord, event: CaseAssigned | CaseReassigned, event_key: str | None
    ) -> None:
        squad = event.squad
        data = lifecycle.CaseAssigned(
            case_id=case.id,
            squad=squad,
            assigned_at=self.now,
            by=event.by,
            confidence=case.confidence if squad == case.predicted_squad else None,
            note=event.note,
            ack_deadline=event.ack_deadline,
        )
        out = self._publish(topics.CASE_ASSIGNED, case.id, data)
        key = event_key or out.event.id
        if isinstance(event, CaseReassigned):
            moved = lifecycle.CaseReassigned(
                case_id=case.id,
                from_squad=event.from_squad,
                to_squad=squad,
                predicted_squad=event.predicted_squad,
                by=event.by,
                note=event.note,
                reassigned_at=self.now,
            )
            self._publish(topics.CASE_REASSIGNED, case.id, moved)
            action, kind, by_label = HistoryAction.REASSIGNED, NotificationKind.REASSIGNED, MANUAL
            self.reassigned += 1
        else:
            action, kind = HistoryAction.ASSIGNED, NotificationKind.ASSIGNED
            by_label = MANUAL if event.manual else ROUTER
        if by_label == ROUTER:
            rec = case.recommendation
            self.auto_assignments.append(
                AutoAssignment(
                    case_id=case.id,
                    squad=squad,
                    assigned_at=self.now,
                    target_precision=rec.target_precision if rec is not None else None,
                )
            )
        else:
            self.corrections.append((case, squad))
        self._history(
            case.id, action, event.by, from_squad=event.from_squad, to_squad=squad, note=event.note
        )
        self._notify(case, kind, squad, key)
        self._unreachable(case, squad)
        self.assigned[(squad, by_label)] += 1

    def _unreachable(self, case: CaseRecord, squad: str, swarm: Swarm | None = None) -> None:
        """Tell Service Delivery when `squad` has no channel (see the module docstring); with
        `swarm`, the squad was invited to that swarm rather than assigned the case."""
        catalogue = self._directory()
        problem = catalogue.unreachable_reason(squad)
        if problem is None:
            return
        note = problem if swarm is None else f"invited to swarm {swarm.id}: {problem}"
        self._history(case.id, HistoryAction.UNREACHABLE, ROUTER, to_squad=squad, note=note)
        sd = catalogue.service_delivery
        if sd is None or sd.name == squad:
            return  # nobody else to tell: the history and GET /v1/catalogue/hygiene show it
        about = squad if swarm is None else f"{swarm.id}:{squad}"
        self._notify(
            case,
            NotificationKind.UNREACHABLE_SQUAD,
            sd.name,
            f"unreachable:{uuid5(NAMESPACE_URL, about)}",
            unreachable_squad=squad,
            catalogue_problem=problem,
            swarm_id=swarm.id if swarm is not None else None,
        )

    def _escalated(
        self, case: CaseRecord, event: CaseEscalated, swarm: Swarm | None, event_key: str | None
    ) -> None:
        suggestion = case.recommendation if event.reason is EscalationReason.SUGGEST_MODE else None
        data = lifecycle.CaseEscalated(
            case_id=case.id,
            reason=event.reason,
            squads=list(event.squads),
            escalated_at=self.now,
            detail=event.detail,
            suggestion=suggestion,
        )
        out = self._publish(topics.CASE_ESCALATED, case.id, data)
        self._history(
            case.id,
            HistoryAction.ESCALATED,
            event.by,
            from_squad=event.from_squad,
            note=event.detail,
            reason=event.reason,
        )
        timed_out = event.reason is EscalationReason.ACK_TIMEOUT
        sd = self._directory().service_delivery
        if sd is not None:  # without one the case waits in the queue, unannounced (README)
            self._notify(
                case,
                NotificationKind.ACK_TIMEOUT if timed_out else NotificationKind.ESCALATED,
                sd.name,
                event_key or out.event.id,
                reason=event.reason,
                squads_involved=event.squads,
                swarm_id=swarm.id if swarm is not None else None,
                suggested_squad=suggestion.squad if suggestion is not None else None,
            )
        self.escalated[event.reason] += 1

    def _swarm_message(self, case: CaseRecord, swarm: Swarm, squad: str, key: str) -> None:
        self._notify(
            case,
            NotificationKind.SWARM_OPENED,
            squad,
            key,
            reason=swarm.reason,
            squads_involved=swarm.squads,
            swarm_id=swarm.id,
        )
        self._unreachable(case, squad, swarm)

    def _publish(self, type_: str, case_id: UUID, data: BaseModel) -> OutboundEvent:
        out = self.pub.event(type_, case_id, data)
        self.events.append(out)
        return out

    def _history(
        self,
        case_id: UUID,
        action: HistoryAction,
        by: str,
        *,
        from_squad: str | None = None,
        to_squad: str | None = None,
        note: str | None = None,
        reason: EscalationReason | None = None,
    ) -> None:
        self.history.append(
            HistoryEntry(
                case_id=case_id,
                at=self.now,
                action=action,
                from_squad=from_squad,
                to_squad=to_squad,
                by=by,
                note=note,
                reason=None if reason is None else reason.value,
            )
        )

    def _directory(self) -> Catalogue:
        if self.catalogue is None:  # pragma: no cover - a use case that notifies has one
            raise RuntimeError("these effects notify squads: give Effects the catalogue")
        return self.catalogue

    def _notify(
        self,
        case: CaseRecord,
        kind: NotificationKind,
        squad: str,
        event_key: str,
        **about: object,
    ) -> None:
        self.notifications += notifications_for(
            case=case,
            kind=kind,
            squad=squad,
            catalogue=self._directory(),
            pub=self.pub,
            event_key=event_key,
            now=self.now,
            **about,  # type: ignore[arg-type]
        )

    def _watch(self, tx: RouterTransaction) -> None:
        """Record automatic assignments and corrections; review the squads they touch."""
        tx.record_auto_assignments(self.auto_assignments)
        moves = [(case.id, squad) for case, squad in self.corrections]
        corrected = tx.correct_auto_assignments(moves, self.now) if moves else {}
        if self.policy is None:
            return
        # the case that tipped each squad: its latest correction, else its latest assignment
        tipping = {a.squad: a.case_id for a in self.auto_assignments}
        tipping.update({squad: ids[-1] for squad, ids in corrected.items()})
        self.demotions, self.realised = review(
            tx, tipping, policy=self.policy, now=self.now, modes=self.squad_modes
        )
        sd = self._directory().service_delivery if self.demotions else None
        cases = {c.id: c for c, _ in self.corrections}
        for demotion in self.demotions:
            case = cases.get(tipping[demotion.squad]) or tx.get_case(tipping[demotion.squad])
            if sd is not None and case is not None:
                self._notify(
                    case,
                    NotificationKind.MODEL_DEMOTED,
                    sd.name,
                    str(new_id()),
                    about_squad=demotion.squad,
                    detail=demotion.reason,
                )

    def write(self, tx: RouterTransaction) -> int:
        """Store everything (new swarms first); return how many notifications were queued."""
        tx.insert_swarms(self.swarms)
        self._throttle(tx)
        tx.add_history(self.history)
        self._watch(tx)
        queued = tx.queue_notifications(self.notifications)
        tx.add_events(self.events)
        return queued

    def _throttle(self, tx: RouterTransaction) -> None:
        """Hold back the assignment messages over each case's limit (module docstring)."""
        rule = self.pub.throttle
        kinds = [str(k) for k in THROTTLED_KINDS]
        counted = [n for n in self.notifications if n.kind in kinds]
        if rule is None or not counted:
            return
        case_ids = list(dict.fromkeys(n.case_id for n in counted))
        already = tx.recent_messages(case_ids, kinds, self.now - rule.window)
        allowed: dict[tuple[UUID, str, str, str], bool] = {}
        used = dict(already)
        held: dict[UUID, list[str]] = {}
        kept: list[NotificationRecord] = []
        for n in self.notifications:
            if n.kind not in kinds:
                kept.append(n)
                continue
            message = (n.case_id, n.kind, n.squad, n.event_key)
            if message not in allowed:
                room = used.get(n.case_id, 0) < rule.max_per_case
                allowed[message] = room
                if room:
                    used[n.case_id] = used.get(n.case_id, 0) + 1
                else:
                    held.setdefault(n.case_id, []).append(n.squad)
            if allowed[message]:
                kept.append(n)
        self.notifications = kept
        minutes = round(rule.window.total_seconds() / 60)
        for case_id, squads in held.items():
            note = (
                f"{len(squads)} assignment message(s) not sent (to {', '.join(squads)}): the "
                f"case reached its limit of {rule.max_per_case} in {minutes} min"
            )
            self._history(case_id, HistoryAction.THROTTLED, ROUTER, note=note)
            self.throttled += len(squads)

    def count(self) -> None:
        """Count the metrics (call after the commit)."""
        if self.throttled:
            metrics.NOTIFICATIONS_THROTTLED.inc(self.throttled)
        for (squad, by), n in self.assigned.items():
            metrics.CASES_ASSIGNED.labels(squad, by).inc(n)
        for reason, n in self.escalated.items():
            metrics.CASES_ESCALATED.labels(reason.value).inc(n)
        if self.reassigned:
            metrics.REASSIGNMENTS.inc(self.reassigned)
        for squad, value in self.realised.items():
            metrics.REALISED_PRECISION.labels(squad).set(value)
        for demotion in self.demotions:
            metrics.DEMOTIONS.labels(demotion.squad).inc()

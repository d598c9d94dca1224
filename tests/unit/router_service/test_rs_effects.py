"""Effects: each domain event maps, in one place, to its lifecycle event, history entry,
notifications and metrics."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts import topics
from contracts.events import EscalationReason as R
from router import metrics
from router.domain.events import (
    CaseAcknowledged,
    CaseAssigned,
    CaseEscalated,
    CaseReassigned,
    CaseResolved,
    SwarmClosed,
    SwarmJoined,
    SwarmOpened,
)
from router.domain.swarm import Swarm
from router.records import HistoryAction
from router.service.effects import Effects
from router.service.routing import new_case_record

from .conftest import NOW

SD = "service-delivery"


@pytest.fixture
def case(make_triaged):
    _, triaged = make_triaged(squad="payments", confidence=0.8)
    return new_case_record(triaged, NOW)


@pytest.fixture
def effects(container):
    return Effects(catalogue=container.catalogue.current, pub=container.pub, now=NOW)


def _summary(effects: Effects):
    return (
        [e.event.type for e in effects.events],
        [(h.action, h.from_squad, h.to_squad, h.by, h.reason) for h in effects.history],
        sorted({(n.squad, n.kind) for n in effects.notifications}),
    )


def test_assigned(effects, case):
    deadline = NOW + timedelta(hours=4)
    effects.add(case, [CaseAssigned("payments", "router", False, deadline, "why", None)])
    types, history, notes = _summary(effects)
    assert types == [topics.CASE_ASSIGNED]
    assert history == [(HistoryAction.ASSIGNED, None, "payments", "router", None)]
    assert notes == [("payments", "assigned")]
    data = effects.events[0].event.data
    assert data["confidence"] == 0.8 and data["note"] == "why"
    assert all(n.event_key == effects.events[0].event.id for n in effects.notifications)
    assert effects.assigned == {("payments", "router"): 1}


def test_reassigned(effects, case):
    event = CaseReassigned("checkout", "sam", None, "not ours", "payments", "payments")
    effects.add(case, [event])
    types, history, notes = _summary(effects)
    assert types == [topics.CASE_ASSIGNED, topics.CASE_REASSIGNED]
    assert history == [(HistoryAction.REASSIGNED, "payments", "checkout", "sam", None)]
    assert notes == [("checkout", "reassigned")]
    assigned, reassigned = (e.event.data for e in effects.events)
    assert assigned["confidence"] is None  # not the predicted squad
    assert reassigned["from_squad"] == "payments" and reassigned["predicted_squad"] == "payments"
    assert all(n.event_key == effects.events[0].event.id for n in effects.notifications)
    assert effects.assigned == {("checkout", "person"): 1} and effects.reassigned == 1


def test_escalated_with_a_swarm_tells_service_delivery_then_the_members(effects, case):
    squads = ["payments", "checkout"]
    swarm = Swarm.open(case_id=case.id, squads=squads, reason=R.CROSS_SQUAD, now=NOW)
    escalated = CaseEscalated(R.CROSS_SQUAD, ("payments", "checkout"), "two", "router", None)
    effects.add(case, [escalated, SwarmOpened(swarm, "router")], event_key="evt-1")
    types, history, _ = _summary(effects)
    assert types == [topics.CASE_ESCALATED, topics.SWARM_OPENED]
    assert history == [
        (HistoryAction.ESCALATED, None, None, "router", "cross_squad"),
        (HistoryAction.SWARM_OPENED, None, None, "router", "cross_squad"),
    ]
    recipients = [(n.squad, n.kind) for n in effects.notifications if n.channel == "webhook"]
    assert recipients == [
        (SD, "escalated"),
        ("payments", "swarm_opened"),
        ("checkout", "swarm_opened"),
    ]
    assert {n.payload["swarm_id"] for n in effects.notifications} == {str(swarm.id)}
    assert {n.event_key for n in effects.notifications} == {"evt-1"}
    assert [s.id for s in effects.swarms] == [swarm.id]
    assert effects.escalated == {R.CROSS_SQUAD: 1}


def test_an_ack_timeout_escalation_is_its_own_kind_of_message(effects, case):
    event = CaseEscalated(R.ACK_TIMEOUT, ("payments",), "late", "router", "payments")
    effects.add(case, [event])
    _, history, notes = _summary(effects)
    assert history == [(HistoryAction.ESCALATED, "payments", None, "router", "ack_timeout")]
    assert notes == [(SD, "ack_timeout")]
    assert effects.notifications[0].payload["reason"] == "ack_timeout"


def test_acknowledged_resolved_and_swarm_closed_notify_nobody(effects, case):
    swarm = Swarm.open(case_id=case.id, squads=["payments"], reason=R.CROSS_SQUAD, now=NOW)
    closed = swarm.close("payments", "found it", now=NOW)
    effects.add(
        case,
        [
            CaseAcknowledged("payments", "pat"),
            SwarmClosed(closed, "sd"),
            CaseResolved("payments", "pat", "fixed"),
        ],
    )
    types, history, notes = _summary(effects)
    assert types == [topics.CASE_ACKNOWLEDGED, topics.SWARM_CLOSED, topics.CASE_RESOLVED]
    assert history == [
        (HistoryAction.ACKNOWLEDGED, None, "payments", "pat", None),
        (HistoryAction.SWARM_CLOSED, None, "payments", "sd", None),
        (HistoryAction.RESOLVED, "payments", None, "pat", None),
    ]
    assert notes == []
    assert effects.history[1].note == "found it" and effects.history[2].note == "fixed"


def test_a_squad_joining_a_swarm_is_only_told(effects, case):
    swarm = Swarm.open(case_id=case.id, squads=["payments"], reason=R.CROSS_SQUAD, now=NOW)
    joined = swarm.join("checkout")
    effects.add(case, [SwarmJoined(joined, "checkout", "sd")])
    assert effects.events == [] and effects.history == []
    assert {(n.squad, n.kind, n.event_key) for n in effects.notifications} == {
        ("checkout", "swarm_opened", f"join:{swarm.id}")
    }
    assert effects.notifications[0].payload["squads_involved"] == ["payments", "checkout"]


def test_metrics_are_counted_once_by_count(effects, case):
    counter = metrics.CASES_ASSIGNED.labels("payments", "router")
    before = counter._value.get()
    effects.add(case, [CaseAssigned("payments", "router", False, None, None, None)])
    assert counter._value.get() == before  # adding counts nothing yet
    effects.count()
    assert counter._value.get() == before + 1

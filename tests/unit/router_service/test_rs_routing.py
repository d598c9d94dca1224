"""Automatic routing of triaged cases: each outcome writes case, history, notifications and
lifecycle events together; duplicates are processed once."""

from __future__ import annotations

from contracts import topics
from contracts.cases import Priority
from router.domain.lifecycle import LifecycleStatus
from router.records import HistoryAction
from router.service.queries import case_detail

LIFECYCLE = "support.case.lifecycle.v1"


def test_confident_case_is_assigned_with_event_and_notifications(
    container, make_triaged, outbox, clock
):
    event_id, triaged = make_triaged()

    report = container.route([(event_id, triaged)])

    assert report.assigned == {"payments": 1}
    detail = case_detail(triaged.case_id, store=container.store)
    assert detail.case.status is LifecycleStatus.ASSIGNED
    assert detail.case.squad == "payments"
    deadline = clock.now() + container.policy.current.ack_deadlines[Priority.P3]
    assert detail.case.ack_deadline == deadline
    assert [h.action for h in detail.history] == [HistoryAction.ASSIGNED]
    assert sorted(n.channel for n in detail.notifications) == ["email", "webhook"]
    assert {n.squad for n in detail.notifications} == {"payments"}
    ((topic, key, event),) = outbox(container)
    assert (topic, key) == (LIFECYCLE, str(triaged.case_id))
    assert event.type == topics.CASE_ASSIGNED
    assert event.source == "/support-triage/router"
    assert event.subject == str(triaged.case_id)
    assert event.data["squad"] == "payments" and event.data["by"] == "router"


def test_low_confidence_escalates_to_service_delivery_without_swarm(
    container, make_triaged, outbox
):
    event_id, triaged = make_triaged(confidence=0.3)

    container.route([(event_id, triaged)])

    detail = case_detail(triaged.case_id, store=container.store)
    assert detail.case.status is LifecycleStatus.ESCALATED
    assert detail.case.escalation_reason == "low_confidence"
    assert detail.swarm is None
    assert {n.squad for n in detail.notifications} == {"service-delivery"}
    events = outbox(container)
    assert [e.type for _, _, e in events] == [topics.CASE_ESCALATED]
    assert events[0][2].data["reason"] == "low_confidence"


def test_cross_squad_case_opens_a_swarm_and_invites_the_squads(container, make_triaged, outbox):
    event_id, triaged = make_triaged(
        squad="payments",
        confidence=0.5,
        candidates=[("payments", 0.5), ("checkout", 0.45)],
        components=[("payment-gateway", "payments"), ("checkout-api", "checkout")],
        spans_squads=True,
    )

    container.route([(event_id, triaged)])

    detail = case_detail(triaged.case_id, store=container.store)
    assert detail.case.status is LifecycleStatus.SWARMING
    assert detail.case.escalation_reason == "cross_squad"
    assert detail.swarm is not None and detail.swarm.status == "open"
    assert {m.squad for m in detail.swarm.members} == {"payments", "checkout"}
    kinds = sorted((n.squad, n.kind) for n in detail.notifications)
    assert ("service-delivery", "escalated") in kinds
    assert ("checkout", "swarm_opened") in kinds
    assert ("payments", "swarm_opened") in kinds
    types = [e.type for _, _, e in outbox(container)]
    assert types == [topics.CASE_ESCALATED, topics.SWARM_OPENED]


def test_p1_is_a_major_incident(container, make_triaged):
    event_id, triaged = make_triaged(priority=Priority.P1)
    report = container.route([(event_id, triaged)])
    assert report.escalated == {"major_incident": 1}


def test_unowned_component_escalates(container, make_triaged):
    event_id, triaged = make_triaged(components=[("legacy-cms", None)])
    container.route([(event_id, triaged)])
    case = case_detail(triaged.case_id, store=container.store).case
    assert case.escalation_reason == "unowned"


def test_duplicate_event_is_processed_once(container, make_triaged, outbox):
    event_id, triaged = make_triaged()

    first = container.route([(event_id, triaged), (event_id, triaged)])
    second = container.route([(event_id, triaged)])

    assert first.duplicates == 1 and second.duplicates == 1
    detail = case_detail(triaged.case_id, store=container.store)
    assert len(detail.history) == 1
    assert len(detail.notifications) == 2
    assert len(outbox(container)) == 1


def test_same_case_triaged_again_is_not_routed_again(container, make_triaged, outbox):
    event_id, triaged = make_triaged()
    container.route([(event_id, triaged)])

    report = container.route(
        [make_triaged(case_id=triaged.case_id, squad="checkout", components=[])]
    )

    assert report.retriaged == 1 and report.assigned == {}
    detail = case_detail(triaged.case_id, store=container.store)
    assert detail.case.squad == "payments"
    assert [h.action for h in detail.history] == [HistoryAction.ASSIGNED, HistoryAction.RETRIAGED]
    assert len(outbox(container)) == 1

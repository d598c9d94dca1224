"""Routing a whole consumer batch in one transaction: what batching must not change.

Each kind of row is written once per batch, so these tests mix cases, repeats and replays
inside one batch and check that every case ends up as if its events had come one by one.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from contracts import topics
from contracts.ids import new_id
from router.adapters import tables
from router.domain.lifecycle import LifecycleStatus
from router.records import DeliveryStatus, HistoryAction, NotificationRecord
from router.service.queries import case_detail

LIFECYCLE = "support.case.lifecycle.v1"


def _cross_squad(make_triaged):
    return make_triaged(
        squad="payments",
        confidence=0.5,
        candidates=[("payments", 0.5), ("checkout", 0.45)],
        components=[("payment-gateway", "payments"), ("checkout-api", "checkout")],
        spans_squads=True,
    )


def test_two_events_for_one_case_in_a_batch_route_once_then_count_as_retriage(
    container, make_triaged, outbox
):
    first = make_triaged()
    again = make_triaged(case_id=first[1].case_id, squad="checkout", components=[])

    report = container.route([first, again])

    assert report.assigned == {"payments": 1} and report.retriaged == 1
    detail = case_detail(first[1].case_id, store=container.store)
    assert detail.case.squad == "payments"
    assert [h.action for h in detail.history] == [HistoryAction.ASSIGNED, HistoryAction.RETRIAGED]
    assert [e.type for _, _, e in outbox(container)] == [topics.CASE_ASSIGNED]
    assert container.route([first, again]).duplicates == 2  # both ids were marked processed


def test_batch_mixing_processed_and_new_event_ids_routes_only_the_new(
    container, make_triaged, outbox
):
    old = make_triaged()
    container.route([old])
    new_a, new_b = make_triaged(squad="checkout", components=[]), make_triaged(confidence=0.2)

    report = container.route([new_a, old, new_b, new_a])

    assert report.duplicates == 2
    assert report.assigned == {"checkout": 1}
    assert report.escalated == {"low_confidence": 1}
    keys = [key for _, key, _ in outbox(container)]
    assert keys == [str(old[1].case_id), str(new_a[1].case_id), str(new_b[1].case_id)]
    assert len(case_detail(old[1].case_id, store=container.store).history) == 1
    with container.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(tables.processed_events))
        assert stored.scalar_one() == 3


def test_a_batch_keeps_each_cases_events_and_history_in_order(container, make_triaged, outbox):
    items = [_cross_squad(make_triaged), make_triaged(), _cross_squad(make_triaged)]

    report = container.route(items)

    assert report.swarms_opened == 2 and report.assigned == {"payments": 1}
    by_case: dict[str, list[str]] = defaultdict(list)
    for topic, key, event in outbox(container):
        assert topic == LIFECYCLE and event.subject == key
        by_case[key].append(event.type)
    swarm_types = [topics.CASE_ESCALATED, topics.SWARM_OPENED]
    assert by_case[str(items[0][1].case_id)] == swarm_types
    assert by_case[str(items[1][1].case_id)] == [topics.CASE_ASSIGNED]
    assert by_case[str(items[2][1].case_id)] == swarm_types
    for _, triaged in (items[0], items[2]):
        detail = case_detail(triaged.case_id, store=container.store)
        assert detail.case.status is LifecycleStatus.SWARMING
        assert [h.action for h in detail.history] == [
            HistoryAction.ESCALATED,
            HistoryAction.SWARM_OPENED,
        ]
        assert detail.swarm is not None
        assert {m.squad for m in detail.swarm.members} == {"payments", "checkout"}
        kinds = sorted((n.squad, n.kind) for n in detail.notifications)
        assert kinds == [
            ("checkout", "swarm_opened"),
            ("payments", "swarm_opened"),
            ("payments", "swarm_opened"),  # payments has webhook and email
            ("service-delivery", "escalated"),
        ]


def _note(case_id, *, event_key: str, channel: str = "webhook", squad: str = "payments"):
    now = datetime(2026, 3, 2, 9, 31, tzinfo=UTC)
    return NotificationRecord(
        id=new_id(),
        case_id=case_id,
        squad=squad,
        channel=channel,
        address="http://hooks.test/payments",
        kind="assigned",
        event_key=event_key,
        payload={},
        next_attempt_at=now,
        created_at=now,
    )


@pytest.fixture
def routed_case(container, make_triaged):
    event_id, triaged = make_triaged()
    container.route([(event_id, triaged)])
    return triaged.case_id, event_id


def test_duplicate_notification_keys_in_one_call_are_queued_once(container, routed_case):
    case_id, _ = routed_case
    first = _note(case_id, event_key="evt-x")
    rows = [first, _note(case_id, event_key="evt-x"), _note(case_id, event_key="evt-y")]

    with container.store.transaction() as tx:
        queued = tx.queue_notifications(rows)

    assert queued == 2
    stored = {n.id: n for n in container.store.notifications_for(case_id)}
    assert first.id in stored  # the first of the repeated keys wins
    webhook_keys = sorted(n.event_key for n in stored.values() if n.channel == "webhook")
    assert webhook_keys == sorted(["evt-x", "evt-y", routed_case[1]])


def test_notification_keys_already_stored_are_skipped_and_not_counted(container, routed_case):
    case_id, event_id = routed_case
    before = container.store.notifications_for(case_id)
    rows = [
        _note(case_id, event_key=event_id),  # the assignment's webhook message: stored
        _note(case_id, event_key=event_id, channel="email"),  # stored too
        _note(case_id, event_key=event_id, channel="slack"),  # new channel: a new key
    ]

    with container.store.transaction() as tx:
        queued = tx.queue_notifications(rows)

    after = container.store.notifications_for(case_id)
    assert queued == 1 and len(after) == len(before) + 1
    assert {n.status for n in after} == {DeliveryStatus.QUEUED}

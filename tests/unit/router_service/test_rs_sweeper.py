"""The ack-timeout sweeper escalates an overdue case exactly once, even with racing sweepers."""

from __future__ import annotations

import threading
from datetime import timedelta

from contracts import topics
from router.bootstrap import build
from router.domain.lifecycle import LifecycleStatus
from router.records import HistoryAction
from router.service import desk
from router.service.queries import case_detail


def test_overdue_assignment_escalates_once_and_notifies_service_delivery(
    container, make_triaged, clock, outbox
):
    event_id, triaged = make_triaged()
    container.route([(event_id, triaged)])
    assert container.sweep() == 0

    clock.advance(timedelta(hours=4, seconds=1))

    assert container.sweep() == 1
    assert container.sweep() == 0
    detail = case_detail(triaged.case_id, store=container.store)
    assert detail.case.status is LifecycleStatus.ESCALATED
    assert detail.case.escalation_reason == "ack_timeout"
    assert ("service-delivery", "ack_timeout") in {(n.squad, n.kind) for n in detail.notifications}
    last = outbox(container)[-1][2]
    assert last.type == topics.CASE_ESCALATED and last.data["reason"] == "ack_timeout"
    assert last.data["squads"] == ["payments"]


def test_acknowledged_case_is_not_escalated(container, make_triaged, clock):
    event_id, triaged = make_triaged()
    container.route([(event_id, triaged)])
    desk.acknowledge_case(
        triaged.case_id,
        squad="payments",
        by="p",
        store=container.store,
        clock=clock,
        pub=container.pub,
    )
    clock.advance(timedelta(days=2))
    assert container.sweep() == 0


def test_two_sweepers_racing_escalate_each_case_once(
    container, settings, sender, make_triaged, clock
):
    cases = [make_triaged() for _ in range(30)]
    container.route(cases)
    clock.advance(timedelta(days=1))
    other = build(settings, clock=clock, sender=sender, migrate=False)  # a second instance
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def run(c):
        barrier.wait()
        counts.append(c.sweep())

    threads = [threading.Thread(target=run, args=(c,)) for c in (container, other)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    other.engine.dispose()

    assert sum(counts) == 30
    for _, triaged in cases:
        history = container.store.history(triaged.case_id)
        timeouts = [h for h in history if h.action is HistoryAction.ESCALATED]
        assert len(timeouts) == 1
        notes = container.store.notifications_for(triaged.case_id)
        assert sum(1 for n in notes if n.kind == "ack_timeout") == 1


def test_a_case_failing_to_escalate_does_not_abort_the_sweep(
    container, make_triaged, clock, monkeypatch, caplog
):
    from router import metrics
    from router.service import effects

    cases = [make_triaged() for _ in range(3)]
    container.route(cases)
    clock.advance(timedelta(days=1))
    overdue = container.store.overdue_cases(clock.now(), 10)
    broken = overdue[0].id  # the first the sweep takes
    real = effects.notifications_for

    def failing(*, case, **kw):
        if case.id == broken:
            raise RuntimeError("catalogue lookup blew up")
        return real(case=case, **kw)

    monkeypatch.setattr(effects, "notifications_for", failing)
    errors = metrics.SWEEP_ERRORS._value.get()

    assert container.sweep() == 2
    assert metrics.SWEEP_ERRORS._value.get() == errors + 1
    assert any(str(broken) in r.getMessage() for r in caplog.records)
    statuses = {
        triaged.case_id: case_detail(triaged.case_id, store=container.store).case.status
        for _, triaged in cases
    }
    assert statuses.pop(broken) is LifecycleStatus.ASSIGNED  # its claim was rolled back
    assert set(statuses.values()) == {LifecycleStatus.ESCALATED}

    monkeypatch.setattr(effects, "notifications_for", real)
    assert container.sweep() == 1  # the next sweep retries it, once
    assert container.sweep() == 0
    history = container.store.history(broken)
    assert sum(1 for h in history if h.action is HistoryAction.ESCALATED) == 1

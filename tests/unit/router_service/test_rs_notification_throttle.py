"""A case bounced between squads cannot flood their channels: at most NOTIFY_MAX_PER_CASE
assignment messages per case and window; the rest are recorded on the case."""

from __future__ import annotations

from datetime import timedelta

from router.records import HistoryAction
from router.service import desk
from router.service.queries import case_detail


def _bounce(container, case_id, squads):
    deps = {
        "store": container.store,
        "clock": container.clock,
        "pub": container.pub,
        "catalogue": container.catalogue.current,
        "policy": container.policy.current,
    }
    for squad in squads:
        desk.assign_case(case_id, squad=squad, by="sam", note="bounce", **deps)


def _messages(detail):
    """(squad, kind, created_at) of each assignment message, whatever its channels."""
    return {
        (n.squad, n.kind, n.created_at)
        for n in detail.notifications
        if n.kind in ("assigned", "reassigned")
    }


def test_a_bounced_case_is_throttled_and_the_excess_is_on_the_case(container, make_triaged, clock):
    limit = container.pub.throttle.max_per_case
    assert limit == 6  # the default
    event_id, triaged = make_triaged()
    container.route([(event_id, triaged)])  # 1: assigned to payments
    bounces = ["checkout", "payments"] * 5  # 10 reassignments
    for squad in bounces:
        clock.advance(timedelta(seconds=30))
        _bounce(container, triaged.case_id, [squad])

    detail = case_detail(triaged.case_id, store=container.store)
    assert len(_messages(detail)) == limit
    throttled = [h for h in detail.history if h.action is HistoryAction.THROTTLED]
    assert len(throttled) == 1 + len(bounces) - limit
    assert "limit of 6 in 60 min" in throttled[0].note
    reassigned = [h for h in detail.history if h.action is HistoryAction.REASSIGNED]
    assert len(reassigned) == len(bounces)  # the routing itself is never held back

    clock.advance(timedelta(minutes=61))  # a new window
    _bounce(container, triaged.case_id, ["checkout"])
    detail = case_detail(triaged.case_id, store=container.store)
    assert len(_messages(detail)) == limit + 1


def test_without_a_limit_every_bounce_is_told(container, make_triaged, clock):
    container.pub = type(container.pub)(
        lifecycle_topic=container.pub.lifecycle_topic,
        public_base_url=container.pub.public_base_url,
        channels=container.pub.channels,
        throttle=None,
    )
    event_id, triaged = make_triaged()
    container.route([(event_id, triaged)])
    for squad in ["checkout", "payments"] * 5:
        clock.advance(timedelta(seconds=30))
        _bounce(container, triaged.case_id, [squad])
    detail = case_detail(triaged.case_id, store=container.store)
    assert len(_messages(detail)) == 11
    assert not [h for h in detail.history if h.action is HistoryAction.THROTTLED]

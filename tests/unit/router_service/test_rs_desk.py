"""The manual desk: assignment, reassignment, acknowledgement, resolution, swarms, 409s."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts import topics
from router.domain.errors import InvalidSwarmInput, InvalidTransition, SwarmAlreadyClosed
from router.domain.lifecycle import LifecycleStatus
from router.records import HistoryAction
from router.service import desk
from router.service.errors import CaseNotFound, ConcurrentUpdate, UnknownSquadError
from router.service.queries import case_detail


def _deps(c, *, policy=True, catalogue=True):
    deps = {"store": c.store, "clock": c.clock, "pub": c.pub}
    if catalogue:
        deps["catalogue"] = c.catalogue.current
    if policy:
        deps["policy"] = c.policy.current
    return deps


@pytest.fixture
def assigned(container, make_triaged):
    event_id, triaged = make_triaged()
    container.route([(event_id, triaged)])
    return triaged.case_id


@pytest.fixture
def swarming(container, make_triaged):
    event_id, triaged = make_triaged(
        confidence=0.5,
        candidates=[("payments", 0.5), ("checkout", 0.45)],
        components=[("payment-gateway", "payments"), ("checkout-api", "checkout")],
        spans_squads=True,
    )
    container.route([(event_id, triaged)])
    return case_detail(triaged.case_id, store=container.store).swarm


def test_reassignment_emits_the_correction_and_remembers_the_old_squad(container, assigned, outbox):
    done = desk.assign_case(
        assigned, squad="checkout", by="sam", note="it is the basket", **_deps(container)
    )

    case = done.case
    assert (done.reassigned, done.from_squad, done.audit_action) == (
        True,
        "payments",
        "case.reassign",
    )
    assert case.squad == "checkout" and case.status is LifecycleStatus.ASSIGNED
    assert case.moved_away_from == ["payments"]
    events = [e for _, _, e in outbox(container)][1:]
    assert [e.type for e in events] == [topics.CASE_ASSIGNED, topics.CASE_REASSIGNED]
    label = events[1].data
    assert (label["from_squad"], label["to_squad"], label["predicted_squad"]) == (
        "payments",
        "checkout",
        "payments",
    )
    detail = case_detail(assigned, store=container.store)
    assert detail.history[-1].action is HistoryAction.REASSIGNED
    assert ("checkout", "reassigned") in {(n.squad, n.kind) for n in detail.notifications}


def test_assigning_an_escalated_case_to_the_predicted_squad_is_not_a_correction(
    container, make_triaged, outbox
):
    event_id, triaged = make_triaged(confidence=0.2)
    container.route([(event_id, triaged)])

    done = desk.assign_case(triaged.case_id, squad="payments", by="sd", **_deps(container))

    assert (done.reassigned, done.from_squad, done.audit_action) == (False, None, "case.assign")
    assert [e.type for _, _, e in outbox(container)][1:] == [topics.CASE_ASSIGNED]


def test_unknown_and_service_delivery_squads_are_refused_naming_the_field(container, assigned):
    with pytest.raises(UnknownSquadError) as unknown:
        desk.assign_case(assigned, squad="nobody", by="sam", **_deps(container))
    assert unknown.value.field == "body.squad"
    with pytest.raises(UnknownSquadError):
        desk.assign_case(assigned, squad="service-delivery", by="sam", **_deps(container))


def test_assigning_to_the_same_squad_is_an_invalid_transition(container, assigned):
    with pytest.raises(InvalidTransition):
        desk.assign_case(assigned, squad="payments", by="sam", **_deps(container))


def test_unknown_case_is_not_found(container, make_triaged):
    _, triaged = make_triaged()
    with pytest.raises(CaseNotFound):
        desk.assign_case(triaged.case_id, squad="payments", by="sam", **_deps(container))


def test_acknowledge_only_by_the_assigned_squad_and_once(container, assigned):
    deps = _deps(container, policy=False, catalogue=False)
    with pytest.raises(InvalidTransition):
        desk.acknowledge_case(assigned, squad="checkout", by="x", **deps)

    case = desk.acknowledge_case(assigned, squad="payments", by="pat", **deps)

    assert case.status is LifecycleStatus.ACKNOWLEDGED and case.ack_deadline is None
    with pytest.raises(InvalidTransition):
        desk.acknowledge_case(assigned, squad="payments", by="pat", **deps)


def test_resolve_then_resolve_again_is_409(container, assigned, outbox):
    deps = _deps(container, policy=False)
    case = desk.resolve_case(assigned, by="pat", resolution="fixed", **deps)
    assert case.status is LifecycleStatus.RESOLVED
    assert outbox(container)[-1][2].type == topics.CASE_RESOLVED
    with pytest.raises(InvalidTransition):
        desk.resolve_case(assigned, by="pat", **deps)
    with pytest.raises(InvalidTransition):
        desk.assign_case(assigned, squad="checkout", by="sam", **_deps(container))


def test_stale_write_is_refused(container, assigned):
    with container.store.transaction() as tx:
        case = tx.get_case(assigned)
    desk.acknowledge_case(
        assigned, squad="payments", by="pat", **_deps(container, policy=False, catalogue=False)
    )
    with container.store.transaction() as tx:
        assert tx.update_case(case, expect=case) is False


def test_swarm_member_note_and_close(container, swarming, outbox, clock):
    deps = _deps(container, policy=False)
    with pytest.raises(UnknownSquadError):
        desk.add_swarm_member(swarming.id, squad="nobody", by="sd", **deps)
    swarm = desk.add_swarm_member(swarming.id, squad="search", by="sd", **deps)
    assert {m.squad for m in swarm.members} == {"payments", "checkout", "search"}
    detail = case_detail(swarming.case_id, store=container.store)
    assert ("search", "swarm_opened") in {(n.squad, n.kind) for n in detail.notifications}

    with pytest.raises(InvalidSwarmInput):
        desk.add_swarm_note(swarming.id, author="sd", text="  ", store=container.store, clock=clock)
    swarm = desk.add_swarm_note(
        swarming.id, author="sd", text="gateway fine", store=container.store, clock=clock
    )
    assert [n.text for n in swarm.notes] == ["gateway fine"]

    clock.advance(timedelta(minutes=5))
    closed = desk.close_swarm(
        swarming.id, owner_squad="checkout", outcome="basket bug", by="sd", **_deps(container)
    )

    assert closed.status == "closed" and closed.owner_squad == "checkout"
    case = case_detail(swarming.case_id, store=container.store).case
    assert case.status is LifecycleStatus.ASSIGNED and case.squad == "checkout"
    types = [e.type for _, _, e in outbox(container)]
    assert types[-3:] == [topics.SWARM_CLOSED, topics.CASE_ASSIGNED, topics.CASE_REASSIGNED]
    with pytest.raises(SwarmAlreadyClosed):
        desk.close_swarm(
            swarming.id, owner_squad="checkout", outcome="again", by="sd", **_deps(container)
        )
    with pytest.raises(SwarmAlreadyClosed):
        desk.add_swarm_note(
            swarming.id, author="sd", text="late", store=container.store, clock=clock
        )


def test_resolving_a_swarming_case_closes_its_swarm(container, swarming):
    desk.resolve_case(swarming.case_id, by="sd", resolution="dup", **_deps(container, policy=False))
    swarm = container.store.get_swarm(swarming.id)
    assert swarm.status == "closed" and swarm.outcome == "resolved: dup"


def test_concurrent_update_error_is_raised_for_a_lost_race(container, assigned, monkeypatch):
    """When the conditional write matches no row, the service says so instead of overwriting."""
    from router.adapters.db import SqlTransaction

    monkeypatch.setattr(SqlTransaction, "update_case", lambda self, case, *, expect: False)
    with pytest.raises(ConcurrentUpdate):
        desk.acknowledge_case(
            assigned, squad="payments", by="p", **_deps(container, policy=False, catalogue=False)
        )

"""The case lifecycle: every status x action pair, allowed or refused, its new state and the
domain events it causes."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from contracts.events import EscalationReason as R
from router.domain.errors import InvalidTransition
from router.domain.events import (
    CaseAcknowledged,
    CaseAssigned,
    CaseEscalated,
    CaseReassigned,
    CaseResolved,
    SwarmOpened,
)
from router.domain.lifecycle import (
    Acknowledge,
    AckTimeout,
    Action,
    Assign,
    CaseState,
    Escalate,
    LifecycleStatus,
    OpenSwarm,
    Resolve,
    transition,
)
from router.domain.swarm import Swarm

S = LifecycleStatus
DEADLINE = datetime(2026, 3, 2, 13, 30, tzinfo=UTC)
LATE = DEADLINE + timedelta(seconds=1)
SWARM = Swarm.open(
    case_id=UUID("0190a1b2-0000-7000-8000-00000000abcd"),
    squads=["payments", "identity"],
    reason=R.CROSS_SQUAD,
    now=DEADLINE,
)

# One state per status, each with the squad a case in that status would carry.
STATES = {
    S.TRIAGED: CaseState(),
    S.ASSIGNED: CaseState(S.ASSIGNED, "payments", ack_deadline=DEADLINE),
    S.ACKNOWLEDGED: CaseState(S.ACKNOWLEDGED, "payments"),
    S.ESCALATED: CaseState(S.ESCALATED, "payments", escalation_reason=R.LOW_CONFIDENCE),
    S.SWARMING: CaseState(S.SWARMING, "payments", escalation_reason=R.CROSS_SQUAD),
    S.RESOLVED: CaseState(S.RESOLVED, "payments"),
}
ACTIONS: dict[str, Action] = {
    "auto_assign": Assign("identity", by="router", ack_deadline=DEADLINE),
    "manual_assign": Assign("identity", by="lead@example.com", manual=True),
    "escalate": Escalate(R.MANUAL),
    "open_swarm": OpenSwarm(SWARM),
    "acknowledge": Acknowledge("payments", by="bob"),
    "resolve": Resolve(by="bob"),
    "ack_timeout": AckTimeout(now=LATE),
}
# The whole table of allowed (status, action) pairs and the status they lead to.
ALLOWED = {
    (S.TRIAGED, "auto_assign"): S.ASSIGNED,
    (S.TRIAGED, "manual_assign"): S.ASSIGNED,
    (S.TRIAGED, "escalate"): S.ESCALATED,
    (S.ASSIGNED, "manual_assign"): S.ASSIGNED,
    (S.ASSIGNED, "escalate"): S.ESCALATED,
    (S.ASSIGNED, "acknowledge"): S.ACKNOWLEDGED,
    (S.ASSIGNED, "resolve"): S.RESOLVED,
    (S.ASSIGNED, "ack_timeout"): S.ESCALATED,
    (S.ACKNOWLEDGED, "manual_assign"): S.ASSIGNED,
    (S.ACKNOWLEDGED, "escalate"): S.ESCALATED,
    (S.ACKNOWLEDGED, "resolve"): S.RESOLVED,
    (S.ESCALATED, "manual_assign"): S.ASSIGNED,
    (S.ESCALATED, "open_swarm"): S.SWARMING,
    (S.ESCALATED, "resolve"): S.RESOLVED,
    (S.SWARMING, "manual_assign"): S.ASSIGNED,
    (S.SWARMING, "resolve"): S.RESOLVED,
}
PAIRS = [(status, name) for status in S for name in ACTIONS]


@pytest.mark.parametrize(("status", "name"), PAIRS)
def test_every_status_and_action(status: LifecycleStatus, name: str) -> None:
    state, action = STATES[status], ACTIONS[name]
    if (status, name) in ALLOWED:
        step = transition(state, action)
        assert step.state.status == ALLOWED[(status, name)]
        assert step.events  # every change says what happened
    else:
        with pytest.raises(InvalidTransition) as caught:
            transition(state, action)
        error = caught.value
        assert error.code == "invalid_transition"
        assert error.current == status.value
        assert error.attempted == action.name
    assert state == STATES[status]  # never mutated


def test_auto_assign_sets_squad_and_deadline() -> None:
    after = transition(CaseState(), Assign("payments", by="router", ack_deadline=DEADLINE)).state
    assert after == CaseState(S.ASSIGNED, "payments", ack_deadline=DEADLINE)


def test_auto_assign_refuses_a_squad_moved_away_from() -> None:
    state = CaseState(moved_away_from=frozenset({"payments"}))
    with pytest.raises(InvalidTransition, match="payments"):
        transition(state, Assign("payments", by="router"))
    assert transition(state, Assign("identity", by="router")).state.squad == "identity"


@pytest.mark.parametrize("status", [S.ASSIGNED, S.ACKNOWLEDGED, S.ESCALATED, S.SWARMING])
def test_manual_reassignment_records_the_squad_moved_away_from(status: LifecycleStatus) -> None:
    state = CaseState(status, "payments", moved_away_from=frozenset({"search"}))
    after = transition(
        state, Assign("identity", by="lead", manual=True, ack_deadline=DEADLINE)
    ).state
    assert after.status == S.ASSIGNED
    assert after.squad == "identity"
    assert after.moved_away_from == {"payments", "search"}
    assert after.escalation_reason is None
    assert after.ack_deadline == DEADLINE


def test_manual_assignment_of_a_fresh_case_moves_away_from_nobody() -> None:
    after = transition(CaseState(), Assign("identity", by="lead", manual=True)).state
    assert after.moved_away_from == frozenset()


def test_a_person_may_assign_back_to_a_squad_moved_away_from() -> None:
    state = CaseState(S.ESCALATED, "identity", moved_away_from=frozenset({"payments"}))
    after = transition(state, Assign("payments", by="lead", manual=True)).state
    assert after.squad == "payments"
    assert after.moved_away_from == {"payments", "identity"}


@pytest.mark.parametrize("status", [S.ASSIGNED, S.ACKNOWLEDGED])
def test_manual_assign_to_the_same_squad_is_refused(status: LifecycleStatus) -> None:
    with pytest.raises(InvalidTransition, match="already assigned"):
        transition(CaseState(status, "payments"), Assign("payments", by="lead", manual=True))


def test_escalated_case_can_go_back_to_its_last_squad_without_moving_away() -> None:
    state = CaseState(S.ESCALATED, "payments", escalation_reason=R.ACK_TIMEOUT)
    after = transition(state, Assign("payments", by="lead", manual=True)).state
    assert after.status == S.ASSIGNED
    assert after.moved_away_from == frozenset()


def test_only_the_assigned_squad_acknowledges() -> None:
    state = STATES[S.ASSIGNED]
    with pytest.raises(InvalidTransition, match="only 'payments' can acknowledge"):
        transition(state, Acknowledge("identity", by="eve"))
    after = transition(state, Acknowledge("payments", by="bob")).state
    assert after.status == S.ACKNOWLEDGED
    assert after.ack_deadline is None
    assert after.squad == "payments"


def test_ack_timeout_escalates_exactly_once() -> None:
    after = transition(STATES[S.ASSIGNED], AckTimeout(now=LATE)).state
    assert after.status == S.ESCALATED
    assert after.escalation_reason == R.ACK_TIMEOUT
    assert after.ack_deadline is None
    assert after.squad == "payments"
    with pytest.raises(InvalidTransition):
        transition(after, AckTimeout(now=LATE))


def test_ack_timeout_cannot_be_claimed_through_escalate() -> None:
    with pytest.raises(InvalidTransition, match="AckTimeout"):
        transition(STATES[S.ASSIGNED], Escalate(R.ACK_TIMEOUT))


@pytest.mark.parametrize("reason", [r for r in R if r is not R.ACK_TIMEOUT])
def test_escalate_records_the_reason(reason: R) -> None:
    after = transition(CaseState(), Escalate(reason)).state
    assert after.status == S.ESCALATED
    assert after.escalation_reason == reason


def test_escalating_an_assigned_case_drops_the_deadline_and_keeps_the_squad() -> None:
    after = transition(STATES[S.ASSIGNED], Escalate(R.MANUAL)).state
    assert after.ack_deadline is None
    assert after.squad == "payments"


def test_open_swarm_keeps_the_reason() -> None:
    after = transition(STATES[S.ESCALATED], OpenSwarm(SWARM)).state
    assert after.status == S.SWARMING
    assert after.escalation_reason == R.LOW_CONFIDENCE


def test_full_journey_with_a_swarm() -> None:
    state = CaseState()
    for action in (
        Escalate(R.CROSS_SQUAD),
        OpenSwarm(SWARM),
        Assign("identity", by="lead", manual=True, ack_deadline=DEADLINE),
        Acknowledge("identity", by="ivy"),
        Resolve(by="ivy"),
    ):
        state = transition(state, action).state
    assert state == CaseState(S.RESOLVED, "identity")


def test_state_is_immutable() -> None:
    state = CaseState()
    with pytest.raises(FrozenInstanceError):
        state.status = S.ASSIGNED  # type: ignore[misc]


def test_ack_timeout_waits_for_the_deadline() -> None:
    for now in (DEADLINE - timedelta(seconds=1), DEADLINE - timedelta(days=1)):
        with pytest.raises(InvalidTransition, match="deadline has not passed"):
            transition(STATES[S.ASSIGNED], AckTimeout(now=now))
    assert transition(STATES[S.ASSIGNED], AckTimeout(now=DEADLINE)).state.status == S.ESCALATED
    without = CaseState(S.ASSIGNED, "payments")
    with pytest.raises(InvalidTransition):
        transition(without, AckTimeout(now=LATE))


# --- the domain events each action causes ----------------------------------------------


def test_an_automatic_assignment_says_assigned() -> None:
    action = Assign("payments", by="router", ack_deadline=DEADLINE, note="why")
    assert transition(CaseState(predicted_squad="payments"), action).events == (
        CaseAssigned("payments", "router", False, DEADLINE, "why", None),
    )


def test_a_manual_move_to_another_squad_is_a_reassignment() -> None:
    state = CaseState(S.ESCALATED, "payments", predicted_squad="payments")
    step = transition(state, Assign("identity", by="lead", manual=True, note="n"))
    assert step.events == (CaseReassigned("identity", "lead", None, "n", "payments", "payments"),)


def test_a_manual_assignment_of_a_fresh_case_compares_with_the_prediction() -> None:
    fresh = CaseState(predicted_squad="payments")
    as_predicted = transition(fresh, Assign("payments", by="lead", manual=True)).events
    assert as_predicted == (CaseAssigned("payments", "lead", True, None, None, None),)
    elsewhere = transition(fresh, Assign("identity", by="lead", manual=True)).events
    assert elsewhere == (CaseReassigned("identity", "lead", None, None, None, "payments"),)


def test_a_manual_assignment_back_to_the_escalated_case_squad_is_no_correction() -> None:
    state = CaseState(S.ESCALATED, "payments", predicted_squad="identity")
    (event,) = transition(state, Assign("payments", by="lead", manual=True)).events
    assert isinstance(event, CaseAssigned) and event.from_squad == "payments"


def test_escalate_says_why_and_who_might_own_it() -> None:
    action = Escalate(R.CROSS_SQUAD, squads=("payments", "identity"), detail="two owners")
    (event,) = transition(CaseState(), action).events
    assert event == CaseEscalated(
        R.CROSS_SQUAD, ("payments", "identity"), "two owners", "router", None
    )


def test_ack_timeout_says_who_missed_which_deadline() -> None:
    (event,) = transition(STATES[S.ASSIGNED], AckTimeout(now=LATE)).events
    assert event == CaseEscalated(
        R.ACK_TIMEOUT,
        ("payments",),
        "payments did not acknowledge by 2026-03-02 13:30:00 UTC",
        "router",
        "payments",
    )


def test_open_swarm_acknowledge_and_resolve_say_so() -> None:
    assert transition(STATES[S.ESCALATED], OpenSwarm(SWARM)).events == (
        SwarmOpened(SWARM, "router"),
    )
    assert transition(STATES[S.ASSIGNED], Acknowledge("payments", by="bob")).events == (
        CaseAcknowledged("payments", "bob"),
    )
    resolved = transition(STATES[S.ACKNOWLEDGED], Resolve(by="bob", resolution="fixed"))
    assert resolved.events == (CaseResolved("payments", "bob", "fixed"),)

"""The routing decision: each rule, their precedence, deadlines, thresholds, no ping-pong."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from contracts.cases import Decision, Priority
from contracts.catalogue import Catalogue
from contracts.events import CaseTriaged
from contracts.events import EscalationReason as R
from router.domain.decision import RoutingDecision, decide
from router.domain.policy import Policy

Run = Callable[..., RoutingDecision]
# A case that triggers no rule: payments predicted at 0.9, checkout-api (payments) matched.
PLAIN: dict[str, Any] = {}
# A case with a low confidence and nothing else (payments' threshold is the default 0.6).
LOW = {"confidence": 0.4}
ALL_SQUADS = ("payments", "identity", "search", "platform")


@pytest.fixture
def run(
    make_triaged: Callable[..., CaseTriaged],
    catalogue: Catalogue,
    make_policy: Callable[..., Policy],
    now: datetime,
) -> Run:
    """Decide for a case built from keyword overrides, under a modified default policy."""

    def call(
        case: dict[str, Any],
        policy: dict[str, Any] | None = None,
        moved: frozenset[str] = frozenset(),
    ) -> RoutingDecision:
        return decide(
            triaged=make_triaged(**case),
            catalogue=catalogue,
            policy=make_policy(**(policy or {})),
            moved_away_from=moved,
            now=now,
        )

    return call


def test_confident_single_squad_case_is_assigned(run: Run, now: datetime) -> None:
    decision = run(PLAIN)
    assert decision.action == Decision.ASSIGN == "assign"
    assert decision.squad == "payments"
    assert decision.reason is None
    assert decision.squads_involved == ["payments"]
    assert decision.open_swarm is False
    assert decision.ack_deadline == now + timedelta(hours=4)
    for fact in ("payments", "0.90", "checkout-api", "test-1"):
        assert fact in decision.detail


@pytest.mark.parametrize(
    ("priority", "deadline"),
    [
        (Priority.P1, timedelta(minutes=15)),
        (Priority.P2, timedelta(hours=1)),
        (Priority.P3, timedelta(hours=4)),
        (Priority.P4, timedelta(days=1)),
    ],
)
def test_ack_deadline_follows_the_priority(
    run: Run, now: datetime, priority: Priority, deadline: timedelta
) -> None:
    # P1 is a major incident by default; without that rule it is assigned with 15 minutes.
    decision = run({"priority": priority}, {"major_incident": {"priorities": []}})
    assert decision.action == Decision.ASSIGN
    assert decision.ack_deadline == now + deadline


def test_ack_deadline_uses_the_policy_durations(run: Run, now: datetime) -> None:
    decision = run({"priority": Priority.P2}, {"ack_deadlines": {"P2": "20m"}})
    assert decision.ack_deadline == now + timedelta(minutes=20)


@pytest.mark.parametrize(
    ("case", "policy"),
    [
        ({"priority": Priority.P1}, None),
        ({"priority": Priority.P2}, {"major_incident": {"priorities": ["P1", "P2"]}}),
        ({"title": "Site down for everyone"}, None),
        ({"description": "Since 10:00 ALL   Customers see errors"}, None),
        ({"description": "Nobody can log in"}, None),
        ({"title": "Possible data breach in exports"}, None),
        ({"tags": ["Customer-Wide"]}, None),
        ({"title": "meltdown of the checkout"}, {"major_incident": {"keywords": ["meltdown"]}}),
        ({"tags": ["sev1"]}, {"major_incident": {"tags": ["SEV1"]}}),
    ],
)
def test_major_incident_signals(
    run: Run, case: dict[str, Any], policy: dict[str, Any] | None
) -> None:
    decision = run(case, policy)
    assert decision.action == Decision.ESCALATE
    assert decision.reason == R.MAJOR_INCIDENT
    assert decision.squad is None
    assert decision.ack_deadline is None
    assert "major incident" in decision.detail


@pytest.mark.parametrize(
    "case",
    [
        {"description": "Nobody cannot see the difference"},  # whole words only
        {"title": "The outageometer widget is broken"},
        {"title": "Site downloads are slow"},
        {"tags": ["checkout"]},
        {"priority": Priority.P2},
    ],
)
def test_no_major_incident_without_a_signal(run: Run, case: dict[str, Any]) -> None:
    assert run(case).action == Decision.ASSIGN


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ({"squad": None, "candidates": []}, "predicted no squad"),
        ({"squad": "ghosts"}, "not in the catalogue"),
        ({"squad": "service-delivery"}, "Service Delivery"),
        ({"components": [("legacy-ftp", None)]}, "legacy-ftp"),
        # The catalogue knows legacy-ftp has no owner, whatever triage recorded.
        ({"components": [("legacy-ftp", "payments")]}, "legacy-ftp"),
        ({"components": [("unknown-thing", None)]}, "unknown-thing"),
        ({"components": [("status-page", "service-delivery")]}, "status-page"),
    ],
)
def test_unowned(run: Run, case: dict[str, Any], why: str) -> None:
    decision = run(case)
    assert decision.action == Decision.ESCALATE
    assert decision.reason == R.UNOWNED
    assert why in decision.detail


@pytest.mark.parametrize(
    "case",
    [
        {"spans_squads": True},
        {"components": [("checkout-api", "payments"), ("login", "identity")]},
        {"candidates": [("payments", 0.5), ("identity", 0.42)], "confidence": 0.5},
        # The margin is inclusive (0.55 - 0.45 == 0.1 up to rounding).
        {"candidates": [("payments", 0.55), ("identity", 0.45)], "confidence": 0.55},
        # Candidates need not arrive sorted.
        {"candidates": [("identity", 0.3), ("payments", 0.35)], "confidence": 0.35},
    ],
)
def test_cross_squad(run: Run, case: dict[str, Any]) -> None:
    decision = run(case, {"thresholds": {"default": 0.1}})
    assert decision.action == Decision.ESCALATE
    assert decision.reason == R.CROSS_SQUAD


@pytest.mark.parametrize(
    "case",
    [
        {"candidates": [("payments", 0.7), ("identity", 0.59)], "confidence": 0.7},
        # A close second that is not a catalogue squad, or is Service Delivery, is no squad.
        {"candidates": [("payments", 0.7), ("ghosts", 0.68)], "confidence": 0.7},
        {"candidates": [("payments", 0.7), ("service-delivery", 0.68)], "confidence": 0.7},
        # Two components of the same squad.
        {"components": [("checkout-api", "payments"), ("card-vault", "payments")]},
    ],
)
def test_not_cross_squad(run: Run, case: dict[str, Any]) -> None:
    assert run(case).action == Decision.ASSIGN


def test_cross_squad_margin_comes_from_the_policy(run: Run) -> None:
    case = {"candidates": [("payments", 0.7), ("identity", 0.59)], "confidence": 0.7}
    decision = run(case, {"cross_squad_margin": 0.2})
    assert decision.reason == R.CROSS_SQUAD


def test_cross_squad_involves_candidates_and_owners_in_order(run: Run) -> None:
    case = {
        "candidates": [
            ("payments", 0.4),
            ("service-delivery", 0.36),
            ("search", 0.35),
            ("ghosts", 0.33),
        ],
        "confidence": 0.4,
        "components": [("login", "identity"), ("checkout-api", "payments")],
    }
    decision = run(case)
    assert decision.reason == R.CROSS_SQUAD
    assert decision.squads_involved == ["payments", "search", "identity"]
    assert decision.open_swarm is True
    assert decision.squad is None


def test_squads_involved_are_capped(run: Run) -> None:
    case = {
        "candidates": [("payments", 0.4), ("search", 0.35)],
        "confidence": 0.4,
        "components": [("login", "identity"), ("k8s", "platform")],
    }
    assert run(case).squads_involved == ["payments", "search", "identity", "platform"]
    capped = run(case, {"swarm": {"max_squads": 2}})
    assert capped.squads_involved == ["payments", "search"]


@pytest.mark.parametrize(
    ("case", "involved", "swarm"),
    [
        (LOW, ["payments"], False),
        ({"priority": Priority.P1}, ["payments"], False),
        (
            {
                "priority": Priority.P1,
                "components": [("checkout-api", "payments"), ("login", "identity")],
            },
            ["payments", "identity"],
            True,
        ),
        ({"squad": None, "candidates": [], "components": []}, [], False),
        ({"squad": None, "candidates": []}, ["payments"], False),
    ],
)
def test_open_swarm_needs_more_than_one_plausible_squad(
    run: Run, case: dict[str, Any], involved: list[str], swarm: bool
) -> None:
    decision = run(case)
    assert decision.action == Decision.ESCALATE
    assert decision.squads_involved == involved
    assert decision.open_swarm is swarm


@pytest.mark.parametrize(
    ("squad", "confidence", "action"),
    [
        ("payments", 0.74, Decision.ESCALATE),
        ("payments", 0.75, Decision.ASSIGN),
        ("identity", 0.61, Decision.ASSIGN),
        ("identity", 0.59, Decision.ESCALATE),
        ("search", 0.5, Decision.ASSIGN),
        ("search", 0.49, Decision.ESCALATE),
    ],
)
def test_per_squad_thresholds(run: Run, squad: str, confidence: float, action: Decision) -> None:
    case = {"squad": squad, "confidence": confidence, "components": []}
    policy = {"thresholds": {"default": 0.6, "squads": {"payments": 0.75, "search": 0.5}}}
    decision = run(case, policy)
    assert decision.action == action
    if action == Decision.ESCALATE:
        assert decision.reason == R.LOW_CONFIDENCE
        assert "below threshold" in decision.detail
    else:
        assert decision.squad == squad


def test_no_ping_pong_back_to_a_squad_moved_away_from(run: Run) -> None:
    decision = run(PLAIN, moved=frozenset({"payments"}))
    assert decision.action == Decision.ESCALATE
    assert decision.reason == R.REASSIGNED_LOOP
    assert decision.squad is None
    assert "moved this case away from 'payments'" in decision.detail


def test_other_moved_away_squads_do_not_block_assignment(run: Run) -> None:
    decision = run(PLAIN, moved=frozenset({"identity", "search"}))
    assert decision.action == Decision.ASSIGN
    assert decision.squad == "payments"


# Each row triggers the rules named, and the first of them in precedence order must win.
PRECEDENCE = [
    ({"priority": Priority.P1, "squad": None, "candidates": []}, set(), R.MAJOR_INCIDENT),
    ({"title": "outage", "spans_squads": True, "confidence": 0.1}, set(), R.MAJOR_INCIDENT),
    ({"components": [("legacy-ftp", None)], "spans_squads": True}, set(), R.UNOWNED),
    ({"squad": "ghosts", "confidence": 0.1}, set(), R.UNOWNED),
    ({"spans_squads": True, "confidence": 0.1}, {"payments"}, R.CROSS_SQUAD),
    ({"confidence": 0.1}, {"payments"}, R.REASSIGNED_LOOP),
    ({"confidence": 0.1}, set(), R.LOW_CONFIDENCE),
]


@pytest.mark.parametrize(("case", "moved", "reason"), PRECEDENCE)
def test_precedence(run: Run, case: dict[str, Any], moved: set[str], reason: R) -> None:
    decision = run(case, moved=frozenset(moved))
    assert decision.action == Decision.ESCALATE
    assert decision.reason == reason


def test_never_auto_routes_to_a_squad_moved_away_from(run: Run) -> None:
    """Over a grid of predictions and histories, no assignment goes back to a moved squad."""
    assigned = 0
    grid = itertools.product(ALL_SQUADS, (0.3, 0.7, 0.99), (0, 1, 2))
    for squad, confidence, moved_count in grid:
        moved = frozenset(ALL_SQUADS[:moved_count])
        decision = run({"squad": squad, "confidence": confidence, "components": []}, moved=moved)
        if decision.action == Decision.ASSIGN:
            assigned += 1
            assert decision.squad == squad
            assert decision.squad not in moved
        else:
            assert decision.squad is None
            assert decision.ack_deadline is None
    assert assigned > 0

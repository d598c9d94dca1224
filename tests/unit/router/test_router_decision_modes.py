"""One place decides: the model's recommendation against its own per-squad threshold (or the
policy's explicit one), and the squad's mode (auto, suggest, shadow, off)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from contracts.cases import Decision
from contracts.catalogue import Catalogue
from contracts.events import CaseTriaged
from contracts.events import EscalationReason as R
from router.domain.decision import RoutingDecision, decide
from router.domain.policy import ModelMode, Policy

Run = Callable[..., RoutingDecision]


@pytest.fixture
def run(
    make_triaged: Callable[..., CaseTriaged],
    catalogue: Catalogue,
    make_policy: Callable[..., Policy],
    now: datetime,
) -> Run:
    def call(
        case: dict[str, Any] | None = None,
        policy: dict[str, Any] | None = None,
        demoted: dict[str, str] | None = None,
    ) -> RoutingDecision:
        return decide(
            triaged=make_triaged(**(case or {})),
            catalogue=catalogue,
            policy=make_policy(**(policy or {})),
            demoted=demoted,
            now=now,
        )

    return call


@pytest.mark.parametrize(
    ("threshold", "confidence", "assigned"),
    [(0.95, 0.9, False), (0.85, 0.9, True), (0.3, 0.4, True), (None, 0.99, False)],
)
def test_the_models_per_squad_threshold_decides_by_default(
    run: Run, threshold: float | None, confidence: float, assigned: bool
) -> None:
    decision = run({"threshold": threshold, "confidence": confidence})
    assert (decision.action == Decision.ASSIGN) is assigned
    if not assigned:
        assert decision.reason == R.LOW_CONFIDENCE
    rec = decision.recommendation
    assert rec is not None and rec.threshold == threshold and rec.threshold_source != "policy"
    expected = "no threshold" if threshold is None else f"threshold {threshold:.2f}, model"
    assert expected in decision.detail


def test_an_explicit_policy_threshold_overrides_the_models(run: Run) -> None:
    case = {"threshold": 0.95, "confidence": 0.9}
    decision = run(case, {"thresholds": {"default": 0.8}})
    assert decision.action == Decision.ASSIGN
    rec = decision.recommendation
    assert rec is not None and (rec.threshold, rec.threshold_source) == (0.8, "policy")
    assert "threshold 0.80, policy" in decision.detail
    per_squad = run(case, {"thresholds": {"default": 0.5, "squads": {"payments": 0.92}}})
    assert per_squad.reason == R.LOW_CONFIDENCE
    # a rare squad the case does not name has no threshold, whatever the policy says
    rare = run({"threshold": None, "confidence": 0.99}, {"thresholds": {"default": 0.5}})
    assert rare.reason == R.LOW_CONFIDENCE


def test_suggest_mode_escalates_with_the_suggestion_attached(run: Run) -> None:
    decision = run(policy={"modes": {"squads": {"payments": "suggest"}}})
    assert decision.action == Decision.ESCALATE and decision.reason == R.SUGGEST_MODE
    assert decision.mode is ModelMode.SUGGEST
    assert decision.suggestion is not None and decision.suggestion.squad == "payments"
    assert decision.squads_involved == ["payments"] and not decision.open_swarm
    assert "payments is in mode suggest (policy)" in decision.detail
    # below its threshold the model has nothing to suggest: low confidence, no suggestion
    low = run({"confidence": 0.4}, {"modes": {"default": "suggest"}})
    assert low.reason == R.LOW_CONFIDENCE and low.suggestion is None


def test_a_squad_demoted_by_the_watch_runs_in_suggest_mode(run: Run) -> None:
    why = "mode suggest (realised precision 0.50 below 0.85)"
    decision = run(demoted={"payments": why})
    assert decision.reason == R.SUGGEST_MODE and decision.suggestion is not None
    assert why in decision.detail
    # other squads are not affected; a policy mode other than auto wins over the demotion
    assert run(demoted={"search": why}).action == Decision.ASSIGN
    off = run(policy={"modes": {"squads": {"payments": "off"}}}, demoted={"payments": why})
    assert off.reason == R.RULES_ONLY


def test_shadow_routes_by_rules_and_records_what_the_model_would_have_done(run: Run) -> None:
    decision = run(policy={"modes": {"default": "shadow"}})
    assert decision.action == Decision.ESCALATE and decision.reason == R.RULES_ONLY
    assert decision.mode is ModelMode.SHADOW and decision.suggestion is None
    assert decision.recommendation is not None and decision.recommendation.meets_threshold
    assert "the model would have assigned it" in decision.detail
    # the squads involved come from named components only, never from the model
    assert decision.squads_involved == ["payments"]
    bare = run({"components": []}, {"modes": {"default": "shadow"}})
    assert bare.squads_involved == []


def test_off_ignores_the_model(run: Run) -> None:
    decision = run({"components": []}, {"modes": {"squads": {"payments": "off"}}})
    assert decision.reason == R.RULES_ONLY and decision.mode is ModelMode.OFF
    assert decision.recommendation is None and decision.suggestion is None
    assert decision.squads_involved == []
    assert "would have" not in decision.detail


def test_rules_come_before_the_mode(run: Run) -> None:
    policy = {"modes": {"default": "suggest"}}
    assert run({"priority": "P1"}, policy).reason == R.MAJOR_INCIDENT
    assert run({"components": [("legacy-cms", None)]}, policy).reason == R.UNOWNED
    spans = {"components": [("checkout-api", "payments"), ("login", "identity")]}
    assert run(spans, policy).reason == R.CROSS_SQUAD


def test_a_result_from_an_older_triage_is_decided_by_its_recommended_action(
    make_triaged: Callable[..., CaseTriaged],
    catalogue: Catalogue,
    make_policy: Callable[..., Policy],
    now: datetime,
) -> None:
    triaged = make_triaged(threshold=0.95, confidence=0.9)
    legacy = triaged.result.model_copy(update={"recommendation": None})
    old = triaged.model_copy(update={"result": legacy})
    decision = decide(triaged=old, catalogue=catalogue, policy=make_policy(), now=now)
    assert decision.reason == R.LOW_CONFIDENCE and "threshold unknown" in decision.detail

"""Only components the case names count as ownership evidence; keyword matches do not."""

from __future__ import annotations

from datetime import datetime

from contracts.cases import Decision, MatchedComponent
from contracts.catalogue import Catalogue
from contracts.events import CaseTriaged, EscalationReason
from router.domain.decision import decide
from router.domain.policy import default_policy


def _with_matches(triaged: CaseTriaged, *matches: tuple[str, str | None, bool]) -> CaseTriaged:
    result = triaged.result.model_copy(
        update={
            "matched_components": [
                MatchedComponent(component=c, owner=o, evidence=[c], named=named)
                for c, o, named in matches
            ]
        }
    )
    return triaged.model_copy(update={"result": result})


def test_keyword_match_of_another_squad_does_not_make_a_case_cross_squad(
    make_triaged, catalogue: Catalogue, now: datetime
) -> None:
    triaged = _with_matches(
        make_triaged(), ("checkout-api", "payments", True), ("login", "identity", False)
    )
    decision = decide(triaged=triaged, catalogue=catalogue, policy=default_policy(), now=now)
    assert decision.action == Decision.ASSIGN
    assert decision.squad == "payments"


def test_named_components_of_two_squads_make_it_cross_squad(
    make_triaged, catalogue: Catalogue, now: datetime
) -> None:
    triaged = _with_matches(
        make_triaged(), ("checkout-api", "payments", True), ("login", "identity", True)
    )
    decision = decide(triaged=triaged, catalogue=catalogue, policy=default_policy(), now=now)
    assert decision.reason == EscalationReason.CROSS_SQUAD
    assert decision.squads_involved == ["payments", "identity"]


def test_keyword_match_of_an_unowned_component_is_not_unowned(
    make_triaged, catalogue: Catalogue, now: datetime
) -> None:
    weak = _with_matches(make_triaged(), ("legacy-ftp", None, False))
    named = _with_matches(make_triaged(), ("legacy-ftp", None, True))
    policy = default_policy()
    assert decide(triaged=weak, catalogue=catalogue, policy=policy, now=now).action == "assign"
    assert (
        decide(triaged=named, catalogue=catalogue, policy=policy, now=now).reason
        == EscalationReason.UNOWNED
    )

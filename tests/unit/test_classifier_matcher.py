"""The catalogue matcher and the cold-start (catalogue-only) model."""

from __future__ import annotations

import numpy as np

from contracts.catalogue import Catalogue
from triage.classifier import CaseText, CatalogueMatcher, TriageModel
from triage.classifier.features import pseudo_documents, squad_features


def test_names_match_whatever_the_separators_and_case(small_catalogue: Catalogue) -> None:
    matcher = CatalogueMatcher(small_catalogue)
    for text in ("Payment-Gateway is down", "payment_gateway is down", "PAYMENT GATEWAY down"):
        found = matcher.find(text)
        assert [m.component for m in found] == ["payment-gateway"], text
        assert found[0].owner == "payments"
        assert found[0].strong == ["payment gateway"]


def test_aliases_and_keywords_are_evidence(small_catalogue: Catalogue) -> None:
    found = CatalogueMatcher(small_catalogue).find("Zahlwerk says card declined again")
    assert len(found) == 1
    match = found[0].to_contract()
    assert match.component == "payment-gateway"
    assert match.owner == "payments"
    assert set(match.evidence) == {"zahlwerk", "card declined"}


def test_partial_multiword_terms_do_not_match(small_catalogue: Catalogue) -> None:
    matcher = CatalogueMatcher(small_catalogue)
    assert matcher.find("the card was fine, declined nothing") == []
    assert matcher.find("") == []


def test_component_hint_is_honoured(small_catalogue: Catalogue) -> None:
    matcher = CatalogueMatcher(small_catalogue)
    found = matcher.find("something is wrong", hint="Slot Booker")
    assert [(m.component, m.owner) for m in found] == [("delivery-slots", "delivery")]
    assert found[0].to_contract().evidence == ["component hint"]
    assert matcher.find("something is wrong", hint="no such thing") == []


def test_strongest_match_first_and_unowned_reported(small_catalogue: Catalogue) -> None:
    found = CatalogueMatcher(small_catalogue).find("old cms help article mentions a refund")
    assert found[0].component == "legacy-cms"
    assert found[0].owner is None
    assert {m.component for m in found} == {"legacy-cms", "refund-service"}


def test_squad_features_ignore_unowned(small_catalogue: Catalogue) -> None:
    matcher = CatalogueMatcher(small_catalogue)
    squads = ["checkout", "delivery", "payments"]
    matrix = squad_features(
        [matcher.find("old cms"), matcher.find("basket and refund")], squads
    ).toarray()
    assert matrix.shape == (2, 6)
    assert not matrix[0].any()
    # "basket": keyword of basket-service (checkout, weak) ; "refund": keyword (payments, weak)
    assert matrix[1, 3] > 0 and matrix[1, 5] > 0
    assert matrix[1, :3].sum() == 0


def test_pseudo_documents_never_label_unowned(small_catalogue: Catalogue) -> None:
    docs = pseudo_documents(small_catalogue)
    labels = {squad for _, squad in docs}
    assert labels == {"checkout", "payments", "delivery"}
    assert not any("legacy" in text or "old cms" in text for text, _ in docs)


def test_cold_start_routes_an_alias_to_its_owner(cold_model: TriageModel) -> None:
    assert cold_model.squads == ["checkout", "delivery", "payments"]
    assert "service-delivery" not in cold_model.squads
    cases = [
        CaseText("Problem", "The zahlwerk rejects everything"),
        CaseText("", "shopping trolley loses items"),
        CaseText("slot booker broken", ""),
    ]
    results = cold_model.predict(cases, threshold=0.0)
    assert [r.squad for r in results] == ["payments", "checkout", "delivery"]
    assert results[0].matched_components[0].component == "payment-gateway"


def test_cold_start_escalates_unowned(cold_model: TriageModel) -> None:
    result = cold_model.predict([CaseText("old cms page broken", "help article")], threshold=0.0)
    assert result[0].decision == "escalate"
    assert "unowned" in result[0].reasons
    hinted = cold_model.predict(
        [CaseText("page broken", "text", component="legacy-cms")], threshold=0.0
    )[0]
    assert "unowned" in hinted.reasons


def test_cold_start_probabilities_are_distributions(cold_model: TriageModel) -> None:
    proba = cold_model.predict_proba([CaseText("x", "refund"), CaseText("y", "zzz")])
    assert proba.shape == (2, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


def test_only_names_aliases_and_hints_count_as_named(small_catalogue: Catalogue) -> None:
    matcher = CatalogueMatcher(small_catalogue)
    (keyword_only,) = matcher.find("card declined twice this morning")
    (by_alias,) = matcher.find("Zahlwerk is slow")
    (by_hint,) = matcher.find("something is wrong", hint="Slot Booker")
    assert keyword_only.to_contract().named is False
    assert by_alias.to_contract().named is True
    assert by_hint.to_contract().named is True


def test_the_longest_overlapping_term_wins() -> None:
    from contracts.catalogue import Component, Squad

    squads = {
        n: Squad(name=n, title=n, service_delivery=n == "sd") for n in ("payments", "edge", "sd")
    }
    components = {
        "payment-gateway": Component(
            name="payment-gateway", title="payment-gateway", owner="payments"
        ),
        "api-gateway": Component(
            name="api-gateway", title="api-gateway", owner="edge", aliases=["gateway"]
        ),
    }
    matcher = CatalogueMatcher(Catalogue(squads=squads, components=components, digest="t"))
    assert [m.component for m in matcher.find("the payment gateway times out")] == [
        "payment-gateway"
    ]
    both = matcher.find("the gateway in front of the payment gateway times out")
    assert sorted(m.component for m in both) == ["api-gateway", "payment-gateway"]

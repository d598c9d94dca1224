"""triage starts cold from a catalogue as organisations have it (tests/data/backstage-acme):
no annotations, namespaces, user-owned components, no Service Delivery group."""

from __future__ import annotations

from pathlib import Path

from contracts.catalogue import load_catalogue
from triage.classifier import CaseText, train_model

ACME = Path(__file__).resolve().parents[2] / "data" / "backstage-acme"


def test_a_cold_model_routes_by_the_components_users_and_namespaces_own() -> None:
    catalogue = load_catalogue(ACME)
    model, _ = train_model([], catalogue)
    assert {"team-booking", "team-venues", "media/team-streaming"} <= set(model.squads)
    cases = [
        CaseText("Seat picker shows no seats", "The seat picker map stays empty for row F"),
        CaseText("Venue maps wrong", "venue-maps shows the old seating plan of the arena"),
        CaseText("Live player stutters", "The live-player buffers every few seconds"),
    ]
    results = model.predict(cases, threshold=0.0)
    assert [r.squad for r in results] == ["team-booking", "team-venues", "media/team-streaming"]
    assert results[2].matched_components[0].component == "media/live-player"


def test_service_delivery_named_by_configuration_is_never_a_label() -> None:
    catalogue = load_catalogue(ACME, service_delivery_group="service-desk")
    model, _ = train_model([], catalogue)
    assert "service-desk" not in model.squads

"""Catalogue hygiene: the problems a catalogue that loads still has, as structured items
(kind, entity, file, detail), on the Backstage-style catalogue and on small ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.catalogue import Catalogue, HygieneKind, load_catalogue

ACME = Path(__file__).resolve().parents[2] / "data" / "backstage-acme"
DEMO = Path(__file__).resolve().parents[3] / "demo" / "catalogue"


@pytest.fixture(scope="module")
def acme() -> Catalogue:
    return load_catalogue(ACME)


def _of(cat: Catalogue, kind: HygieneKind) -> list[str]:
    return [i.entity for i in cat.hygiene if i.kind is kind]


def test_every_kind_is_counted_in_order(acme: Catalogue) -> None:
    assert acme.hygiene_counts() == {
        "squad_without_channel": 3,
        "no_service_delivery": 1,
        "component_without_owner": 1,
        "component_with_unknown_owner": 1,
        "user_without_group": 1,
        "user_in_several_groups": 1,
        "duplicate_name": 1,
    }
    assert [i.sort_key for i in acme.hygiene] == sorted(i.sort_key for i in acme.hygiene)


def test_squads_without_channel_name_their_file(acme: Catalogue) -> None:
    assert _of(acme, HygieneKind.SQUAD_WITHOUT_CHANNEL) == [
        "group:default/platform",
        "group:default/team-venues",
        "group:default/ticketing",
    ]
    item = next(i for i in acme.hygiene if i.kind is HygieneKind.SQUAD_WITHOUT_CHANNEL)
    assert item.file.endswith("org.yaml")
    assert acme.unreachable_reason("platform") == (
        f"platform has no notification channel ({item.file}, group:default/platform): no "
        "support-triage/* channel annotation and no spec.profile.email"
    )
    assert acme.unreachable_reason("nobody") == "nobody is not a squad of the catalogue in force"


def test_owners_users_and_names(acme: Catalogue) -> None:
    assert _of(acme, HygieneKind.COMPONENT_WITHOUT_OWNER) == ["component:default/legacy-newsletter"]
    [unknown] = [i for i in acme.hygiene if i.kind is HygieneKind.COMPONENT_WITH_UNKNOWN_OWNER]
    assert unknown.entity == "component:default/load-tester"
    assert "user:default/max.contractor is a member of no Group" in unknown.detail
    assert _of(acme, HygieneKind.USER_WITHOUT_GROUP) == ["user:default/max.contractor"]
    [several] = [i for i in acme.hygiene if i.kind is HygieneKind.USER_IN_SEVERAL_GROUPS]
    assert several.entity == "user:default/grace.hopper"
    assert several.related == ["ticketing", "team-venues", "acme"]
    assert several.resolved_to == "team-venues"  # spec.type: team first
    [same] = [i for i in acme.hygiene if i.kind is HygieneKind.DUPLICATE_NAME]
    assert (same.entity, same.related) == (
        "component:default/ticket-printer",
        ["component:development/ticket-printer"],
    )


def test_a_configured_service_delivery_group_is_not_missing() -> None:
    cat = load_catalogue(ACME, service_delivery_group="group:default/platform")
    assert cat.hygiene_counts()["no_service_delivery"] == 0


def test_the_demo_catalogue_only_has_its_deliberately_unowned_components() -> None:
    cat = load_catalogue(DEMO)
    assert {k: n for k, n in cat.hygiene_counts().items() if n} == {"component_without_owner": 3}


def test_squads_with_only_a_profile_email_are_reachable(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: mail}\n"
        "spec: {type: team, profile: {email: mail@example.com}}\n"
    )
    cat = load_catalogue(tmp_path)
    assert cat.hygiene_counts()["squad_without_channel"] == 0
    assert cat.unreachable_reason("mail") is None

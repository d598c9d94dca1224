"""A catalogue as organisations have it (tests/data/backstage-acme, in the style of
Backstage's example catalogue): every kind read or counted, namespaces kept apart, users
owning components through their groups, standard profile emails, and no Service Delivery
group unless configuration names one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from contracts.catalogue import Catalogue, CatalogueError, load_catalogue

ACME = Path(__file__).resolve().parents[2] / "data" / "backstage-acme"


@pytest.fixture(scope="module")
def acme() -> Catalogue:
    return load_catalogue(ACME)


def _warnings(cat: Catalogue, entity: str) -> list[str]:
    return [w.message for w in cat.report.warnings if w.entity == entity]


def test_every_kind_is_read_or_counted_whatever_its_api_version(acme: Catalogue) -> None:
    assert acme.report.used == {"Group": 9, "User": 7, "Component": 10, "System": 1}
    assert acme.report.ignored == {
        "API": 2,
        "Domain": 1,
        "Environment": 2,
        "Location": 1,
        "Resource": 1,
        "Template": 1,  # scaffolder.backstage.io/v1beta3
    }
    assert "ignored 2 API, 1 Domain, 2 Environment" in acme.report.lines()[0]


def test_namespaces_keep_same_named_entities_apart(acme: Catalogue) -> None:
    assert acme.components["ticket-printer"].ref == "component:default/ticket-printer"
    printer = acme.components["development/ticket-printer"]
    assert printer.ref == "component:development/ticket-printer"
    assert printer.title == "ticket-printer"  # the plain name stays the text to match
    assert "media/team-streaming" in acme.squads
    assert acme.components["media/live-player"].owner == "media/team-streaming"
    assert acme.components["media/live-player"].system == "box-office"  # default/box-office
    assert acme.components["alternative/different-namespace"].owner == "team-portal"


def test_user_owners_resolve_to_their_squad(acme: Catalogue) -> None:
    owners = {n: (c.owner, c.owner_ref) for n, c in acme.components.items()}
    assert owners["ticket-printer"] == ("team-portal", "user:default/guest")
    # `user:guest` in namespace development is development's guest, a member of team-booking
    assert owners["development/ticket-printer"] == ("team-booking", "user:development/guest")
    # listed only in the group's spec.members
    assert owners["cluster-autoscaler"] == ("team-infra", "user:default/ines.oliveira")


def test_a_user_in_several_groups_goes_to_the_team_and_the_choice_is_reported(
    acme: Catalogue,
) -> None:
    assert acme.components["venue-maps"].owner == "team-venues"
    [message] = _warnings(acme, "Component:venue-maps")
    assert "several Groups (ticketing, team-venues, acme)" in message
    assert message.endswith("assigned to team-venues")


def test_a_user_in_no_group_leaves_the_component_unowned_with_the_reason(
    acme: Catalogue,
) -> None:
    tester = acme.components["load-tester"]
    assert tester.owner is None
    assert tester.owner_ref == "user:default/max.contractor"
    assert tester.unowned_reason == (
        "its owner user:default/max.contractor is a member of no Group in the catalogue"
    )
    assert "load-tester" not in {c.name for s in acme.squads for c in acme.owned_by(s)}
    assert acme.components["legacy-newsletter"].unowned_reason is None  # no owner at all


def test_profile_email_is_the_email_channel_and_silent_squads_are_reported(
    acme: Catalogue,
) -> None:
    booking = acme.squads["team-booking"]
    assert booking.channels.email == "booking@acme.example"
    assert booking.channels.slack_webhook is not None
    assert acme.squads["team-infra"].title == "Infrastructure"  # profile.displayName
    assert acme.unreachable_squads() == ["platform", "team-venues", "ticketing"]
    assert _warnings(acme, "Group:team-venues") == [
        "no notification channel (no support-triage/* channel annotation and no "
        "spec.profile.email): cases for this squad reach nobody"
    ]


def test_a_membership_of_a_missing_group_is_a_warning(acme: Catalogue) -> None:
    [message] = _warnings(acme, "User:development/guest")
    assert "group:default/decommissioned-team is not a Group" in message


def test_without_service_delivery_the_catalogue_is_used_with_a_warning(acme: Catalogue) -> None:
    assert acme.service_delivery is None
    assert not any(s.service_delivery for s in acme.squads.values())
    [message] = [w.message for w in acme.report.warnings if w.field == "spec.type"]
    assert "escalated cases stay in the router's queue" in message
    assert acme.routing_warnings()[0].startswith("no Service Delivery group")


@pytest.mark.parametrize("name", ["service-desk", "group:default/service-desk", "Service-Desk"])
def test_configuration_names_the_service_delivery_group(name: str) -> None:
    cat = load_catalogue(ACME, service_delivery_group=name)
    assert cat.service_delivery is not None
    assert cat.service_delivery.name == "service-desk"
    assert cat.service_delivery.channels.email == "service-desk@acme.example"
    assert not [w for w in cat.report.warnings if w.field == "spec.type"]


def test_configuration_naming_a_missing_group_is_refused() -> None:
    with pytest.raises(CatalogueError) as info:
        load_catalogue(ACME, service_delivery_group="group:default/helpdesk")
    [issue] = info.value.issues
    assert issue.field == "SERVICE_DELIVERY_GROUP"
    assert "'group:default/helpdesk' is not a Group in the catalogue" in issue.message


def _copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(ACME, tmp_path / "acme"))


def test_configuration_and_a_service_delivery_type_must_agree(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    org = folder / "org.yaml"
    org.write_text(org.read_text().replace("type: support", "type: service-delivery"))
    assert load_catalogue(folder).service_delivery.name == "service-desk"  # type: alone
    with pytest.raises(CatalogueError) as info:
        load_catalogue(folder, service_delivery_group="team-infra")
    assert "Group:service-desk carries spec.type: service-delivery" in str(info.value)


def test_an_empty_email_annotation_turns_the_profile_email_off(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    org = folder / "org.yaml"
    text = org.read_text().replace(
        "  name: team-portal\n", "  name: team-portal\n  annotations: {support-triage/email: ''}\n"
    )
    org.write_text(text)
    assert "team-portal" in load_catalogue(folder).unreachable_squads()


@pytest.mark.parametrize(
    ("owner", "message"),
    [
        ("user:nobody", "owner 'user:nobody' is not a User in the catalogue"),
        ("group:media/team-booking", "is not a Group in the catalogue"),
        ("component:seat-picker", "must be a Group or a User"),
        ("'group:'", "is not of the form"),
    ],
)
def test_owners_that_do_not_resolve_are_refused_with_where(
    tmp_path: Path, owner: str, message: str
) -> None:
    folder = _copy(tmp_path)
    comps = folder / "components.yaml"
    comps.write_text(comps.read_text().replace("owner: user:max.contractor", f"owner: {owner}"))
    with pytest.raises(CatalogueError) as info:
        load_catalogue(folder)
    [issue] = info.value.issues
    assert (issue.entity, issue.field) == ("Component:load-tester", "spec.owner")
    assert message in issue.message
    assert issue.file.endswith("components.yaml")


def test_references_and_duplicates_ignore_case(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    comps = folder / "components.yaml"
    text = comps.read_text().replace("owner: team-booking", "owner: Group:Default/Team-Booking")
    comps.write_text(text)
    assert load_catalogue(folder).components["seat-picker"].owner == "team-booking"
    (folder / "zz-more.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: Team-Booking}\n"
    )
    with pytest.raises(CatalogueError) as info:
        load_catalogue(folder)
    [issue] = info.value.issues
    assert issue.entity == "Group:Team-Booking"
    assert "duplicate of Group:team-booking" in issue.message


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ("{name: ok, namespace: Dev_Team}", "metadata.namespace"),
        ("{name: ends-with-dash-}", "metadata.name"),
        ("{name: " + "x" * 64 + "}", "metadata.name"),
    ],
)
def test_names_and_namespaces_follow_backstage_rules(
    tmp_path: Path, metadata: str, field: str
) -> None:
    folder = _copy(tmp_path)
    (folder / "bad.yaml").write_text(
        f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {metadata}\n"
    )
    with pytest.raises(CatalogueError) as info:
        load_catalogue(folder)
    [issue] = info.value.issues
    assert issue.field == field and issue.file.endswith("bad.yaml")


GROUP_WITH_SECRET = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: payments
  annotations:
    support-triage/webhook-url: https://hooks.example.com/payments
    support-triage/webhook-secret-env: {env}
spec: {{type: team}}
"""


@pytest.mark.parametrize(
    "env",
    ["DATABASE_URL", "AWS_SECRET_ACCESS_KEY", "SUPPORT_TRIAGE_SECRET_", "support_triage_secret_x"],
)
def test_a_webhook_secret_outside_the_prefix_is_refused(tmp_path: Path, env: str) -> None:
    (tmp_path / "catalog-info.yaml").write_text(GROUP_WITH_SECRET.format(env=env))
    with pytest.raises(CatalogueError) as info:
        load_catalogue(tmp_path)
    [issue] = info.value.issues
    assert issue.field.endswith("webhook-secret-env")
    assert "SUPPORT_TRIAGE_SECRET_" in issue.message


def test_a_webhook_secret_inside_the_prefix_is_used(tmp_path: Path) -> None:
    (tmp_path / "catalog-info.yaml").write_text(
        GROUP_WITH_SECRET.format(env="SUPPORT_TRIAGE_SECRET_PAYMENTS")
    )
    channels = load_catalogue(tmp_path).squads["payments"].channels
    assert channels.webhook_secret_env == "SUPPORT_TRIAGE_SECRET_PAYMENTS"

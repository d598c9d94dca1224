"""Entity references parse by Backstage's rules (`parseEntityRef` in @backstage/catalog-model)."""

from __future__ import annotations

import pytest

from contracts.catalogue import EntityRef, RefError, parse_entity_ref


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("team-a", ("Group", "default", "team-a")),
        ("user:guest", ("user", "default", "guest")),
        ("development/guest", ("Group", "development", "guest")),
        ("group:default/team-a", ("group", "default", "team-a")),
        ("Group:Media/Team-Streaming", ("Group", "Media", "Team-Streaming")),
        # a `/` ahead of the first `:` makes the rest the name
        ("ns/name:with-colon", ("Group", "ns", "name:with-colon")),
    ],
)
def test_string_references_fill_in_the_context_defaults(text, expected) -> None:
    ref = parse_entity_ref(text, default_kind="Group")
    assert (ref.kind, ref.namespace, ref.name) == expected


def test_the_namespace_defaults_to_the_context_not_to_default() -> None:
    ref = parse_entity_ref("team-streaming", default_kind="Group", default_namespace="media")
    assert str(ref) == "group:media/team-streaming"
    assert ref.key == "media/team-streaming"


def test_mapping_references_are_read_too() -> None:
    ref = parse_entity_ref({"kind": "User", "name": "guest"}, default_namespace="development")
    assert ref == EntityRef("User", "development", "guest")


@pytest.mark.parametrize("text", ["", ":a", "group:", "/a", "group:/a", "ns/", 7, None, []])
def test_malformed_references_are_refused(text) -> None:
    with pytest.raises(RefError):
        parse_entity_ref(text, default_kind="Group")


def test_a_reference_without_kind_needs_one_from_the_context() -> None:
    with pytest.raises(RefError, match="no kind"):
        parse_entity_ref("payments-db")
    assert parse_entity_ref("resource:payments-db").kind == "resource"


def test_comparison_ignores_case_and_the_key_keeps_default_names_short() -> None:
    upper = parse_entity_ref("Group:Default/Team-A")
    assert upper.id == parse_entity_ref("group:default/team-a").id
    assert upper.key == "Team-A"
    assert str(upper) == "group:default/team-a"

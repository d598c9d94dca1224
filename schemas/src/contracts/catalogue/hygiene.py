"""Catalogue hygiene: what a catalogue that loads still gets wrong, one item per problem.

A catalogue with errors (an owner that is not in it, two entities of the same kind,
namespace and name, an invalid field) is refused as a whole and never reaches this list;
its problems are those of `CatalogueError`. What is left are gaps the services work around,
each costing something a person should know:

| kind                           | what it costs                                             |
|--------------------------------|-----------------------------------------------------------|
| `squad_without_channel`        | cases assigned to the squad reach nobody in it (Service   |
|                                | Delivery is told instead, once per case and squad)        |
| `no_service_delivery`          | escalations wait in the router's queue, nobody is told    |
| `component_without_owner`      | cases naming it escalate as `unowned`                     |
| `component_with_unknown_owner` | its owner is a User in no Group: the same as no owner     |
| `user_without_group`           | a component the user owns has no squad                    |
| `user_in_several_groups`       | the user's components go to one of them (`resolved_to`,   |
|                                | by the rule of `contracts.catalogue.build`)               |
| `duplicate_name`               | Groups or Components/Systems of one name in several       |
|                                | namespaces: a case naming it matches all of them          |

Every kind is always counted (zero included), so a dashboard sees a problem appear.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class HygieneKind(StrEnum):
    """The kinds of catalogue problems, in the order the hygiene view lists them."""

    SQUAD_WITHOUT_CHANNEL = "squad_without_channel"
    NO_SERVICE_DELIVERY = "no_service_delivery"
    COMPONENT_WITHOUT_OWNER = "component_without_owner"
    COMPONENT_WITH_UNKNOWN_OWNER = "component_with_unknown_owner"
    USER_WITHOUT_GROUP = "user_without_group"
    USER_IN_SEVERAL_GROUPS = "user_in_several_groups"
    DUPLICATE_NAME = "duplicate_name"


KIND_ORDER = {kind: i for i, kind in enumerate(HygieneKind)}


class HygieneItem(BaseModel):
    """One problem of the catalogue in force, with the entity and file to fix."""

    kind: HygieneKind
    entity: str = Field(
        description="The entity concerned, as Backstage writes it (`group:default/payments`); "
        "empty for a problem of the whole catalogue (no Service Delivery group)."
    )
    name: str = Field(description="Its support-triage key (`namespace/name` outside default).")
    file: str = Field(description="The file that holds it (the catalogue's path if none).")
    detail: str = Field(description="The problem and what it costs, in words.")
    related: list[str] = Field(
        default_factory=list,
        description="The Groups of a user (membership order), or the other entities of a "
        "duplicated name.",
    )
    resolved_to: str | None = Field(
        default=None,
        description="For a user in several Groups: the squad the user's components go to.",
    )

    @property
    def sort_key(self) -> tuple[int, str]:
        """Kind order, then entity: the order of the hygiene view (unique per item)."""
        return (KIND_ORDER[self.kind], self.entity)


def count_by_kind(items: list[HygieneItem]) -> dict[str, int]:
    """Items per kind, every kind present (zero when it has none), in kind order."""
    counts = {kind.value: 0 for kind in HygieneKind}
    for item in items:
        counts[item.kind.value] += 1
    return counts

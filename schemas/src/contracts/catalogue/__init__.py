"""The service catalogue: Backstage `catalog-info.yaml` entities, as organisations have them.

`Group` entities are squads; Service Delivery is the Group with `spec.type: service-delivery`
or the one named by configuration (`SERVICE_DELIVERY_GROUP`); a catalogue with neither is
still used (see `build`). `Component` and `System` entities are services, owned through
`spec.owner`: a Group, or a User whose squad is found through its memberships. `User`
entities are read for that; every other kind (API, Resource, Domain, Location, Environment,
Template, ...) is counted in the load report and left aside, whatever its `apiVersion`.
Entity references follow Backstage's rules (`refs`), namespaces included.

Triage-specific facts live in annotations with the `support-triage/` prefix:

| annotation                          | on          | meaning                                   |
|-------------------------------------|-------------|-------------------------------------------|
| support-triage/keywords             | Component   | comma-separated terms that point at it     |
| support-triage/aliases              | Component   | comma-separated other names for it         |
| support-triage/slack-webhook        | Group       | Slack incoming-webhook URL                |
| support-triage/teams-webhook        | Group       | Microsoft Teams webhook URL               |
| support-triage/webhook-url          | Group       | generic JSON webhook URL (HMAC-signed)    |
| support-triage/webhook-secret-env   | Group       | env variable holding the webhook secret,  |
|                                     |             | named `SUPPORT_TRIAGE_SECRET_*`           |
| support-triage/email                | Group       | email address (default: spec.profile.email) |

`load_catalogue(path)` reads a file or a folder of `*.yaml`/`*.yml` files (multi-document)
and raises `CatalogueError` listing every problem with its file, entity and field; what does
not refuse the catalogue (a squad with no channel, no Service Delivery, ...) is a warning in
`Catalogue.report`; `Catalogue.hygiene` lists the same gaps and a few more (users in no or
several Groups, names shared across namespaces) as structured items, for the services'
hygiene views (`hygiene`).
"""

from __future__ import annotations

from pathlib import Path

from contracts.catalogue.build import (
    ANNOTATION_PREFIX,
    SECRET_ENV_PREFIX,
    SERVICE_DELIVERY_TYPE,
    Builder,
)
from contracts.catalogue.hygiene import HygieneItem, HygieneKind
from contracts.catalogue.model import (
    Catalogue,
    CatalogueError,
    CatalogueIssue,
    Channels,
    Component,
    LoadReport,
    Squad,
)
from contracts.catalogue.read import USED_KINDS, read_entities
from contracts.catalogue.refs import DEFAULT_NAMESPACE, EntityRef, RefError, parse_entity_ref

__all__ = [
    "ANNOTATION_PREFIX",
    "DEFAULT_NAMESPACE",
    "SECRET_ENV_PREFIX",
    "SERVICE_DELIVERY_TYPE",
    "USED_KINDS",
    "Catalogue",
    "CatalogueError",
    "CatalogueIssue",
    "Channels",
    "Component",
    "EntityRef",
    "HygieneItem",
    "HygieneKind",
    "LoadReport",
    "RefError",
    "Squad",
    "load_catalogue",
    "parse_entity_ref",
]


def load_catalogue(path: str | Path, *, service_delivery_group: str | None = None) -> Catalogue:
    """Load and validate a catalogue file or folder.

    Args:
        path: A YAML file, or a folder read recursively.
        service_delivery_group: An entity reference (`service-desk`, `group:ops/desk`) naming
            the Service Delivery group when no Group has `spec.type: service-delivery`.

    Raises:
        CatalogueError: Every problem, each with its file, entity and field.
    """
    root = Path(path)
    if not root.exists():
        raise CatalogueError([CatalogueIssue(str(root), "-", "-", "no such file or folder")])
    issues: list[CatalogueIssue] = []
    builder = Builder(read_entities(root, issues), str(root), issues)
    delivery = builder.service_delivery(service_delivery_group)
    squads = builder.squads(delivery)
    components = builder.components(delivery)
    hygiene = builder.hygiene(squads, components, delivery) if not issues else []
    if issues:
        raise CatalogueError(issues)
    return Catalogue(
        squads=squads,
        components=components,
        digest=builder.read.digest,
        source=str(root),
        report=builder.report(),
        hygiene=hygiene,
    )

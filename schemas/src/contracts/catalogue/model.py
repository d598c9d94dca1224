"""What a loaded catalogue holds: squads, components, and the report of the load."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import BaseModel, Field

from contracts.catalogue.hygiene import HygieneItem, HygieneKind, count_by_kind


class Channels(BaseModel):
    """Where a squad is notified."""

    slack_webhook: str | None = None
    teams_webhook: str | None = None
    webhook_url: str | None = None
    webhook_secret_env: str | None = None
    email: str | None = None

    def any(self) -> bool:
        """Whether at least one channel is configured."""
        return any((self.slack_webhook, self.teams_webhook, self.webhook_url, self.email))


class Squad(BaseModel):
    """A team that owns services (a Backstage `Group`)."""

    name: str = Field(description="The key: the entity name, `namespace/name` outside default.")
    ref: str = Field(default="", description="Backstage's canonical `group:namespace/name`.")
    title: str
    description: str = ""
    service_delivery: bool = False
    channels: Channels = Field(default_factory=Channels)


class Component(BaseModel):
    """A service or system (a Backstage `Component` or `System`)."""

    name: str = Field(description="The key: the entity name, `namespace/name` outside default.")
    ref: str = Field(default="", description="Backstage's canonical `kind:namespace/name`.")
    kind: str = "Component"
    title: str
    description: str = ""
    owner: str | None = Field(default=None, description="The owning squad's key, if any.")
    owner_ref: str | None = Field(
        default=None, description="`spec.owner` as resolved (`group:...` or `user:...`)."
    )
    unowned_reason: str | None = Field(
        default=None, description="Why a component with a `spec.owner` has no owning squad."
    )
    system: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CatalogueIssue:
    """One problem (or warning) found while loading, with where it was found."""

    file: str
    entity: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.entity}: {self.field}: {self.message}"


class CatalogueError(Exception):
    """The catalogue cannot be used; `issues` says every reason."""

    def __init__(self, issues: list[CatalogueIssue]) -> None:
        self.issues = issues
        lines = "\n".join(f"  - {i}" for i in issues)
        super().__init__(f"invalid catalogue ({len(issues)} problem(s)):\n{lines}")


class LoadReport(BaseModel):
    """What the loader read, what it left aside, and what deserves a look.

    Warnings never refuse the catalogue: a squad nobody can be told about, no Service
    Delivery group, a user-owned component whose user is in no squad, a user in several
    squads (and which one was taken), a `memberOf` naming a group the files do not hold.
    """

    used: dict[str, int] = Field(
        default_factory=dict, description="Entities read, per kind (Group, Component, ...)."
    )
    ignored: dict[str, int] = Field(
        default_factory=dict, description="Entities of kinds support-triage does not use."
    )
    warnings: list[CatalogueIssue] = Field(default_factory=list)

    def lines(self) -> list[str]:
        """One line for the counts, then one per warning (for the services' logs)."""
        used = ", ".join(f"{n} {k}" for k, n in sorted(self.used.items())) or "nothing"
        ignored = ", ".join(f"{n} {k}" for k, n in sorted(self.ignored.items()))
        head = f"catalogue: read {used}" + (f"; ignored {ignored}" if ignored else "")
        return [head, *(f"catalogue warning: {w}" for w in self.warnings)]

    def log_to(self, logger: logging.Logger) -> None:
        """Log the counts at INFO and every warning at WARNING."""
        head, *warnings = self.lines()
        logger.info("%s", head)
        for line in warnings:
            logger.warning("%s", line)


class Catalogue(BaseModel):
    """A validated catalogue: squads and the components they own."""

    squads: dict[str, Squad]
    components: dict[str, Component]
    digest: str = Field(description="SHA-256 of the source files, to tell versions apart.")
    source: str = ""
    report: LoadReport = Field(default_factory=LoadReport)
    hygiene: list[HygieneItem] = Field(
        default_factory=list, description="What deserves fixing, sorted (see `hygiene`)."
    )

    def hygiene_counts(self) -> dict[str, int]:
        """Hygiene problems per kind, every kind present."""
        return count_by_kind(self.hygiene)

    def unreachable_reason(self, squad: str) -> str | None:
        """Why `squad` cannot be notified (the catalogue problem), or None when it can."""
        entry = self.squads.get(squad)
        if entry is None:
            return f"{squad} is not a squad of the catalogue in force"
        if entry.channels.any():
            return None
        found = next(
            (
                i
                for i in self.hygiene
                if i.kind is HygieneKind.SQUAD_WITHOUT_CHANNEL and i.name == squad
            ),
            None,
        )
        where = f" ({found.file}, {found.entity})" if found is not None else ""
        return (
            f"{squad} has no notification channel{where}: no support-triage/* channel "
            "annotation and no spec.profile.email"
        )

    @property
    def service_delivery(self) -> Squad | None:
        """The Service Delivery group; `None` when the catalogue names none (see README)."""
        return next((s for s in self.squads.values() if s.service_delivery), None)

    @property
    def owning_squads(self) -> list[str]:
        """Squads that own at least one component, sorted."""
        return sorted({c.owner for c in self.components.values() if c.owner})

    def owned_by(self, squad: str) -> list[Component]:
        """Components owned by `squad`."""
        return [c for c in self.components.values() if c.owner == squad]

    def unreachable_squads(self) -> list[str]:
        """Squads with no notification channel at all, sorted."""
        return sorted(s.name for s in self.squads.values() if not s.channels.any())

    def routing_warnings(self) -> list[str]:
        """What stops the router from telling someone: for readiness probes and dashboards."""
        out = []
        if self.service_delivery is None:
            out.append(
                "no Service Delivery group in the catalogue: escalated cases wait in the "
                "queue (GET /v1/cases?status=escalated) and nobody is notified"
            )
        unreachable = self.unreachable_squads()
        if unreachable:
            out.append(f"squads with no notification channel: {', '.join(unreachable)}")
        return out

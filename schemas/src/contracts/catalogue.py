"""The service catalogue: Backstage `catalog-info.yaml` entities.

`Group` entities are squads; the one with `spec.type: service-delivery` is Service Delivery.
`Component` and `System` entities are services, owned through `spec.owner` (a missing owner
makes an unowned component). Triage-specific facts live in annotations with the
`support-triage/` prefix:

| annotation                          | on          | meaning                                   |
|-------------------------------------|-------------|-------------------------------------------|
| support-triage/keywords             | Component   | comma-separated terms that point at it     |
| support-triage/aliases              | Component   | comma-separated other names for it         |
| support-triage/slack-webhook        | Group       | Slack incoming-webhook URL                |
| support-triage/teams-webhook        | Group       | Microsoft Teams webhook URL               |
| support-triage/webhook-url          | Group       | generic JSON webhook URL (HMAC-signed)    |
| support-triage/webhook-secret-env   | Group       | env variable holding the webhook secret   |
| support-triage/email                | Group       | email address for notifications           |

`load_catalogue(path)` reads a file or a folder of `*.yaml`/`*.yml` files (multi-document)
and raises `CatalogueError` listing every problem with its file, entity and field.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

ANNOTATION_PREFIX = "support-triage/"
SERVICE_DELIVERY_TYPE = "service-delivery"
SERVICE_KINDS = ("Component", "System")
KNOWN_KINDS = ("Group", "Component", "System", "User", "API", "Resource", "Domain", "Location")


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

    name: str
    title: str
    description: str = ""
    service_delivery: bool = False
    channels: Channels = Field(default_factory=Channels)


class Component(BaseModel):
    """A service or system (a Backstage `Component` or `System`)."""

    name: str
    kind: str = "Component"
    title: str
    description: str = ""
    owner: str | None = None
    system: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)


class Catalogue(BaseModel):
    """A validated catalogue: squads and the components they own."""

    squads: dict[str, Squad]
    components: dict[str, Component]
    digest: str = Field(description="SHA-256 of the source files, to tell versions apart.")
    source: str = ""

    @property
    def service_delivery(self) -> Squad:
        """The Service Delivery group (validation guarantees exactly one)."""
        return next(s for s in self.squads.values() if s.service_delivery)

    @property
    def owning_squads(self) -> list[str]:
        """Squads that own at least one component, sorted."""
        return sorted({c.owner for c in self.components.values() if c.owner})

    def owned_by(self, squad: str) -> list[Component]:
        """Components owned by `squad`."""
        return [c for c in self.components.values() if c.owner == squad]


# --- loading -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogueIssue:
    """One problem found while loading."""

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


class _Metadata(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    namespace: str = "default"
    title: str | None = None
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    annotations: dict[str, str] = Field(default_factory=dict)


class _Entity(BaseModel):
    model_config = ConfigDict(extra="allow")
    apiVersion: str = Field(pattern=r"^backstage\.io/")
    kind: str
    metadata: _Metadata
    spec: dict[str, Any] = Field(default_factory=dict)


def entity_ref_name(ref: str) -> str:
    """`group:default/checkout` -> `checkout`; `checkout` -> `checkout`."""
    return ref.split(":", 1)[-1].rsplit("/", 1)[-1]


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return [path]


def _read(file: Path, issues: list[CatalogueIssue]) -> bytes | None:
    try:
        return file.read_bytes()
    except OSError as exc:
        issues.append(CatalogueIssue(str(file), "-", "-", f"cannot read: {exc}"))
        return None


def _documents(file: Path, data: bytes, issues: list[CatalogueIssue]) -> Iterator[tuple[int, Any]]:
    try:
        for index, doc in enumerate(yaml.safe_load_all(data.decode("utf-8"))):
            if doc is not None:
                yield index, doc
    except UnicodeDecodeError as exc:
        issues.append(CatalogueIssue(str(file), "-", "-", f"cannot read: {exc}"))
    except yaml.YAMLError as exc:
        issues.append(CatalogueIssue(str(file), "-", "-", f"invalid YAML: {exc}"))


def load_catalogue(path: str | Path) -> Catalogue:
    """Load and validate a catalogue file or folder."""
    root = Path(path)
    if not root.exists():
        raise CatalogueError([CatalogueIssue(str(root), "-", "-", "no such file or folder")])
    issues: list[CatalogueIssue] = []
    squads: dict[str, Squad] = {}
    components: dict[str, Component] = {}
    where: dict[str, str] = {}
    digest = hashlib.sha256()
    files = _files(root)
    if not files:
        issues.append(CatalogueIssue(str(root), "-", "-", "no .yaml/.yml files"))
    for file in files:
        data = _read(file, issues)  # read once: the digest names exactly what was parsed
        if data is None:
            continue
        digest.update(data)
        for index, doc in _documents(file, data, issues):
            label = f"document {index + 1}"
            if not isinstance(doc, dict):
                issues.append(CatalogueIssue(str(file), label, "-", "not a mapping"))
                continue
            try:
                entity = _Entity.model_validate(doc)
            except ValidationError as exc:
                name = (
                    (doc.get("metadata") or {}).get("name")
                    if isinstance(doc.get("metadata"), dict)
                    else None
                )
                for err in exc.errors(include_url=False):
                    issues.append(
                        CatalogueIssue(
                            str(file),
                            f"{doc.get('kind', '?')}:{name or label}",
                            ".".join(str(p) for p in err["loc"]),
                            err["msg"],
                        )
                    )
                continue
            _add(entity, str(file), squads, components, where, issues)
    for comp in components.values():
        if comp.owner is not None and comp.owner not in squads:
            issues.append(
                CatalogueIssue(
                    where[f"{comp.kind}:{comp.name}"],
                    f"{comp.kind}:{comp.name}",
                    "spec.owner",
                    f"owner {comp.owner!r} is not a Group in the catalogue",
                )
            )
    delivery = [s.name for s in squads.values() if s.service_delivery]
    if len(delivery) != 1:
        issues.append(
            CatalogueIssue(
                str(root),
                "Group",
                "spec.type",
                f"exactly one Group needs spec.type: {SERVICE_DELIVERY_TYPE} "
                f"(Service Delivery); found {delivery or 'none'}",
            )
        )
    if issues:
        raise CatalogueError(issues)
    return Catalogue(
        squads=squads, components=components, digest=digest.hexdigest(), source=str(root)
    )


def _add(
    entity: _Entity,
    file: str,
    squads: dict[str, Squad],
    components: dict[str, Component],
    where: dict[str, str],
    issues: list[CatalogueIssue],
) -> None:
    meta, spec, name = entity.metadata, entity.spec, entity.metadata.name
    ref = f"{entity.kind}:{name}"
    ann = {
        k[len(ANNOTATION_PREFIX) :]: v
        for k, v in meta.annotations.items()
        if k.startswith(ANNOTATION_PREFIX)
    }
    if ref in where:
        issues.append(CatalogueIssue(file, ref, "metadata.name", f"duplicate of {where[ref]}"))
        return
    where[ref] = file
    if entity.kind == "Group":
        squads[name] = Squad(
            name=name,
            title=meta.title or (spec.get("profile") or {}).get("displayName") or name,
            description=meta.description or "",
            service_delivery=spec.get("type") == SERVICE_DELIVERY_TYPE,
            channels=Channels(
                slack_webhook=ann.get("slack-webhook"),
                teams_webhook=ann.get("teams-webhook"),
                webhook_url=ann.get("webhook-url"),
                webhook_secret_env=ann.get("webhook-secret-env"),
                email=ann.get("email"),
            ),
        )
    elif entity.kind in SERVICE_KINDS:
        if name in components:  # Components and Systems share one namespace here
            other = f"{components[name].kind}:{name}"
            message = f"duplicate of {other} in {where[other]}"
            issues.append(CatalogueIssue(file, ref, "metadata.name", message))
            return
        owner = spec.get("owner")
        if owner is not None and not isinstance(owner, str):
            issues.append(CatalogueIssue(file, ref, "spec.owner", "must be a string"))
            return
        depends = spec.get("dependsOn") or []
        if not isinstance(depends, list):
            issues.append(CatalogueIssue(file, ref, "spec.dependsOn", "must be a list"))
            return
        system = spec.get("system")
        components[name] = Component(
            name=name,
            kind=entity.kind,
            title=meta.title or name,
            description=meta.description or "",
            owner=entity_ref_name(owner) if owner else None,
            system=entity_ref_name(system) if isinstance(system, str) else None,
            depends_on=[entity_ref_name(str(d)) for d in depends],
            tags=list(meta.tags),
            keywords=_csv(ann.get("keywords")),
            aliases=_csv(ann.get("aliases")),
        )
    elif entity.kind not in KNOWN_KINDS:
        issues.append(CatalogueIssue(file, ref, "kind", f"unknown kind {entity.kind!r}"))

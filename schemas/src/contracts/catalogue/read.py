"""Reading catalogue files into validated entities of the kinds support-triage uses.

Every other kind (API, Resource, Domain, Location, Environment, Template, ...) is counted and
left aside, whatever its `apiVersion`. Names follow Backstage's rules: a name is 1-63
letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit; a namespace is
a DNS label (lower-case letters, digits and single dashes, 1-63).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.catalogue.model import CatalogueIssue
from contracts.catalogue.refs import DEFAULT_NAMESPACE, EntityRef

USED_KINDS = ("Group", "User", "Component", "System")

_NAME = r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
_NAMESPACE = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class _Metadata(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1, max_length=63, pattern=_NAME)
    namespace: str = Field(default=DEFAULT_NAMESPACE, max_length=63, pattern=_NAMESPACE)
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


@dataclass(frozen=True, slots=True)
class Entity:
    """A validated entity of a used kind, and the file it came from."""

    ref: EntityRef
    file: str
    metadata: _Metadata
    spec: dict[str, Any]

    @property
    def label(self) -> str:
        """How issues name it: `Kind:name`, or `Kind:namespace/name` outside default."""
        return f"{self.ref.kind}:{self.ref.key}"


@dataclass
class Read:
    """Everything read from the files."""

    entities: dict[tuple[str, str, str], Entity]
    ignored: Counter[str]
    digest: str


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return [path]


def _documents(file: Path, issues: list[CatalogueIssue], digest: Any) -> Iterator[tuple[int, Any]]:
    try:
        data = file.read_bytes()  # read once: the digest names exactly what was parsed
    except OSError as exc:
        issues.append(CatalogueIssue(str(file), "-", "-", f"cannot read: {exc}"))
        return
    digest.update(data)
    try:
        for index, doc in enumerate(yaml.safe_load_all(data.decode("utf-8"))):
            if doc is not None:
                yield index, doc
    except UnicodeDecodeError as exc:
        issues.append(CatalogueIssue(str(file), "-", "-", f"cannot read: {exc}"))
    except yaml.YAMLError as exc:
        issues.append(CatalogueIssue(str(file), "-", "-", f"invalid YAML: {exc}"))


def _validate(doc: dict[str, Any], file: str, label: str, issues: list[CatalogueIssue]) -> Any:
    try:
        return _Entity.model_validate(doc)
    except ValidationError as exc:
        meta = doc.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"])
            issues.append(CatalogueIssue(file, f"{doc['kind']}:{name or label}", where, err["msg"]))
        return None


def read_entities(root: Path, issues: list[CatalogueIssue]) -> Read:
    """Read a file or every `*.yaml`/`*.yml` under a folder; problems go to `issues`."""
    entities: dict[tuple[str, str, str], Entity] = {}
    ignored: Counter[str] = Counter()
    digest = hashlib.sha256()
    files = _files(root)
    if not files:
        issues.append(CatalogueIssue(str(root), "-", "-", "no .yaml/.yml files"))
    for path in files:
        file = str(path)
        for index, doc in _documents(path, issues, digest):
            label = f"document {index + 1}"
            if not isinstance(doc, dict):
                issues.append(CatalogueIssue(file, label, "-", "not a mapping"))
                continue
            kind = doc.get("kind")
            if not isinstance(kind, str) or not kind:
                issues.append(CatalogueIssue(file, label, "kind", "missing: not an entity"))
                continue
            if kind not in USED_KINDS:
                ignored[kind] += 1
                continue
            valid = _validate(doc, file, label, issues)
            if valid is None:
                continue
            meta = valid.metadata
            entity = Entity(EntityRef(kind, meta.namespace, meta.name), file, meta, valid.spec)
            other = entities.get(entity.ref.id)
            if other is not None:
                message = f"duplicate of {other.label} in {other.file}"
                issues.append(CatalogueIssue(file, entity.label, "metadata.name", message))
                continue
            entities[entity.ref.id] = entity
    return Read(entities, ignored, digest.hexdigest())

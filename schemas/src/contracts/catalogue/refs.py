"""Backstage entity references, parsed by Backstage's own rules.

A reference is written `[<kind>:][<namespace>/]<name>` (or as a mapping with `kind`,
`namespace` and `name`). What is left out comes from the context: `spec.owner` defaults to
kind Group, `spec.memberOf` to Group, a Group's `spec.members` to User, `spec.system` to
System, and every relation defaults to the namespace of the entity that writes it (not to
`default`). A `/` before the first `:` makes the rest the name (`a/b:c` is namespace `a`,
name `b:c`). Kind, namespace and name are compared case-insensitively, as Backstage's
catalogue does (`stringifyEntityRef` lower-cases all three).

Inside support-triage a squad or component is named by its *key*: the entity name in the
`default` namespace, `namespace/name` in any other, so the demo's names stay as they are
and `guest` in `default` and in `development` stay two entities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_NAMESPACE = "default"


class RefError(ValueError):
    """A value that is not an entity reference; the message says why."""


@dataclass(frozen=True, slots=True)
class EntityRef:
    """A complete reference: kind, namespace and name as written."""

    kind: str
    namespace: str
    name: str

    @property
    def id(self) -> tuple[str, str, str]:
        """The triple compared when looking an entity up (lower case)."""
        return (self.kind.lower(), self.namespace.lower(), self.name.lower())

    @property
    def key(self) -> str:
        """The support-triage name: `name` in `default`, else `namespace/name`."""
        if self.namespace.lower() == DEFAULT_NAMESPACE:
            return self.name
        return f"{self.namespace}/{self.name}"

    def __str__(self) -> str:
        """Backstage's canonical string form, `kind:namespace/name` in lower case."""
        return "{}:{}/{}".format(*self.id)


def _split(ref: str) -> tuple[str | None, str | None, str]:
    colon = ref.find(":")
    slash = ref.find("/")
    if slash != -1 and slash < colon:
        colon = -1  # a `/` ahead of the `:` makes the rest the name
    kind = ref[:colon] if colon != -1 else None
    namespace = ref[colon + 1 : slash] if slash != -1 else None
    name = ref[max(colon + 1, slash + 1) :]
    if kind == "" or namespace == "" or name == "":
        raise RefError(f"{ref!r} is not of the form [<kind>:][<namespace>/]<name>")
    return kind, namespace, name


def parse_entity_ref(
    ref: Any, *, default_kind: str | None = None, default_namespace: str = DEFAULT_NAMESPACE
) -> EntityRef:
    """Parse a string or mapping reference, filling in the context's defaults.

    Raises:
        RefError: The value is empty, malformed, or has no kind and the context gives none.
    """
    if isinstance(ref, dict):
        parts = (ref.get("kind"), ref.get("namespace"), ref.get("name"))
        if not all(p is None or isinstance(p, str) for p in parts):
            raise RefError(f"{ref!r}: kind, namespace and name must be strings")
        kind, namespace, name = parts
        if not name:
            raise RefError(f"{ref!r} has no name")
    elif isinstance(ref, str) and ref:
        kind, namespace, name = _split(ref)
    else:
        raise RefError(f"{ref!r} is not an entity reference (a non-empty string)")
    kind = kind or default_kind
    if not kind:
        raise RefError(f"{ref!r} has no kind (write it as e.g. component:{ref})")
    return EntityRef(kind, namespace or default_namespace, name)

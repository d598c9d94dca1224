"""From validated entities to squads and components: owners, members, Service Delivery.

Rules (README, *The service catalogue*, says the same for users of the product):

- **Service Delivery** is the Group named by `SERVICE_DELIVERY_GROUP` when it is set (an
  entity reference; it must be a Group of the catalogue, and no other Group may carry
  `spec.type: service-delivery`), else the one Group with `spec.type: service-delivery`.
  Two such Groups are an error; none is a warning and the catalogue is still used.
- **Owners.** `spec.owner` defaults to kind Group in the entity's own namespace. A Group
  owner must be in the catalogue. A User owner must be in the catalogue too; the component
  goes to the user's squad: among the Groups the user is a member of (`spec.memberOf`, and
  Groups listing the user in `spec.members`) prefer one that is not Service Delivery, then
  one with `spec.type: team`, then the first in the user's `spec.memberOf`, then the first
  by name. A user in no Group leaves the component unowned, with that reason (a warning).
- **Webhook secrets.** `support-triage/webhook-secret-env` names the environment variable
  holding a squad's signing secret. Whoever edits the catalogue chooses the variable and the
  URL its HMAC is sent to, so only names starting with `SUPPORT_TRIAGE_SECRET_` are accepted
  (any other, e.g. `DATABASE_URL`, is an error): the operator decides which variables are
  webhook secrets by naming them so.
- **Email.** A Group's `support-triage/email` annotation is its email channel (an empty value
  turns email off); without it, the standard `spec.profile.email` is used.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from contracts.catalogue.hygiene import HygieneItem, HygieneKind
from contracts.catalogue.model import CatalogueIssue as Issue
from contracts.catalogue.model import Channels, Component, LoadReport, Squad
from contracts.catalogue.read import Entity, Read
from contracts.catalogue.refs import EntityRef, RefError, parse_entity_ref

ANNOTATION_PREFIX = "support-triage/"
SECRET_ENV_PREFIX = "SUPPORT_TRIAGE_SECRET_"
_SECRET_ENV = re.compile(re.escape(SECRET_ENV_PREFIX) + r"[A-Z0-9_]+")
SERVICE_DELIVERY_TYPE = "service-delivery"
SERVICE_KINDS = ("Component", "System")

Id = tuple[str, str, str]

NO_CHANNEL = (
    "no notification channel (no support-triage/* channel annotation and no "
    "spec.profile.email): cases for this squad reach nobody"
)


class _Invalid(Exception):
    """An entity that cannot be used; the issue is already recorded."""


@dataclass(frozen=True, slots=True)
class _Owner:
    squad: str | None
    ref: str
    unowned_reason: str | None = None


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _annotations(entity: Entity) -> dict[str, str]:
    items = entity.metadata.annotations.items()
    return {k[len(ANNOTATION_PREFIX) :]: v for k, v in items if k.startswith(ANNOTATION_PREFIX)}


def _profile(entity: Entity) -> dict[str, Any]:
    profile = entity.spec.get("profile")
    return profile if isinstance(profile, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _channels(entity: Entity) -> Channels:
    ann = _annotations(entity)
    email = (ann["email"] or None) if "email" in ann else _str(_profile(entity).get("email"))
    return Channels(
        slack_webhook=ann.get("slack-webhook"),
        teams_webhook=ann.get("teams-webhook"),
        webhook_url=ann.get("webhook-url"),
        webhook_secret_env=ann.get("webhook-secret-env"),
        email=email,
    )


def _squad_of(groups: list[Entity], delivery: Id | None) -> Entity:
    """The squad of a user in `groups` (its memberships, in order): not Service Delivery
    first, then a Group of `spec.type: team`, then the first membership."""
    return min(
        groups,
        key=lambda g: (g.ref.id == delivery, g.spec.get("type") != "team", groups.index(g)),
    )


class Builder:
    """Builds the squads, components and report of one load; problems go to `issues`."""

    def __init__(self, read: Read, source: str, issues: list[Issue]) -> None:
        self.read = read
        self.source = source
        self.issues = issues
        self.warnings: list[Issue] = []
        self.by_kind: dict[str, list[Entity]] = {k: [] for k in ("Group", "User", *SERVICE_KINDS)}
        self._members: dict[Id, list[Entity]] | None = None
        for entity in read.entities.values():
            self.by_kind[entity.ref.kind].append(entity)

    def report(self) -> LoadReport:
        """Counts per kind read and ignored, and the warnings."""
        used = Counter(e.ref.kind for e in self.read.entities.values())
        return LoadReport(used=dict(used), ignored=dict(self.read.ignored), warnings=self.warnings)

    # --- Service Delivery and squads -----------------------------------------------------

    def service_delivery(self, configured: str | None) -> Id | None:
        """The id of the Service Delivery group, or `None` (with a warning)."""
        typed = [g for g in self.by_kind["Group"] if g.spec.get("type") == SERVICE_DELIVERY_TYPE]
        if configured:
            return self._configured(configured, typed)
        if len(typed) > 1:
            names = ", ".join(g.ref.key for g in typed)
            message = f"more than one Group has spec.type: {SERVICE_DELIVERY_TYPE} ({names})"
            self.issues.append(Issue(self.source, "Group", "spec.type", message))
            return None
        if typed:
            return typed[0].ref.id
        self.warnings.append(
            Issue(
                self.source,
                "Group",
                "spec.type",
                f"no Service Delivery group: no Group has spec.type: {SERVICE_DELIVERY_TYPE} "
                "and SERVICE_DELIVERY_GROUP is not set; escalated cases stay in the router's "
                "queue (GET /v1/cases?status=escalated) and nobody is notified of them",
            )
        )
        return None

    def _configured(self, configured: str, typed: list[Entity]) -> Id | None:
        where = (self.source, "-", "SERVICE_DELIVERY_GROUP")
        try:
            ref = parse_entity_ref(configured, default_kind="Group")
        except RefError as exc:
            self.issues.append(Issue(*where, str(exc)))
            return None
        if ref.id not in self.read.entities or ref.id[0] != "group":
            self.issues.append(Issue(*where, f"{configured!r} is not a Group in the catalogue"))
            return None
        others = [g.label for g in typed if g.ref.id != ref.id]
        if others:
            message = (
                f"names {configured!r} but {', '.join(others)} carries spec.type: "
                f"{SERVICE_DELIVERY_TYPE}; keep one of the two"
            )
            self.issues.append(Issue(*where, message))
        return ref.id

    def squads(self, delivery: Id | None) -> dict[str, Squad]:
        """Every Group as a squad, keyed by its key; warns about squads nobody can reach."""
        squads: dict[str, Squad] = {}
        for g in self.by_kind["Group"]:
            squad = Squad(
                name=g.ref.key,
                ref=str(g.ref),
                title=g.metadata.title or _str(_profile(g).get("displayName")) or g.ref.name,
                description=g.metadata.description or "",
                service_delivery=g.ref.id == delivery,
                channels=_channels(g),
            )
            squads[squad.name] = squad
            secret_env = squad.channels.webhook_secret_env
            if secret_env is not None and not _SECRET_ENV.fullmatch(secret_env):
                message = (
                    f"{secret_env!r} is not a webhook secret variable: the name must start "
                    f"with {SECRET_ENV_PREFIX} (upper-case letters, digits, underscores)"
                )
                field = f"metadata.annotations.{ANNOTATION_PREFIX}webhook-secret-env"
                self.issues.append(Issue(g.file, g.label, field, message))
            if not squad.channels.any():
                self.warnings.append(
                    Issue(
                        g.file,
                        g.label,
                        "metadata.annotations",
                        NO_CHANNEL,
                    )
                )
        return squads

    # --- membership ----------------------------------------------------------------------

    def _refs(self, entity: Entity, field: str, default_kind: str) -> list[EntityRef]:
        value = entity.spec.get(field) or []
        if not isinstance(value, list):
            self.warnings.append(Issue(entity.file, entity.label, f"spec.{field}", "not a list"))
            return []
        refs = []
        for item in value:
            try:
                refs.append(
                    parse_entity_ref(
                        item, default_kind=default_kind, default_namespace=entity.ref.namespace
                    )
                )
            except RefError as exc:
                self.warnings.append(Issue(entity.file, entity.label, f"spec.{field}", str(exc)))
        return refs

    def memberships(self) -> dict[Id, list[Entity]]:
        """User id -> the Groups it is a member of: its `memberOf` order, then `members`."""
        if self._members is None:
            self._members = self._memberships()
        return self._members

    def _memberships(self) -> dict[Id, list[Entity]]:
        groups = {g.ref.id: g for g in self.by_kind["Group"]}
        out: dict[Id, list[Entity]] = {}
        for user in self.by_kind["User"]:
            mine = out.setdefault(user.ref.id, [])
            for ref in self._refs(user, "memberOf", "Group"):
                group = groups.get(ref.id)
                if group is None:
                    message = f"{ref} is not a Group in the catalogue; membership ignored"
                    self.warnings.append(Issue(user.file, user.label, "spec.memberOf", message))
                elif group not in mine:
                    mine.append(group)
        for group in sorted(groups.values(), key=lambda g: g.ref.id):
            for ref in self._refs(group, "members", "User"):
                theirs = out.get(ref.id)
                if theirs is not None and group not in theirs:
                    theirs.append(group)
        return out

    # --- components ----------------------------------------------------------------------

    def components(self, delivery: Id | None) -> dict[str, Component]:
        """Components and Systems keyed by their key, each with its owning squad."""
        members = self.memberships()
        out: dict[str, Component] = {}
        for entity in (e for e in self.read.entities.values() if e.ref.kind in SERVICE_KINDS):
            component = self._component(entity, members, delivery)
            if component is None:
                continue
            other = out.get(component.name)
            if other is not None:
                message = f"duplicate of {other.kind}:{other.name} in {self._file(other)}"
                self.issues.append(Issue(entity.file, entity.label, "metadata.name", message))
                continue
            out[component.name] = component
        return out

    def _file(self, component: Component) -> str:
        return next(e.file for e in self.read.entities.values() if str(e.ref) == component.ref)

    def _component(
        self, entity: Entity, members: dict[Id, list[Entity]], delivery: Id | None
    ) -> Component | None:
        spec, meta = entity.spec, entity.metadata
        depends = spec.get("dependsOn") or []
        if not isinstance(depends, list):
            self.issues.append(Issue(entity.file, entity.label, "spec.dependsOn", "must be a list"))
            return None
        try:
            owner = self._owner(entity, members, delivery)
        except _Invalid:
            return None
        system = spec.get("system")
        ann = _annotations(entity)
        return Component(
            name=entity.ref.key,
            ref=str(entity.ref),
            kind=entity.ref.kind,
            title=meta.title or entity.ref.name,
            description=meta.description or "",
            owner=owner.squad if owner else None,
            owner_ref=owner.ref if owner else None,
            unowned_reason=owner.unowned_reason if owner else None,
            system=self._key(system, "System", entity) if isinstance(system, str) else None,
            depends_on=[k for d in depends if (k := self._key(d, "Component", entity))],
            tags=list(meta.tags),
            keywords=_csv(ann.get("keywords")),
            aliases=_csv(ann.get("aliases")),
        )

    def _key(self, value: Any, default_kind: str, entity: Entity) -> str | None:
        try:
            ref = parse_entity_ref(
                value, default_kind=default_kind, default_namespace=entity.ref.namespace
            )
        except RefError:
            return None
        return self._spelled(ref)

    def _spelled(self, ref: EntityRef) -> str:
        """The key as the entity itself spells it (references may differ in case)."""
        entity = self.read.entities.get(ref.id)
        return entity.ref.key if entity is not None else ref.key

    def _owner(
        self, entity: Entity, members: dict[Id, list[Entity]], delivery: Id | None
    ) -> _Owner | None:
        """The resolved `spec.owner` (None when there is none); `_Invalid` after an issue."""
        value = entity.spec.get("owner")
        if value is None:
            return None
        where = (entity.file, entity.label, "spec.owner")
        try:
            ref = parse_entity_ref(
                value, default_kind="Group", default_namespace=entity.ref.namespace
            )
        except RefError as exc:
            self.issues.append(Issue(*where, str(exc)))
            raise _Invalid from exc
        kind = ref.id[0]
        if kind not in ("group", "user"):
            self.issues.append(Issue(*where, f"owner {value!r} must be a Group or a User"))
            raise _Invalid
        if ref.id not in self.read.entities:
            what = "Group" if kind == "group" else "User"
            self.issues.append(Issue(*where, f"owner {value!r} is not a {what} in the catalogue"))
            raise _Invalid
        if kind == "group":
            return _Owner(self._spelled(ref), str(ref))
        groups = members.get(ref.id, [])
        if not groups:
            reason = f"its owner {ref} is a member of no Group in the catalogue"
            self.warnings.append(Issue(*where, f"unowned: {reason}"))
            return _Owner(None, str(ref), reason)
        chosen = _squad_of(groups, delivery)
        if len(groups) > 1:
            names = ", ".join(g.ref.key for g in groups)
            message = f"owner {ref} is in several Groups ({names}); assigned to {chosen.ref.key}"
            self.warnings.append(Issue(*where, message))
        return _Owner(chosen.ref.key, str(ref))

    # --- hygiene -------------------------------------------------------------------------

    def hygiene(
        self, squads: dict[str, Squad], components: dict[str, Component], delivery: Id | None
    ) -> list[HygieneItem]:
        """Every problem of a catalogue that loads (`contracts.catalogue.hygiene`), sorted."""
        items: list[HygieneItem] = []
        groups = {g.ref.key: g for g in self.by_kind["Group"]}
        for squad in squads.values():
            if not squad.channels.any():
                items.append(
                    HygieneItem(
                        kind=HygieneKind.SQUAD_WITHOUT_CHANNEL,
                        entity=squad.ref,
                        name=squad.name,
                        file=groups[squad.name].file,
                        detail=NO_CHANNEL,
                    )
                )
        if delivery is None:
            items.append(
                HygieneItem(
                    kind=HygieneKind.NO_SERVICE_DELIVERY,
                    entity="",
                    name="",
                    file=self.source,
                    detail=f"no Group has spec.type: {SERVICE_DELIVERY_TYPE} and "
                    "SERVICE_DELIVERY_GROUP is not set: escalated cases wait in the router's "
                    "queue and nobody is notified of them",
                )
            )
        files = {str(e.ref): e.file for e in self.read.entities.values()}
        for c in components.values():
            if c.owner is not None:
                continue
            if c.owner_ref is None:
                kind, detail = HygieneKind.COMPONENT_WITHOUT_OWNER, "no spec.owner"
            else:
                kind, detail = HygieneKind.COMPONENT_WITH_UNKNOWN_OWNER, c.unowned_reason or ""
            detail += f": cases naming it escalate as unowned (owner: {c.owner_ref or 'none'})"
            items.append(
                HygieneItem(kind=kind, entity=c.ref, name=c.name, file=files[c.ref], detail=detail)
            )
        items += self._user_items(delivery)
        items += self._duplicate_names()
        return sorted(items, key=lambda i: i.sort_key)

    def _user_items(self, delivery: Id | None) -> list[HygieneItem]:
        items = []
        members = self.memberships()
        for user in self.by_kind["User"]:
            groups = members.get(user.ref.id, [])
            where = {"entity": str(user.ref), "name": user.ref.key, "file": user.file}
            if not groups:
                detail = "member of no Group: a component this user owns would have no squad"
                items.append(
                    HygieneItem(kind=HygieneKind.USER_WITHOUT_GROUP, detail=detail, **where)
                )
            elif len(groups) > 1:
                chosen = _squad_of(groups, delivery).ref.key
                items.append(
                    HygieneItem(
                        kind=HygieneKind.USER_IN_SEVERAL_GROUPS,
                        detail=f"member of {len(groups)} Groups: the components this user owns "
                        f"go to {chosen} (not Service Delivery, then spec.type: team, then the "
                        "first membership)",
                        related=[g.ref.key for g in groups],
                        resolved_to=chosen,
                        **where,
                    )
                )
        return items

    def _duplicate_names(self) -> list[HygieneItem]:
        """Groups, or Components and Systems, sharing a name across namespaces."""
        items = []
        for kinds, what in ((("Group",), "Groups"), (SERVICE_KINDS, "Components/Systems")):
            by_name: dict[str, list[Entity]] = {}
            for kind in kinds:
                for e in self.by_kind[kind]:
                    by_name.setdefault(e.ref.name.lower(), []).append(e)
            for same in by_name.values():
                if len(same) < 2:
                    continue
                first, *others = sorted(same, key=lambda e: str(e.ref))
                items.append(
                    HygieneItem(
                        kind=HygieneKind.DUPLICATE_NAME,
                        entity=str(first.ref),
                        name=first.ref.key,
                        file=first.file,
                        detail=f"{len(same)} {what} are named {first.ref.name!r} (in "
                        f"namespaces {', '.join(sorted({e.ref.namespace for e in same}))}): "
                        "a case or person naming it cannot tell them apart",
                        related=[str(e.ref) for e in others],
                    )
                )
        return items

"""Builders for the router domain tests: a small catalogue, policies and triaged cases."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from contracts.cases import CaseSubmission, Priority, Reporter, TriageResult
from contracts.catalogue import Catalogue, Component, Squad
from contracts.events import CaseTriaged
from router.domain.policy import Policy, default_policy

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CASE_ID = UUID("0190a1b2-0000-7000-8000-000000000001")


@pytest.fixture
def now() -> datetime:
    """A fixed decision time."""
    return NOW


@pytest.fixture
def catalogue() -> Catalogue:
    """Four squads, Service Delivery, and components: owned, unowned and SD-owned."""
    squads = {
        name: Squad(name=name, title=name.title(), service_delivery=name == "service-delivery")
        for name in ("payments", "identity", "search", "platform", "service-delivery")
    }
    owners = {
        "checkout-api": "payments",
        "card-vault": "payments",
        "login": "identity",
        "search-api": "search",
        "k8s": "platform",
        "legacy-ftp": None,
        "status-page": "service-delivery",
    }
    components = {
        name: Component(name=name, title=name, owner=owner) for name, owner in owners.items()
    }
    return Catalogue(squads=squads, components=components, digest="test")


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


PolicyFactory = Callable[..., Policy]


@pytest.fixture
def make_policy() -> PolicyFactory:
    """Build a policy: the shipped default with nested keyword overrides."""

    def build(**changes: Any) -> Policy:
        base = default_policy().model_dump(mode="json")
        return Policy.model_validate(_merge(base, changes))

    return build


TriagedFactory = Callable[..., CaseTriaged]


@pytest.fixture
def make_triaged(make_result: Callable[..., TriageResult]) -> TriagedFactory:
    """Build a triaged case; defaults describe a confident, single-squad P3 case."""

    def build(
        *,
        squad: str | None = "payments",
        confidence: float = 0.9,
        candidates: list[tuple[str, float]] | None = None,
        components: list[tuple[str, str | None]] | None = None,
        spans_squads: bool = False,
        threshold: float | None = 0.6,
        priority: Priority = Priority.P3,
        title: str = "Checkout shows an error for one customer",
        description: str = "Card payment fails with code 51 on checkout-api.",
        tags: list[str] | None = None,
    ) -> CaseTriaged:
        result = make_result(
            squad=squad,
            confidence=confidence,
            candidates=candidates,
            components=[("checkout-api", "payments")] if components is None else components,
            spans_squads=spans_squads,
            threshold=threshold,
        )
        case = CaseSubmission(
            title=title,
            description=description,
            reporter=Reporter(name="Ada"),
            priority=priority,
            tags=tags or [],
        )
        return CaseTriaged(
            case_id=CASE_ID, received_at=NOW, triaged_at=NOW, case=case, result=result
        )

    return build

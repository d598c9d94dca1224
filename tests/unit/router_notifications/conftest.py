"""Fixtures for the notification channel tests: a fully populated notification."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from router.domain.notifications import Notification


def _make(**overrides: Any) -> Notification:
    """A notification with every field set; keyword arguments replace fields."""
    fields: dict[str, Any] = {
        "kind": "escalated",
        "case_id": uuid.UUID("0190f3a0-0000-7000-8000-000000000001"),
        "title": "Checkout fails with payment declined for every card",
        "description_excerpt": "Since 10:05 customers get 'payment declined' on checkout-api.",
        "priority": "P2",
        "squad": "service-delivery",
        "squad_title": "Service Delivery",
        "predicted_squad": "payments",
        "confidence": 0.42,
        "matched_components": [("checkout-api", "payments"), ("card-vault", None)],
        "reason": "low_confidence",
        "squads_involved": ["payments", "checkout"],
        "case_url": "http://router.local:8002/v1/cases/0190f3a0-0000-7000-8000-000000000001",
    }
    fields.update(overrides)
    return Notification.model_validate(fields)


@pytest.fixture
def make_notification() -> Callable[..., Notification]:
    """Build a notification; keyword arguments replace fields of the default one."""
    return _make


@pytest.fixture
def notification() -> Notification:
    """An escalation notification with every field set."""
    return _make()

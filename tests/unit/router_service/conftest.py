"""Fixtures for the router service tests: a small catalogue on disk, a SQLite container with
a manual clock and a fake notification sender, and a builder of triaged cases."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import select

from contracts.cases import CaseSubmission, Priority, Reporter, TriageResult
from contracts.envelope import CloudEvent
from contracts.events import CaseTriaged
from contracts.ids import new_event_id, new_id
from contracts.wire import decode
from router.adapters import tables
from router.app import Container
from router.bootstrap import build
from router.config import Settings
from router.domain.notifications import Notification, Target
from router.ports import ManualClock

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

CATALOGUE = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: payments
  title: Payments
  annotations:
    support-triage/webhook-url: http://hooks.test/payments
    support-triage/email: payments@example.com
spec: {type: team}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: checkout
  title: Checkout
  annotations:
    support-triage/webhook-url: http://hooks.test/checkout
spec: {type: team}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: search
  title: Search
  annotations:
    support-triage/webhook-url: http://hooks.test/search
spec: {type: team}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: service-delivery
  title: Service Delivery
  annotations:
    support-triage/webhook-url: http://hooks.test/service-delivery
spec: {type: service-delivery}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: payment-gateway}
spec: {owner: group:default/payments}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: checkout-api}
spec: {owner: group:default/checkout}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: legacy-cms}
spec: {}
"""


class FakeSender:
    """Records deliveries; `fail[squad]` lists errors raised by successive attempts."""

    def __init__(self) -> None:
        self.sent: list[tuple[Target, Notification]] = []
        self.fail: dict[str, list[Exception]] = {}
        self.block: dict[str, asyncio.Event] = {}

    async def send(self, target: Target, notification: Notification) -> None:
        gate = self.block.get(notification.squad)
        if gate is not None:
            await gate.wait()
        errors = self.fail.get(notification.squad)
        if errors:
            raise errors.pop(0)
        self.sent.append((target, notification))


@pytest.fixture
def catalogue_dir(tmp_path: Path) -> Path:
    """The test catalogue as a folder."""
    folder = tmp_path / "catalogue"
    folder.mkdir()
    (folder / "all.yaml").write_text(CATALOGUE)
    return folder


@pytest.fixture
def clock() -> ManualClock:
    """A clock tests move by hand."""
    return ManualClock(NOW)


@pytest.fixture
def sender() -> FakeSender:
    """The fake sender."""
    return FakeSender()


@pytest.fixture
def settings(tmp_path: Path, catalogue_dir: Path) -> Settings:
    """Settings on a SQLite file and the test catalogue."""
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'router.db'}",
        catalogue_path=catalogue_dir,
        public_base_url="http://router.test",
        delivery_max_attempts=3,
    )


@pytest.fixture
def container(settings: Settings, clock: ManualClock, sender: FakeSender) -> Iterator[Container]:
    """A container with the manual clock and the fake sender (no broker)."""
    c = build(settings, clock=clock, sender=sender)
    yield c
    c.engine.dispose()


TriagedFactory = Callable[..., tuple[str, CaseTriaged]]


@pytest.fixture
def make_triaged(make_result: Callable[..., TriageResult]) -> TriagedFactory:
    """Build (event id, triaged case); defaults: a confident single-squad P3 case."""

    def build_one(
        *,
        squad: str | None = "payments",
        confidence: float = 0.9,
        candidates: list[tuple[str, float]] | None = None,
        components: list[tuple[str, str | None]] | None = None,
        spans_squads: bool = False,
        threshold: float | None = 0.6,
        priority: Priority = Priority.P3,
        received_at: datetime = NOW,
        case_id: UUID | None = None,
        event_id: str | None = None,
        title: str = "Card payment declined for one customer",
    ) -> tuple[str, CaseTriaged]:
        result = make_result(
            squad=squad,
            confidence=confidence,
            candidates=candidates,
            components=[("payment-gateway", "payments")] if components is None else components,
            spans_squads=spans_squads,
            threshold=threshold,
        )
        case = CaseSubmission(
            title=title,
            description="The card is declined with code 51 on payment-gateway.",
            reporter=Reporter(name="Ada"),
            priority=priority,
        )
        triaged = CaseTriaged(
            case_id=case_id or new_id(),
            received_at=received_at,
            triaged_at=received_at,
            case=case,
            result=result,
        )
        return event_id or new_event_id(), triaged

    return build_one


OutboxReader = Callable[[Container], list[tuple[str, str, CloudEvent]]]


@pytest.fixture
def outbox() -> OutboxReader:
    """Read the outbox back as (topic, key, CloudEvent), oldest first."""

    def read(c: Container) -> list[tuple[str, str, CloudEvent]]:
        with c.engine.connect() as conn:
            rows = conn.execute(select(tables.outbox).order_by(tables.outbox.c.id)).mappings()
            return [
                (
                    r["topic"],
                    r["key"],
                    decode(bytes(r["value"]), [(n, v.encode()) for n, v in r["headers"]]),
                )
                for r in rows
            ]

    return read

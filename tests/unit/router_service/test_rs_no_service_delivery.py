"""A catalogue without a Service Delivery group: the router still routes; escalations wait in
the queue unannounced and `/readyz` says so; SERVICE_DELIVERY_GROUP names the group instead."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from devkit.testing import auth_headers
from router.bootstrap import build
from router.domain.lifecycle import LifecycleStatus
from router.entrypoints.http import create_app
from router.service.queries import case_detail
from tests.unit.router_service.conftest import CATALOGUE


@pytest.fixture
def catalogue_dir(tmp_path: Path) -> Path:
    """The service conftest's catalogue with its Service Delivery group made a plain group."""
    folder = tmp_path / "catalogue"
    folder.mkdir()
    text = CATALOGUE.replace("spec: {type: service-delivery}", "spec: {type: support}")
    assert text != CATALOGUE
    (folder / "all.yaml").write_text(text)
    return folder


def test_escalations_stay_in_the_queue_and_nobody_is_notified(container, make_triaged, clock):
    assert container.catalogue.current.service_delivery is None
    event_id, unsure = make_triaged(confidence=0.3)
    _, confident = make_triaged()

    container.route([(event_id, unsure), ("e-2", confident)])

    detail = case_detail(unsure.case_id, store=container.store)
    assert detail.case.status is LifecycleStatus.ESCALATED
    assert detail.notifications == []
    clock.advance(timedelta(hours=4, seconds=1))
    assert container.sweep() == 1
    overdue = case_detail(confident.case_id, store=container.store)
    assert overdue.case.status is LifecycleStatus.ESCALATED
    assert {n.kind for n in overdue.notifications} == {"assigned"}  # no ack_timeout message


def test_configuration_names_the_service_delivery_group(settings, clock, sender, make_triaged):
    named = settings.model_copy(update={"service_delivery_group": "group:default/service-delivery"})
    container = build(named, clock=clock, sender=sender)
    try:
        event_id, unsure = make_triaged(confidence=0.3)
        container.route([(event_id, unsure)])
        detail = case_detail(unsure.case_id, store=container.store)
        assert {(n.squad, n.kind) for n in detail.notifications} == {
            ("service-delivery", "escalated")
        }
    finally:
        container.engine.dispose()


async def test_readiness_and_the_catalogue_view_carry_the_warning(container):
    app = create_app(container, run_background=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        headers=auth_headers(), transport=transport, base_url="http://router.test"
    ) as api:
        ready = (await api.get("/readyz")).json()
        catalogue = (await api.get("/v1/catalogue")).json()
    [warning] = ready["warnings"]
    assert warning.startswith("no Service Delivery group in the catalogue")
    assert any("no Service Delivery group" in w["message"] for w in catalogue["report"]["warnings"])
    assert catalogue["report"]["used"] == {"Group": 4, "Component": 3}

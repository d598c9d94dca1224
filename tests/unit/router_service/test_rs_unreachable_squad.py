"""A case assigned to a squad the catalogue gives no channel: still assigned, the history says
so, and Service Delivery is told (`unreachable_squad`), once per case and squad."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from router.app import make_delivery
from router.domain.lifecycle import LifecycleStatus
from router.domain.notifications import NotificationKind
from router.records import HistoryAction
from router.service import desk
from router.service.queries import case_detail, summarize
from tests.unit.router_service.conftest import CATALOGUE

QUIET = """
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: quiet, title: Quiet Squad}
spec: {type: team}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: hushed, title: Hushed Squad}
spec: {type: team}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: quiet-api}
spec: {owner: quiet}
"""


def _folder(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "catalogue"
    folder.mkdir()
    (folder / "all.yaml").write_text(text)
    return folder


@pytest.fixture
def catalogue_dir(tmp_path: Path) -> Path:
    """The service conftest's catalogue plus two squads with no channel at all."""
    return _folder(tmp_path, CATALOGUE + QUIET)


def _route_to_quiet(container, make_triaged):
    event_id, triaged = make_triaged(squad="quiet", components=[("quiet-api", "quiet")])
    container.route([(event_id, triaged)])
    return event_id, triaged


def _deps(c):
    deps = {"store": c.store, "clock": c.clock, "pub": c.pub}
    return deps | {"catalogue": c.catalogue.current, "policy": c.policy.current}


def test_the_case_is_assigned_and_service_delivery_is_told(container, make_triaged):
    _, triaged = _route_to_quiet(container, make_triaged)

    detail = case_detail(triaged.case_id, store=container.store)
    assert detail.case.status is LifecycleStatus.ASSIGNED
    assert detail.case.squad == "quiet"
    assert [(n.squad, n.channel, n.kind) for n in detail.notifications] == [
        ("service-delivery", "webhook", "unreachable_squad")
    ]
    [entry] = [h for h in detail.history if h.action is HistoryAction.UNREACHABLE]
    assert entry.to_squad == "quiet"
    assert entry.by == "router"
    assert "quiet has no notification channel" in (entry.note or "")
    assert "all.yaml" in (entry.note or "")  # the file to fix


async def test_the_message_names_the_squad_and_the_problem(container, make_triaged, sender):
    _route_to_quiet(container, make_triaged)

    worker = make_delivery(container)
    assert await worker.run_once() == 1
    await worker.drain()
    [(target, message)] = sender.sent
    assert target.address == "http://hooks.test/service-delivery"
    assert message.kind is NotificationKind.UNREACHABLE_SQUAD
    assert message.unreachable_squad == "quiet"
    assert message.headline == "Assigned to quiet, which nobody can notify"
    text = "\n".join(message.lines())
    assert "Reason: quiet has no notification channel" in text
    assert "spec.profile.email" in text


def test_a_redelivered_event_does_not_tell_twice(container, make_triaged):
    event_id, triaged = _route_to_quiet(container, make_triaged)
    container.route([(event_id, triaged)])

    detail = case_detail(triaged.case_id, store=container.store)
    assert [n.kind for n in detail.notifications] == ["unreachable_squad"]


def test_once_per_case_and_squad_across_reassignments(container, make_triaged):
    _, triaged = _route_to_quiet(container, make_triaged)
    case_id = triaged.case_id

    desk.assign_case(case_id, squad="payments", by="sam", note="theirs", **_deps(container))
    desk.assign_case(case_id, squad="quiet", by="sam", note="back", **_deps(container))
    desk.assign_case(case_id, squad="hushed", by="sam", note="no, theirs", **_deps(container))

    detail = case_detail(case_id, store=container.store)
    told = [n for n in detail.notifications if n.kind == "unreachable_squad"]
    assert len(told) == 2  # quiet once, hushed once
    unreachable = [h.to_squad for h in detail.history if h.action is HistoryAction.UNREACHABLE]
    assert unreachable == ["quiet", "quiet", "hushed"]  # the history records every time
    assert ("payments", "reassigned") in {(n.squad, n.kind) for n in detail.notifications}


def test_reachable_squads_cause_nothing_extra(container, make_triaged):
    event_id, triaged = make_triaged()
    container.route([(event_id, triaged)])

    detail = case_detail(triaged.case_id, store=container.store)
    assert {n.kind for n in detail.notifications} == {"assigned"}
    assert HistoryAction.UNREACHABLE not in {h.action for h in detail.history}


def test_the_ack_timeout_still_escalates_it(container, make_triaged, clock):
    _, triaged = _route_to_quiet(container, make_triaged)
    clock.advance(timedelta(hours=4, seconds=1))

    assert container.sweep() == 1
    detail = case_detail(triaged.case_id, store=container.store)
    assert detail.case.status is LifecycleStatus.ESCALATED
    assert [n.kind for n in detail.notifications] == ["unreachable_squad", "ack_timeout"]


class TestWithoutServiceDelivery:
    @pytest.fixture
    def catalogue_dir(self, tmp_path: Path) -> Path:
        text = (CATALOGUE + QUIET).replace(
            "spec: {type: service-delivery}", "spec: {type: support}"
        )
        return _folder(tmp_path, text)

    def test_the_history_alone_says_so(self, container, make_triaged):
        _, triaged = _route_to_quiet(container, make_triaged)

        detail = case_detail(triaged.case_id, store=container.store)
        assert detail.case.status is LifecycleStatus.ASSIGNED
        assert detail.notifications == []
        assert [h.to_squad for h in detail.history if h.action is HistoryAction.UNREACHABLE] == [
            "quiet"
        ]


def test_the_figures_count_it_as_an_automatic_assignment(container, make_triaged):
    _, triaged = _route_to_quiet(container, make_triaged)
    case = case_detail(triaged.case_id, store=container.store)
    history = sorted(case.history, key=lambda h: h.action is HistoryAction.ASSIGNED)
    assert history[0].action is HistoryAction.UNREACHABLE  # same time, listed first

    figures = summarize([case.case], history, open_swarms=0, since=None)
    assert (figures.auto_assigned, figures.escalated) == (1, 0)


async def test_a_swarm_inviting_a_squad_with_no_channel_tells_service_delivery(
    container, make_triaged, sender
):
    event_id, triaged = make_triaged(
        squad="payments",
        confidence=0.5,
        candidates=[("payments", 0.5), ("quiet", 0.45)],
        components=[("payment-gateway", "payments"), ("quiet-api", "quiet")],
        spans_squads=True,
    )
    container.route([(event_id, triaged)])
    container.route([(event_id, triaged)])  # redelivered: told once

    detail = case_detail(triaged.case_id, store=container.store)
    assert detail.swarm is not None and {m.squad for m in detail.swarm.members} == {
        "payments",
        "quiet",
    }
    told = [n for n in detail.notifications if n.kind == "unreachable_squad"]
    assert [(n.squad, n.channel) for n in told] == [("service-delivery", "webhook")]
    [entry] = [h for h in detail.history if h.action is HistoryAction.UNREACHABLE]
    assert entry.to_squad == "quiet" and str(detail.swarm.id) in (entry.note or "")

    worker = make_delivery(container)
    while await worker.run_once():
        pass
    [message] = [m for _, m in sender.sent if m.kind is NotificationKind.UNREACHABLE_SQUAD]
    assert message.swarm_id == detail.swarm.id
    assert message.headline == "Swarm invites quiet, which nobody can notify"

"""The realised precision watch through the service: automatic assignments corrected by
people demote a squad to `suggest` once, Service Delivery hears of it once, the next case is
escalated with the suggestion attached, and a person restores `auto`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from contracts import topics
from devkit.testing import auth_headers
from router import metrics
from router.adapters.db.unit_of_work import SqlTransaction
from router.app import Container
from router.bootstrap import build
from router.config import Settings
from router.domain.lifecycle import LifecycleStatus
from router.domain.policy import ModelMode
from router.entrypoints.http import create_app
from router.records import SquadModeState
from router.service import desk, squads, watch
from router.service.errors import UnknownSquadError
from router.service.queries import case_detail

POLICY = """
version: 1
name: watched
modes: {squads: {search: shadow}}
precision_watch: {window_cases: 6, window_days: 7, min_cases: 4, margin: 0.1}
ack_deadlines: {P1: 15m, P2: 1h, P3: 4h, P4: 1d}
"""


@pytest.fixture
def watched(tmp_path: Path, settings: Settings, clock, sender) -> Iterator[Container]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    c = build(settings.model_copy(update={"policy_path": policy}), clock=clock, sender=sender)
    yield c
    c.engine.dispose()


def _route(c: Container, make_triaged, n: int = 1, **case) -> list:
    ids = []
    for _ in range(n):
        event_id, triaged = make_triaged(**case)
        c.route([(event_id, triaged)])
        ids.append(triaged.case_id)
    return ids


def _deps(c: Container) -> dict:
    return {
        "store": c.store,
        "catalogue": c.catalogue.current,
        "policy": c.policy.current,
        "clock": c.clock,
    }


def _move(c: Container, case_id, squad: str = "checkout") -> None:
    desk.assign_case(case_id, squad=squad, by="lead", pub=c.pub, **_deps(c))


def _payments(c: Container) -> squads.SquadPrecision:
    listing = squads.squad_precision(**_deps(c))
    return next(i for i in listing.items if i.squad == "payments")


def _demotion_messages(c: Container, case_ids) -> list:
    return [
        n
        for case_id in case_ids
        for n in case_detail(case_id, store=c.store).notifications
        if n.kind == "model_demoted"
    ]


def test_corrections_demote_the_squad_once_and_tell_service_delivery_once(
    watched: Container, make_triaged, outbox
) -> None:
    c = watched
    cases = _route(c, make_triaged, 5)
    figures = _payments(c)
    assert (figures.mode, figures.auto_assigned, figures.corrected) == (ModelMode.AUTO, 5, 0)
    assert figures.realised_precision == 1.0 and figures.target_precision == 0.9
    assert figures.demote_below == pytest.approx(0.8)

    _move(c, cases[0])  # 4 of 5 right: 0.80, at the floor
    assert _payments(c).mode is ModelMode.AUTO
    demotions = metrics.DEMOTIONS.labels("payments")._value.get()
    _move(c, cases[1])  # 3 of 5: 0.60, below 0.80 -> suggest
    figures = _payments(c)
    assert figures.mode is ModelMode.SUGGEST and figures.changed_by == "precision-watch"
    assert (figures.auto_assigned, figures.corrected) == (5, 2)
    assert figures.realised_precision == pytest.approx(0.6)
    assert figures.why.startswith("mode suggest (set by precision-watch at ")
    assert "realised precision 0.60" in figures.why
    assert metrics.DEMOTIONS.labels("payments")._value.get() == demotions + 1
    assert metrics.REALISED_PRECISION.labels("payments")._value.get() == pytest.approx(0.6)

    _move(c, cases[2])  # still falling: no second demotion, no second message
    messages = _demotion_messages(c, cases)
    assert len(messages) == 1 and messages[0].squad == "service-delivery"
    assert messages[0] in case_detail(cases[1], store=c.store).notifications  # the tipping one

    # the next confident payments case goes to Service Delivery with the suggestion
    (nxt,) = _route(c, make_triaged)
    detail = case_detail(nxt, store=c.store)
    assert detail.case.status is LifecycleStatus.ESCALATED
    assert detail.case.escalation_reason == "suggest_mode"
    assert detail.case.model_mode is ModelMode.SUGGEST
    assert detail.case.suggested_squad == "payments"
    assert "set by precision-watch" in (detail.history[0].note or "")
    escalated = [e for _, k, e in outbox(c) if k == str(nxt) and e.type == topics.CASE_ESCALATED]
    assert escalated[0].data["suggestion"]["squad"] == "payments"
    assert escalated[0].data["suggestion"]["meets_threshold"] is True
    sent = {n.squad: n.kind for n in detail.notifications}
    assert sent == {"service-delivery": "escalated"}


def test_a_person_restores_auto_and_the_window_starts_afresh(
    watched: Container, make_triaged, clock
) -> None:
    c = watched
    cases = _route(c, make_triaged, 4)
    for case_id in cases[:2]:
        _move(c, case_id)
    assert _payments(c).mode is ModelMode.SUGGEST

    clock.advance(timedelta(minutes=5))
    restored = squads.set_squad_mode(
        "payments", mode=ModelMode.AUTO, by="sd.lead", note="retrained", **_deps(c)
    )
    assert restored.squad.mode is ModelMode.AUTO and restored.squad.auto_assigned == 0
    assert restored.squad.why == "mode auto (policy default), restored by sd.lead: retrained"
    assert restored.squad.window.since == clock.now()
    assert [(h.from_mode, h.to_mode, h.by) for h in restored.history] == [
        (ModelMode.AUTO, ModelMode.SUGGEST, "precision-watch"),
        (ModelMode.SUGGEST, ModelMode.AUTO, "sd.lead"),
    ]
    # the same mode again records nothing
    again = squads.set_squad_mode("payments", mode=ModelMode.AUTO, by="x", **_deps(c))
    assert len(again.history) == 2

    (nxt,) = _route(c, make_triaged)
    assert case_detail(nxt, store=c.store).case.status is LifecycleStatus.ASSIGNED
    # a later correction of an assignment from before the restore does not count
    _move(c, cases[3])
    assert _payments(c).corrected == 0


def test_only_the_latest_assignments_of_the_window_count(
    watched: Container, make_triaged, clock
) -> None:
    c = watched
    (old,) = _route(c, make_triaged)
    _move(c, old)  # 0 of 1: too few to judge
    assert _payments(c).mode is ModelMode.AUTO
    clock.advance(timedelta(minutes=1))
    c.route([make_triaged() for _ in range(6)])  # window_cases 6: the corrected one falls out
    figures = _payments(c)
    assert (figures.auto_assigned, figures.corrected, figures.mode) == (6, 0, ModelMode.AUTO)


def test_assignments_older_than_the_window_days_do_not_count(
    watched: Container, make_triaged, clock
) -> None:
    c = watched
    for case_id in _route(c, make_triaged, 2):
        _move(c, case_id)
    clock.advance(timedelta(days=8))
    _route(c, make_triaged, 4)  # would be 2 of 6 corrected with the old ones
    figures = _payments(c)
    assert (figures.auto_assigned, figures.corrected, figures.mode) == (4, 0, ModelMode.AUTO)


def test_assignments_alone_can_tip_a_squad_once_enough_are_judged(
    watched: Container, make_triaged, clock
) -> None:
    c = watched
    for case_id in _route(c, make_triaged, 2):
        _move(c, case_id)  # 0 of 2 right, but too few to judge
    assert _payments(c).mode is ModelMode.AUTO
    _route(c, make_triaged, 2)  # 2 of 4 right: judged, below 0.8
    assert _payments(c).mode is ModelMode.SUGGEST


def test_modes_and_errors_of_the_squad_desk(watched: Container, make_triaged) -> None:
    c = watched
    listing = squads.squad_precision(**_deps(c))
    search = next(i for i in listing.items if i.squad == "search")
    assert search.mode is ModelMode.SHADOW and search.why == "mode shadow (policy)"
    payments = next(i for i in listing.items if i.squad == "payments")
    assert payments.mode is ModelMode.AUTO and payments.why == "mode auto (policy default)"
    assert "service-delivery" not in {i.squad for i in listing.items}
    with pytest.raises(UnknownSquadError):
        squads.set_squad_mode("ghosts", mode=ModelMode.AUTO, by="x", **_deps(c))
    with pytest.raises(UnknownSquadError):
        squads.squad_mode_history("service-delivery", **_deps(c))
    manual = squads.set_squad_mode("checkout", mode=ModelMode.SUGGEST, by="sd", **_deps(c))
    assert manual.squad.mode is ModelMode.SUGGEST and manual.squad.changed_by == "sd"
    (case_id,) = _route(c, make_triaged, squad="checkout", components=[])
    assert case_detail(case_id, store=c.store).case.escalation_reason == "suggest_mode"


def test_a_mode_is_written_only_over_the_mode_the_writer_read(watched: Container, clock) -> None:
    state = SquadModeState(
        squad="payments",
        mode=ModelMode.SUGGEST,
        reason="r",
        changed_at=clock.now(),
        changed_by="precision-watch",
    )
    with watched.store.transaction() as tx:
        assert tx.save_squad_mode(state, expect=None) is True
        assert tx.save_squad_mode(state, expect=None) is False  # someone inserted it first
        assert tx.save_squad_mode(state, expect=ModelMode.AUTO) is False  # not auto any more
        restored = state.model_copy(update={"mode": ModelMode.AUTO})
        assert tx.save_squad_mode(restored, expect=ModelMode.SUGGEST) is True
        assert tx.squad_modes()["payments"].mode is ModelMode.AUTO


def test_shadow_records_what_the_model_would_have_done(watched: Container, make_triaged) -> None:
    (case_id,) = _route(watched, make_triaged, squad="search", components=[])
    case = case_detail(case_id, store=watched.store).case
    assert case.status is LifecycleStatus.ESCALATED and case.escalation_reason == "rules_only"
    assert case.model_mode is ModelMode.SHADOW and case.suggested_squad is None
    assert case.recommendation is not None and case.recommendation.squad == "search"
    assert case.recommendation.meets_threshold is True


async def test_the_squads_api_lists_restores_and_refuses(watched: Container, make_triaged) -> None:
    c = watched
    cases = _route(c, make_triaged, 4)
    for case_id in cases[:2]:
        _move(c, case_id)
    app = create_app(c, run_background=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        headers=auth_headers(), transport=transport, base_url="http://router.test"
    ) as client:
        listing = (await client.get("/v1/squads/precision")).json()
        assert listing["watch_enabled"] is True
        payments = next(i for i in listing["items"] if i["squad"] == "payments")
        assert payments["mode"] == "suggest" and payments["realised_precision"] == 0.5
        assert payments["window"]["cases"] == 6 and payments["window"]["days"] == 7
        assert (payments["auto_assigned"], payments["corrected"]) == (4, 2)

        body = {"mode": "auto", "by": "sd.lead", "note": "model retrained"}
        restored = await client.post("/v1/squads/payments/mode", json=body)
        assert restored.status_code == 200, restored.text
        assert restored.json()["squad"]["mode"] == "auto"
        assert [h["to_mode"] for h in restored.json()["history"]] == ["suggest", "auto"]
        one = (await client.get("/v1/squads/payments/precision")).json()
        assert one["history"][-1]["note"] == "model retrained"
        audit = (await client.get("/v1/audit", params={"action": "squad.mode"})).json()
        assert [(e["actor"], e["target"]) for e in audit["items"]] == [("admin", "payments")]

        bad = await client.post("/v1/squads/payments/mode", json={"mode": "off", "by": "x"})
        assert bad.status_code == 422
        ghost = await client.post("/v1/squads/ghosts/mode", json=body)
        assert ghost.status_code == 422 and ghost.json()["code"] == "unknown_squad"


def test_a_shadow_squad_shows_how_right_the_model_would_have_been(
    watched: Container, make_triaged
) -> None:
    c = watched
    shadow = {"squad": "search", "components": []}
    agreed, disagreed, _open = _route(c, make_triaged, 3, **shadow)
    _route(c, make_triaged, confidence=0.3, **shadow)  # below its threshold: no claim
    _move(c, agreed, "search")
    _move(c, disagreed, "checkout")
    search = next(i for i in squads.squad_precision(**_deps(c)).items if i.squad == "search")
    assert search.mode is ModelMode.SHADOW and search.auto_assigned == 0
    assert search.shadow is not None
    assert search.shadow.model_dump() == {
        "cases": 4,
        "would_assign": 3,
        "decided": 2,
        "agreed": 1,
        "precision": 0.5,
    }
    assert _payments(c).shadow is None  # only squads the policy runs in shadow


def test_only_a_move_to_another_squad_corrects_an_automatic_assignment(
    watched: Container, make_triaged, clock
) -> None:
    c = watched
    (case_id,) = _route(c, make_triaged)
    clock.advance(timedelta(hours=5))  # past the P3 deadline: escalated as ack_timeout
    assert c.sweep() == 1
    _move(c, case_id, "payments")  # Service Delivery hands it back to the same squad
    assert _payments(c).corrected == 0
    _move(c, case_id, "checkout")  # ... then a person moves it away: corrected, once
    _move(c, case_id, "search")
    figures = _payments(c)
    assert (figures.auto_assigned, figures.corrected) == (1, 1)


def test_a_mode_change_over_a_stale_read_writes_nothing(watched: Container, clock) -> None:
    now = clock.now()
    with watched.store.transaction() as tx:
        first = watch.write_mode(
            tx, "payments", None, mode=ModelMode.SUGGEST, by="a", reason="r", note=None, now=now
        )
        assert first is not None and first.since is None  # a demotion keeps the window
        stale = watch.write_mode(
            tx, "payments", None, mode=ModelMode.SUGGEST, by="b", reason="r", note=None, now=now
        )
        assert stale is None
        back = watch.write_mode(
            tx, "payments", first, mode=ModelMode.AUTO, by="c", reason="r", note="n", now=now
        )
        assert back is not None and back.since == now  # a restore starts it afresh
        changes = [(c.from_mode, c.to_mode, c.by, c.note) for c in tx.mode_changes("payments")]
    assert changes == [
        (ModelMode.AUTO, ModelMode.SUGGEST, "a", None),
        (ModelMode.SUGGEST, ModelMode.AUTO, "c", "n"),
    ]


def test_a_routing_batch_reads_the_squad_modes_once(
    watched: Container, make_triaged, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[dict[str, SquadModeState]] = []
    read = SqlTransaction.squad_modes

    def counted(tx: SqlTransaction) -> dict[str, SquadModeState]:
        reads.append(read(tx))
        return reads[-1]

    monkeypatch.setattr(SqlTransaction, "squad_modes", counted)
    cases = _route(watched, make_triaged, 4)  # each batch assigns: the watch reviews payments
    assert len(reads) == 4
    for case_id in cases[:2]:
        _move(watched, case_id)  # a person's move: the watch reads the modes itself
    assert _payments(watched).mode is ModelMode.SUGGEST

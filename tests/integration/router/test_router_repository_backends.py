"""The router's repository on both backends: SQLite and Postgres (TEST_DATABASE_URL)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from contracts.cases import (
    Candidate,
    CaseSubmission,
    Decision,
    MatchedComponent,
    Reporter,
    TriageResult,
)
from contracts.events import CaseTriaged
from contracts.ids import new_event_id, new_id
from router.adapters import tables
from router.adapters.db.delivery_queue import LEASE_EXPIRED
from router.bootstrap import build
from router.config import Settings
from router.domain.policy import ModelMode
from router.ports import ManualClock
from router.records import CaseFilter, CaseRecord, DeliveryStatus, HistoryAction, SwarmStatus
from router.service import desk, squads
from router.service.queries import case_detail, list_cases, metrics_summary

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]


class NullSender:
    async def send(self, target, notification) -> None:
        return None


def triaged(squad: str, confidence: float = 0.9) -> tuple[str, CaseTriaged]:
    return new_event_id(), CaseTriaged(
        case_id=new_id(),
        received_at=NOW,
        triaged_at=NOW,
        case=CaseSubmission(title="t", description="d", reporter=Reporter(name="A")),
        result=TriageResult(
            squad=squad,
            confidence=confidence,
            candidates=[Candidate(squad=squad, probability=confidence)],
            matched_components=[MatchedComponent(component="payment-gateway", owner="payments")]
            if squad == "payments"
            else [],
            spans_squads=False,
            decision=Decision.ASSIGN,
            model_version="t",
        ),
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'router.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    engine = create_engine(url)
    with engine.begin() as conn:  # the database is shared by the module: start clean
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def make(database_url):
    clock = ManualClock(NOW)
    settings = Settings(database_url=database_url, catalogue_path=ROOT / "demo" / "catalogue")
    built = []

    def one(migrate: bool = True):
        c = build(settings, clock=clock, sender=NullSender(), migrate=migrate)
        built.append(c)
        return c

    yield one, clock
    for c in built:
        c.engine.dispose()


def test_routing_desk_and_queries(make):
    build_one, clock = make
    c = build_one()
    c.route([triaged("payments"), triaged("payments", 0.2), triaged("checkout")] * 1)
    page = c.store.list_cases(CaseFilter(), limit=10)
    assert [p.confidence for p in page] == sorted(p.confidence for p in page)
    assigned = next(p for p in page if p.squad == "payments")
    deps = {"store": c.store, "clock": clock, "pub": c.pub}
    desk.assign_case(
        assigned.id,
        squad="checkout",
        by="sam",
        catalogue=c.catalogue.current,
        policy=c.policy.current,
        **deps,
    )
    desk.acknowledge_case(assigned.id, squad="checkout", by="p", **deps)
    detail = case_detail(assigned.id, store=c.store)
    assert [h.action for h in detail.history] == [
        HistoryAction.ASSIGNED,
        HistoryAction.REASSIGNED,
        HistoryAction.ACKNOWLEDGED,
    ]
    assert detail.case.moved_away_from == ["payments"]
    summary = metrics_summary(None, store=c.store)
    assert summary.cases_routed == 3 and summary.reassigned == 1


def _case(confidence: float | None, received_at: datetime) -> CaseRecord:
    return CaseRecord(
        id=new_id(),
        title="t",
        description="d",
        priority="P3",
        source="web",
        received_at=received_at,
        confidence=confidence,
        updated_at=NOW,
    )


def test_the_queue_pages_by_keyset_in_its_order(make):
    """Ties on confidence and receipt time, cases without confidence (first), and a case
    that arrives between pages before the cursor: every case once, in order."""
    build_one, clock = make
    c = build_one()
    t0, t1 = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    confidences = [None, None, 0.1, 0.1, 0.1, 0.35, 0.35, 0.9, None, 0.1]
    cases = [_case(x, t0 if i % 2 else t1) for i, x in enumerate(confidences)]
    with c.store.transaction() as tx:
        tx.insert_cases(cases)

    def key(r: CaseRecord) -> tuple[bool, float, datetime, str]:
        return (r.confidence is not None, r.confidence or 0.0, r.received_at, str(r.id))

    expected = [r.id for r in sorted(cases, key=key)]
    seen, cursor, pages = [], None, 0
    while True:
        page = list_cases(CaseFilter(), limit=3, cursor=cursor, store=c.store, clock=clock)
        seen += [r.id for r in page.items]
        pages += 1
        if pages == 2:  # sorts before everything seen: must not shift or repeat later pages
            with c.store.transaction() as tx:
                tx.insert_cases([_case(None, t0 - timedelta(hours=1))])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected and pages == 4


def test_sweepers_race_and_claims_do_not_overlap(make):
    build_one, clock = make
    first, second = build_one(), build_one(migrate=False)
    first.route([triaged("payments") for _ in range(20)])
    clock.advance(timedelta(days=1))
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def sweep(c):
        barrier.wait()
        counts.append(c.sweep())

    threads = [threading.Thread(target=sweep, args=(c,)) for c in (first, second)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(counts) == 20

    lease = timedelta(minutes=1)
    got: list[list] = [[], []]

    def claim(i, c):
        barrier.wait()
        got[i] = c.store.claim_notifications(clock.now(), limit=1000, lease=lease)

    threads = [threading.Thread(target=claim, args=(i, c)) for i, c in enumerate((first, second))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    ids = [r.id for part in got for r in part]
    assert len(ids) == len(set(ids)) > 0
    assert {r.status for part in got for r in part} == {DeliveryStatus.SENDING}
    assert {r.last_error for part in got for r in part} == {None}

    # Claimed again once the lease expired (nobody recorded an outcome): the row says so.
    clock.advance(lease)
    again = first.store.claim_notifications(clock.now(), limit=1000, lease=lease)
    assert {r.id for r in again} == set(ids)
    assert {(r.attempts, r.last_error) for r in again} == {(2, LEASE_EXPIRED)}


def test_a_claim_caps_each_receiver_on_both_backends(make):
    build_one, clock = make
    c = build_one()
    c.route([triaged("payments") for _ in range(5)])
    lease = timedelta(minutes=1)
    first = c.store.claim_notifications(clock.now(), limit=1000, lease=lease, per_receiver=2)
    per = Counter(r.address for r in first)
    assert len(per) >= 1 and set(per.values()) == {2}
    busy = sorted(per)[:1]
    second = c.store.claim_notifications(
        clock.now(), limit=1000, lease=lease, per_receiver=2, busy=busy
    )
    assert not {r.address for r in second} & set(busy)
    assert not {r.id for r in first} & {r.id for r in second}


def test_swarm_pages_follow_the_keyset_on_both_backends(make):
    from router.service.queries import list_swarms

    build_one, clock = make
    c = build_one()
    for batch in (2, 1, 3):  # swarms routed in one batch share their opening time
        cases = [triaged("payments", 0.5) for _ in range(batch)]
        for _, event in cases:  # components of two squads: a cross-squad swarm
            event.result.matched_components.append(
                MatchedComponent(component="checkout-api", owner="checkout")
            )
            event.result.candidates.append(Candidate(squad="checkout", probability=0.45))
        c.route(cases)
        clock.advance(timedelta(minutes=1))
    everything = c.store.swarms(None, limit=100)
    assert len(everything) == 6
    seen, cursor = [], None
    while True:
        page = list_swarms(SwarmStatus.OPEN, limit=2, cursor=cursor, store=c.store)
        seen += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [s.id for s in seen] == [s.id for s in everything]
    assert [s.opened_at for s in seen] == sorted((s.opened_at for s in seen), reverse=True)


def test_the_precision_watch_on_both_backends(make):
    """Automatic assignments, their corrections, the demotion (once) and the restore, with
    the tables the migrations create."""
    build_one, clock = make
    c = build_one()
    deps = {"store": c.store, "catalogue": c.catalogue.current, "policy": c.policy.current}
    events = [triaged("payments") for _ in range(10)]
    c.route(events)
    for _, event in events[:3]:  # 7 of 10 right: below 0.9 - 0.05
        clock.advance(timedelta(seconds=1))
        desk.assign_case(event.case_id, squad="checkout", by="sam", clock=clock, pub=c.pub, **deps)

    listing = squads.squad_precision(clock=clock, **deps)
    payments = next(i for i in listing.items if i.squad == "payments")
    assert (payments.auto_assigned, payments.corrected) == (10, 3)
    assert payments.mode is ModelMode.SUGGEST and payments.realised_precision == 0.7
    demoted = [
        n
        for _, event in events
        for n in case_detail(event.case_id, store=c.store).notifications
        if n.kind == "model_demoted"
    ]
    # once: one message per channel of Service Delivery, not one per correction
    assert demoted and len({n.channel for n in demoted}) == len(demoted)
    assert {n.squad for n in demoted} == {c.catalogue.current.service_delivery.name}

    restored = squads.set_squad_mode(
        "payments", mode=ModelMode.AUTO, by="lead", clock=clock, **deps
    )
    assert restored.squad.mode is ModelMode.AUTO and len(restored.history) == 2


def test_the_migrations_create_the_tables_the_router_uses(make):
    build_one, _ = make
    c = build_one()
    with c.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_name": lambda name, kind, _parent: (
                    kind != "table"
                    or (name.startswith("router_") and name != "router_alembic_version")
                )
            },
        )
        diff = compare_metadata(context, tables.metadata)
    assert diff == []

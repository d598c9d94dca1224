"""The SQL repository on SQLite and Postgres: migrations, de-duplication, paging, labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import select

from contracts import CaseSubmission
from contracts.catalogue import load_catalogue
from contracts.events import CaseReassigned
from contracts.wire import decode
from devkit.triage_fakes import KeywordClassifier
from servicekit.db import make_engine
from triage import service
from triage.adapters.db import OUTBOX, SqlCaseRepository
from triage.domain import Accepted, CaseFilter, Duplicate, Intake
from triage.errors import CaseNotFound, IdempotencyConflict
from triage.migrations import schema_diff
from triage.ports import ModelState

DEMO = Path(__file__).resolve().parents[3] / "demo" / "catalogue"
OPTIONS = service.TriageOptions(triaged_topic="triaged")


@pytest.fixture(scope="module")
def repo(db_url: str):
    engine = make_engine(db_url)
    yield SqlCaseRepository(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def state() -> ModelState:
    cat = load_catalogue(DEMO)
    return ModelState(KeywordClassifier(cat), cat)


def case(**kw: object) -> CaseSubmission:
    body = {"title": "Checkout fails", "description": "place order", "reporter": {"name": "A"}}
    return CaseSubmission.model_validate({**body, **kw})


def test_migration_matches_the_models(db_url: str) -> None:
    assert schema_diff(db_url) == []


def test_cases_and_outbox_rows_in_one_transaction(repo, state) -> None:
    ref = f"ZD-{uuid4().hex[:6]}"
    eid = str(uuid4())
    (out,) = service.take_in(
        [Intake.of(case(external_ref=ref), event_id=eid)], repo=repo, state=state, options=OPTIONS
    )
    assert isinstance(out, Accepted)
    assert repo.get(out.case.id) == out.case
    with repo.engine.connect() as conn:
        rows = conn.execute(select(OUTBOX).where(OUTBOX.c.key == str(out.case.id))).all()
    (row,) = rows
    event = decode(row.value, [(n, v.encode()) for n, v in row.headers])
    assert event.subject == str(out.case.id) and row.topic == "triaged"
    again = service.take_in(
        [Intake.of(case(external_ref=ref), event_id=eid)], repo=repo, state=state, options=OPTIONS
    )
    assert again == [Duplicate(eid)]
    replay, conflict = service.take_in(
        [Intake.of(case(external_ref=ref)), Intake.of(case(external_ref=ref, title="other"))],
        repo=repo,
        state=state,
        options=OPTIONS,
    )
    assert isinstance(replay, Accepted) and replay.replayed and replay.case == out.case
    assert isinstance(conflict, IdempotencyConflict)


def test_idempotency_key_survives_a_reread(repo, state) -> None:
    key = f"key-{uuid4()}"
    (a,) = service.take_in(
        [Intake.of(case(), idempotency_key=key)], repo=repo, state=state, options=OPTIONS
    )
    (b,) = service.take_in(
        [Intake.of(case(), idempotency_key=key)], repo=repo, state=state, options=OPTIONS
    )
    assert isinstance(b, Accepted) and b.replayed and b.case == a.case
    assert b.case.received_at.tzinfo is not None


def test_list_keyset_and_filters(repo, state) -> None:
    source = "monitoring"
    before = datetime.now(UTC) - timedelta(seconds=1)
    outs = service.take_in(
        [Intake.of(case(title=f"t{n}", source=source, priority="P4")) for n in range(3)],
        repo=repo,
        state=state,
        options=OPTIONS,
    )
    ids = sorted((o.case.id for o in outs if isinstance(o, Accepted)), reverse=True)
    flt = CaseFilter(source=source, priority="P4", received_after=before)  # type: ignore[arg-type]
    first = service.list_cases(flt, repo=repo, limit=2)
    second = service.list_cases(flt, repo=repo, limit=2, cursor=first.next_cursor)
    assert [c.id for c in first.cases] + [c.id for c in second.cases] == ids
    assert second.next_cursor is None
    later = CaseFilter(source=source, received_after=datetime.now(UTC) + timedelta(hours=1))
    assert service.list_cases(later, repo=repo, limit=5).cases == []  # type: ignore[arg-type]


def test_a_submitter_reads_its_own_cases_only(repo, state) -> None:
    who = f"form-{uuid4().hex[:8]}"
    outs = service.take_in(
        [Intake.of(case(title="mine"), submitted_by=who), Intake.of(case(title="theirs"))],
        repo=repo,
        state=state,
        options=OPTIONS,
    )
    mine, theirs = (o.case.id for o in outs if isinstance(o, Accepted))
    assert service.get_case(mine, repo=repo, submitted_by=who).id == mine
    with pytest.raises(CaseNotFound):
        service.get_case(theirs, repo=repo, submitted_by=who)
    listed = service.list_cases(CaseFilter(submitted_by=who), repo=repo, limit=10)
    assert [c.id for c in listed.cases] == [mine]


def test_corrections_are_labels(repo) -> None:
    ev = CaseReassigned(
        case_id=uuid4(),
        from_squad=None,
        to_squad="payments",
        predicted_squad="checkout",
        by="lead",
        reassigned_at=datetime.now(UTC),
    )
    eid = str(uuid4())
    assert service.record_corrections([(eid, ev)], repo=repo) == 1
    assert service.record_corrections([(eid, ev)], repo=repo) == 0
    assert any(lb.case_id == ev.case_id and lb.squad == "payments" for lb in repo.labels())


def test_refs_and_keys_are_unique_per_submitter_scope(repo, state) -> None:
    ref, key = f"T-{uuid4().hex[:6]}", f"key-{uuid4()}"
    crm, chat = "kafka:/crm", "kafka:/chat"
    a, b = service.take_in(
        [
            Intake.of(case(external_ref=ref), idempotency_key=key, scope=crm),
            Intake.of(case(external_ref=ref, title="other"), idempotency_key=key, scope=chat),
        ],
        repo=repo,
        state=state,
        options=OPTIONS,
    )
    assert isinstance(a, Accepted) and isinstance(b, Accepted) and a.case.id != b.case.id
    replay, conflict = service.take_in(
        [
            Intake.of(case(external_ref=ref), scope=crm),
            Intake.of(case(external_ref=ref, title="third"), scope=chat),
        ],
        repo=repo,
        state=state,
        options=OPTIONS,
    )
    assert isinstance(replay, Accepted) and replay.replayed and replay.case.id == a.case.id
    assert isinstance(conflict, IdempotencyConflict)

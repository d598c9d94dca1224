"""Service functions over fakes: idempotency matrix, event-id de-duplication, batching."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from contracts import CaseSubmission, Decision
from contracts.catalogue import Catalogue, CatalogueError
from contracts.events import CaseReassigned, CaseTriaged
from contracts.topics import CASE_TRIAGED
from devkit.triage_fakes import FakeModelStore, KeywordClassifier, MemoryCaseRepository
from servicekit.paging import InvalidCursor
from triage import service
from triage.domain import Accepted, CaseFilter, Duplicate, Intake
from triage.errors import (
    CaseNotFound,
    IdempotencyConflict,
    ModelRefused,
)
from triage.ports import ModelState

Make = Callable[..., CaseSubmission]
OPTIONS = service.TriageOptions(threshold=0.6, margin=0.1, triaged_topic="out")


@pytest.fixture
def state(catalogue: Catalogue) -> ModelState:
    return ModelState(KeywordClassifier(catalogue), catalogue)


def take(repo: MemoryCaseRepository, state: ModelState, *items: Intake) -> list[object]:
    return list(service.take_in(items, repo=repo, state=state, options=OPTIONS))


def test_new_case_is_stored_with_its_triaged_event(repo, state, make_case: Make) -> None:
    (out,) = take(repo, state, Intake.of(make_case()))
    assert isinstance(out, Accepted) and not out.replayed
    assert repo.get(out.case.id) == out.case
    assert out.case.triage.squad == "checkout"
    (event,) = repo.outbox
    assert event.topic == "out" and event.key == str(out.case.id)
    assert event.event.type == CASE_TRIAGED and event.event.subject == str(out.case.id)
    assert event.event.source == "/support-triage/triage"
    data = CaseTriaged.model_validate(event.event.data)
    assert data.case_id == out.case.id and data.result == out.case.triage


@pytest.mark.parametrize("by", ["header", "external_ref"])
def test_same_key_same_body_replays_the_stored_case(repo, state, make_case: Make, by) -> None:
    case = make_case(external_ref="ZD-1") if by == "external_ref" else make_case()
    key = "k-1" if by == "header" else None
    (first,) = take(repo, state, Intake.of(case, idempotency_key=key))
    (again,) = take(repo, state, Intake.of(make_case(**case.model_dump()), idempotency_key=key))
    assert isinstance(again, Accepted) and again.replayed
    assert again.case == first.case
    assert len(repo.records) == 1 and len(repo.outbox) == 1


@pytest.mark.parametrize("by", ["header", "external_ref"])
def test_same_key_other_body_is_a_conflict(repo, state, make_case: Make, by) -> None:
    ref = {"external_ref": "ZD-2"} if by == "external_ref" else {}
    key = "k-2" if by == "header" else None
    take(repo, state, Intake.of(make_case(**ref), idempotency_key=key))
    (out,) = take(repo, state, Intake.of(make_case(title="Other", **ref), idempotency_key=key))
    assert isinstance(out, IdempotencyConflict)
    assert out.code == "idempotency_conflict"
    assert len(repo.records) == 1


def test_different_keys_make_different_cases(repo, state, make_case: Make) -> None:
    a, b = take(repo, state, Intake.of(make_case(), idempotency_key="a"), Intake.of(make_case()))
    assert isinstance(a, Accepted) and isinstance(b, Accepted)
    assert a.case.id != b.case.id and len(repo.records) == 2


def test_duplicates_inside_one_batch(repo, state, make_case: Make) -> None:
    first, same, other = take(
        repo,
        state,
        Intake.of(make_case(), idempotency_key="k"),
        Intake.of(make_case(), idempotency_key="k"),
        Intake.of(make_case(title="changed"), idempotency_key="k"),
    )
    assert isinstance(first, Accepted) and not first.replayed
    assert isinstance(same, Accepted) and same.replayed and same.case == first.case
    assert isinstance(other, IdempotencyConflict)
    assert len(repo.records) == 1


def test_event_id_is_processed_once(repo, state, make_case: Make) -> None:
    (a,) = take(repo, state, Intake.of(make_case(), event_id="e-1"))
    dup_in_batch = take(
        repo, state, Intake.of(make_case(), event_id="e-1"), Intake.of(make_case(), event_id="e-2")
    )
    assert isinstance(a, Accepted)
    assert dup_in_batch[0] == Duplicate("e-1")
    assert isinstance(dup_in_batch[1], Accepted)
    assert repo.processed_ids == {"e-1", "e-2"}
    assert len(repo.records) == 2


def test_a_batch_is_one_classifier_call_and_one_transaction(
    repo, catalogue, make_case: Make
) -> None:
    clf = KeywordClassifier(catalogue)
    state = ModelState(clf, catalogue)
    out = take(repo, state, *(Intake.of(make_case(title=f"case {n}")) for n in range(5)))
    assert clf.calls == [5] and repo.transactions == 1
    assert all(isinstance(o, Accepted) for o in out)


def test_failed_transaction_stores_nothing(repo, state, make_case: Make) -> None:
    repo.fail = RuntimeError("database down")
    with pytest.raises(RuntimeError):
        take(repo, state, Intake.of(make_case(), event_id="e"))
    repo.fail = None
    assert not repo.records and not repo.outbox and not repo.processed_ids


def test_list_pages_newest_first_with_filters(repo, state, make_case: Make) -> None:
    cases = [
        o.case for o in take(repo, state, *(Intake.of(make_case(title=f"t{n}")) for n in range(5)))
    ]
    newest_first = sorted(cases, key=lambda c: c.id, reverse=True)
    page = service.list_cases(CaseFilter(), repo=repo, limit=2)
    assert page.cases == newest_first[:2] and page.next_cursor
    page2 = service.list_cases(CaseFilter(), repo=repo, limit=2, cursor=page.next_cursor)
    page3 = service.list_cases(CaseFilter(), repo=repo, limit=2, cursor=page2.next_cursor)
    assert page2.cases == newest_first[2:4]
    assert page3.cases == newest_first[4:] and page3.next_cursor is None
    none = service.list_cases(CaseFilter(squad="nobody"), repo=repo, limit=10)
    assert none.cases == []
    assigned = service.list_cases(CaseFilter(decision=Decision.ASSIGN), repo=repo, limit=10)
    assert {c.id for c in assigned.cases} == {
        c.id for c in cases if c.triage.decision == Decision.ASSIGN
    }
    with pytest.raises(InvalidCursor):
        service.list_cases(CaseFilter(), repo=repo, limit=2, cursor="!!not-ours!!")


def test_get_case_not_found(repo) -> None:
    with pytest.raises(CaseNotFound):
        service.get_case(uuid4(), repo=repo)


def test_corrections_become_labels_once(repo) -> None:
    ev = CaseReassigned(
        case_id=uuid4(),
        from_squad="checkout",
        to_squad="payments",
        predicted_squad="checkout",
        by="lead@example.com",
        reassigned_at=datetime.now(UTC),
    )
    assert service.record_corrections([("r-1", ev), ("r-1", ev)], repo=repo) == 1
    assert service.record_corrections([("r-1", ev)], repo=repo) == 0
    (label,) = repo.labels()
    assert (label.case_id, label.squad, label.source) == (ev.case_id, "payments", "correction")


def test_start_state_trains_when_no_model_is_saved(catalogue) -> None:
    store = FakeModelStore(saved=False)
    state = service.start_state(store=store, catalogue_path=Path(catalogue.source))
    assert store.trained == 1 and state.catalogue.digest == catalogue.digest


def test_reloads_raise_and_leave_the_caller_state(state, tmp_path: Path) -> None:
    with pytest.raises(ModelRefused) as refused:
        service.reload_model(store=FakeModelStore(refuse="hash_mismatch"), current=state)
    assert refused.value.reason == "hash_mismatch"
    (tmp_path / "bad.yaml").write_text("apiVersion: nope\nkind: Group\nmetadata: {}\n")
    with pytest.raises(CatalogueError) as invalid:
        service.reload_catalogue(store=FakeModelStore(), catalogue_path=tmp_path, current=state)
    assert invalid.value.issues

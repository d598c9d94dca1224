"""Training-set assembly, the labels page, the retrain lease and orphaned jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from contracts.catalogue import Catalogue
from devkit.triage_fakes import (
    FakeModelStore,
    KeywordClassifier,
    MemoryCaseRepository,
    sqlite_registry,
)
from servicekit.paging import InvalidCursor, encode_cursor
from triage import service, training
from triage.domain import (
    Correction,
    Example,
    Intake,
    Label,
    LabelFilter,
    RetrainJob,
)
from triage.ports import ModelState

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def corr(
    row: int,
    case: UUID,
    squad: str,
    *,
    at: datetime = T0,
    title: str | None = "Refund missing",
    description: str | None = "no money back yet",
) -> Correction:
    return Correction(row, Label(case, squad, "correction", at), title, description)


def test_the_latest_label_of_a_case_wins(catalogue: Catalogue) -> None:
    a, b = uuid4(), uuid4()
    rows = [
        corr(3, a, "checkout", at=T0 + timedelta(minutes=5)),  # latest by time
        corr(1, a, "payments", at=T0),
        corr(2, a, "logistics", at=T0 + timedelta(minutes=1)),
        corr(4, b, "payments", at=T0, title="B"),
        corr(5, b, "checkout", at=T0, title="B"),  # same time: the later row wins
    ]
    data = training.assemble_training_set([], rows, catalogue)
    assert sorted((e.title, e.squad) for e in data.examples) == [
        ("B", "checkout"),
        ("Refund missing", "checkout"),
    ]
    assert data.counts.labels == 5
    assert data.counts.superseded == 3
    assert data.counts.corrections_used == 2


def test_unknown_squads_service_delivery_and_missing_cases_are_skipped(catalogue) -> None:
    assert "service-delivery" in catalogue.squads and "gone" not in catalogue.squads
    a, b, c, d = uuid4(), uuid4(), uuid4(), uuid4()
    rows = [
        corr(1, a, "gone"),
        corr(2, b, "service-delivery"),
        corr(3, c, "payments", title=None, description=None),
        corr(4, d, "payments"),
        corr(5, a, "checkout", at=T0 - timedelta(days=1)),  # older: superseded by "gone"
    ]
    history = [
        Example("Old", "moved to a retired squad", "retired"),
        Example("", "", "payments"),
        Example("Card declined", "twice", "payments"),
    ]
    data = training.assemble_training_set(history, rows, catalogue)
    assert data.examples == [
        Example("Card declined", "twice", "payments"),
        Example("Refund missing", "no money back yet", "payments"),
    ]
    c_ = data.counts
    assert (c_.skipped_unknown_squad, c_.skipped_missing_case, c_.superseded) == (2, 1, 1)
    assert (c_.history_rows, c_.history_used, c_.history_skipped) == (3, 1, 2)


def test_a_service_delivery_label_never_replaces_a_squad_label(catalogue: Catalogue) -> None:
    """The lead corrects the case to `payments`; it is then handed to Service Delivery and
    resolved there: it trains as `payments`, whatever the order the labels are read in."""
    a, b, c = uuid4(), uuid4(), uuid4()

    def label(row: int, case: UUID, squad: str, source: str, minutes: int) -> Correction:
        at = T0 + timedelta(minutes=minutes)
        return Correction(row, Label(case, squad, source, at), f"case {row}", "text")

    rows = [
        label(1, a, "payments", "correction", 0),
        label(2, a, "service-delivery", "correction", 5),  # handed over to SD
        label(3, a, "service-delivery", "resolution", 9),  # resolved by SD
        label(4, b, "service-delivery", "resolution", 9),  # only SD: nothing to learn
        label(5, c, "payments", "correction", 0),
        label(6, c, "checkout", "correction", 5),  # a later squad label still wins
        label(7, c, "service-delivery", "resolution", 9),
    ]
    for order in (rows, rows[::-1]):
        data = training.assemble_training_set([], order, catalogue)
        assert sorted((e.title, e.squad) for e in data.examples) == [
            ("case 1", "payments"),
            ("case 6", "checkout"),
        ]
        assert data.counts.superseded == 4 and data.counts.skipped_unknown_squad == 1


def test_a_correction_overrides_history_rows_with_the_same_text(catalogue) -> None:
    history = [
        Example("Refund  missing", "no money\nback yet ", "checkout"),  # same text, spaced
        Example("Refund missing", "no money back yet", "checkout"),
        Example("Refund missing", "another text", "checkout"),
    ]
    data = training.assemble_training_set(history, [corr(1, uuid4(), "payments")], catalogue)
    assert data.examples == [
        Example("Refund missing", "another text", "checkout"),
        Example("Refund missing", "no money back yet", "payments"),
    ]
    assert data.counts.history_overridden == 2 and data.counts.history_used == 1


def test_a_skipped_correction_does_not_override_history(catalogue) -> None:
    history = [Example("Refund missing", "no money back yet", "payments")]
    data = training.assemble_training_set(history, [corr(1, uuid4(), "gone")], catalogue)
    assert data.examples == history and data.counts.history_overridden == 0


def test_retrain_trains_on_history_and_the_stored_corrections(
    catalogue, make_case, tmp_path
) -> None:
    repo = MemoryCaseRepository()
    state = ModelState(KeywordClassifier(catalogue), catalogue)
    (out,) = service.take_in(
        [Intake.of(make_case(title="Promo code", description="voucher rejected"))],
        repo=repo,
        state=state,
        options=service.TriageOptions(),
    )
    repo.label_rows.append(Label(out.case.id, "payments", "correction", T0))
    store = FakeModelStore(history_rows=[Example("Card declined", "twice", "payments")])
    result = training.retrain(
        repo=repo,
        store=store,
        registry=sqlite_registry(f"sqlite:///{tmp_path / 'r.db'}"),
        catalogue=catalogue,
        champion=state.classifier,
        options=training.RetrainOptions(),
    )
    assert store.retrained == [
        [
            Example("Card declined", "twice", "payments"),
            Example("Promo code", "voucher rejected", "payments"),
        ]
    ]
    assert result.record.version == "retrained-1" and result.record.status == "rejected"
    assert result.counts.corrections_used == 1 and result.counts.history_used == 1
    assert result.counts.holdout == 0  # a fifth of two examples is none


def labelled_repo(n: int) -> tuple[MemoryCaseRepository, list[Label]]:
    repo = MemoryCaseRepository()
    labels = [
        Label(uuid4(), "payments" if i % 2 else "checkout", "correction", T0 + timedelta(hours=i))
        for i in range(n)
    ]
    repo.label_rows.extend(labels)
    return repo, labels


def test_labels_pages_cover_everything_once_newest_first() -> None:
    repo, labels = labelled_repo(7)
    seen, cursor, pages = [], None, 0
    while True:
        page = training.list_labels(LabelFilter(), repo=repo, limit=3, cursor=cursor)
        seen.extend(c.label for c in page.items)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 3
    assert seen == list(reversed(labels))


def test_labels_filter_by_squad_and_since() -> None:
    repo, labels = labelled_repo(6)
    page = training.list_labels(
        LabelFilter(squad="payments", since=T0 + timedelta(hours=2)), repo=repo, limit=10
    )
    expected = [
        lb
        for lb in reversed(labels)
        if lb.squad == "payments" and lb.created_at >= T0 + timedelta(hours=2)
    ]
    assert [c.label for c in page.items] == expected and len(expected) == 2
    assert page.next_cursor is None


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        encode_cursor("cases", UUID("0190a1b2-0000-7000-8000-00000000abcd")),
        encode_cursor("labels", "x"),
    ],
    ids=["garbage", "case-cursor", "label-cursor-without-id"],
)
def test_foreign_cursors_are_refused(cursor: str) -> None:
    repo, _ = labelled_repo(2)
    with pytest.raises(InvalidCursor):
        training.list_labels(LabelFilter(), repo=repo, limit=1, cursor=cursor)


def test_the_retrain_lease_admits_one_holder_until_it_lapses(tmp_path) -> None:
    registry = sqlite_registry(f"sqlite:///{tmp_path / 'lease.db'}")
    other = sqlite_registry(f"sqlite:///{tmp_path / 'lease.db'}")  # another process's view
    assert registry.acquire("retrain", "job-a", 30, T0) is None
    assert other.acquire("retrain", "job-b", 30, T0 + timedelta(seconds=10)) == "job-a"
    assert registry.acquire("retrain", "job-a", 30, T0 + timedelta(seconds=10)) is None  # again
    assert registry.renew("retrain", "job-a", 30, T0 + timedelta(seconds=20))
    assert other.acquire("retrain", "job-b", 30, T0 + timedelta(seconds=45)) == "job-a"
    # job-a stops renewing: after its expiry job-b takes over and job-a has lost it
    assert other.acquire("retrain", "job-b", 30, T0 + timedelta(seconds=51)) is None
    assert not registry.renew("retrain", "job-a", 30, T0 + timedelta(seconds=52))
    registry.release("retrain", "job-a")  # not the holder: nothing happens
    assert registry.acquire("retrain", "job-c", 30, T0 + timedelta(seconds=53)) == "job-b"
    other.release("retrain", "job-b")
    assert registry.acquire("retrain", "job-c", 30, T0 + timedelta(seconds=54)) is None


def test_only_jobs_without_a_live_lease_are_interrupted(tmp_path) -> None:
    registry = sqlite_registry(f"sqlite:///{tmp_path / 'jobs.db'}")
    for job_id in ("alive", "dead"):
        registry.save_job(RetrainJob(job_id, "running", T0, "v1"))
    registry.acquire("retrain", "alive", 30, T0)
    assert registry.interrupt_orphans("retrain", T0 + timedelta(seconds=5)) == 1
    alive, dead = registry.job("alive"), registry.job("dead")
    assert alive is not None and alive.status == "running"
    assert dead is not None and dead.status == "interrupted"
    assert registry.interrupt_orphans("retrain", T0 + timedelta(seconds=31)) == 1  # lapsed
    assert registry.job("nope") is None


def _outcome(version: str, promote: bool) -> training.RetrainOutcome:
    from triage.domain import ModelRecord, TrainingCounts
    from triage.promotion import Verdict

    record = ModelRecord(version, T0, "champion" if promote else "rejected", {"n": 3}, {"h": 1})
    return training.RetrainOutcome(record, Verdict(promote, []), TrainingCounts(labels=4))


def test_a_retrain_job_holds_the_lease_and_records_its_verdict(tmp_path) -> None:
    """The lifecycle the service and `triage retrain` share, on a real SQLite registry."""
    from triage.errors import RetrainRunning, TrainingFailed
    from triage.jobs import RETRAIN_LEASE, RetrainJobs

    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    jobs, elsewhere = RetrainJobs(sqlite_registry(url)), RetrainJobs(sqlite_registry(url))
    job = jobs.begin("v1")
    assert jobs.registry.job(job.id) == job and job.status == "running"
    with pytest.raises(RetrainRunning) as running:
        elsewhere.begin("v1")
    assert running.value.job_id == job.id
    outcome = _outcome("v2", True)
    assert jobs.run(job, lambda: outcome) is outcome
    done = jobs.registry.job(job.id)
    assert done is not None and done.status == "succeeded"
    assert (done.new_version, done.decision) == ("v2", "promoted")
    assert done.counts is not None and done.counts.labels == 4
    assert done.metrics == {"n": 3, "evaluation": {"h": 1}}

    failing = elsewhere.begin("v2")  # the lease was given up

    def boom() -> training.RetrainOutcome:
        raise TrainingFailed("no squads", reason="empty")

    with pytest.raises(TrainingFailed):
        elsewhere.run(failing, boom)
    failed = jobs.registry.job(failing.id)
    assert failed is not None and failed.status == "failed"
    assert (failed.error_code, failed.error) == ("training_failed", "no squads")

    gone = jobs.begin("v2")
    jobs.abandon(gone)  # a stopping process: no verdict, the lease is free, the job orphaned
    assert jobs.registry.acquire(RETRAIN_LEASE, "probe", 30, datetime.now(UTC)) is None
    jobs.registry.release(RETRAIN_LEASE, "probe")
    assert jobs.interrupt_orphans() == 1
    orphan = jobs.registry.job(gone.id)
    assert orphan is not None and orphan.status == "interrupted"


def test_a_retrain_promotes_only_while_it_holds_the_lease(tmp_path) -> None:
    """A job whose process is stopping gave its lease up; one whose lease lapsed lost it to
    another job: neither promotes what it trained (it stays a challenger)."""
    from triage.domain import ModelRecord
    from triage.errors import RetrainLeaseLost

    registry = sqlite_registry(f"sqlite:///{tmp_path / 'promote.db'}")
    for version in ("v1", "v2", "v3"):
        registry.add(ModelRecord(version, T0, "challenger", {}, {}), b"artifact")
    lease = training.RETRAIN_LEASE
    assert registry.acquire(lease, "job-a", 30, T0) is None
    assert registry.promote("v1", T0 + timedelta(seconds=5), lease=(lease, "job-a")).version == "v1"

    registry.release(lease, "job-a")  # stopping: the lease is given up, the thread goes on
    with pytest.raises(RetrainLeaseLost):
        registry.promote("v2", T0 + timedelta(seconds=6), lease=(lease, "job-a"))
    assert registry.acquire(lease, "job-b", 30, T0 + timedelta(seconds=7)) is None
    with pytest.raises(RetrainLeaseLost):  # lapsed: job-b holds it now
        registry.promote("v3", T0 + timedelta(seconds=40), lease=(lease, "job-b"))
    assert registry.champion().version == "v1"
    assert {r.version: r.status for r in registry.versions()} == {
        "v1": "champion",
        "v2": "challenger",
        "v3": "challenger",
    }

"""`external_ref` and idempotency keys are unique per submitter; a conflicting Kafka case is
dead-lettered with its reason, never dropped."""

from __future__ import annotations

from collections.abc import Callable

from aiokafka import ConsumerRecord

from contracts import CaseSubmission, CloudEvent, Topics
from contracts.catalogue import Catalogue
from contracts.topics import CASE_RECEIVED
from contracts.wire import encode
from devkit.triage_fakes import KeywordClassifier, MemoryCaseRepository
from triage import service
from triage.domain import Accepted, Intake, http_scope, kafka_scope
from triage.entrypoints.consumer import make_handler
from triage.errors import IdempotencyConflict
from triage.ports import ModelState

Make = Callable[..., CaseSubmission]
OPTIONS = service.TriageOptions(threshold=0.6, margin=0.1, triaged_topic="out")
TOPICS = Topics(received="received", lifecycle="lifecycle")


def _take(repo: MemoryCaseRepository, catalogue: Catalogue) -> Callable[..., list[object]]:
    state = ModelState(KeywordClassifier(catalogue), catalogue)

    def take(items):
        return list(service.take_in(items, repo=repo, state=state, options=OPTIONS))

    return take


def test_the_same_ref_from_two_submitters_is_two_cases(repo, catalogue, make_case: Make) -> None:
    take = _take(repo, catalogue)
    crm = Intake.of(make_case(external_ref="T-1"), scope=kafka_scope("/crm"))
    squatter = Intake.of(
        make_case(external_ref="T-1", title="Claimed first"), scope=http_scope("anonymous")
    )
    (first,) = take([squatter])
    (second,) = take([crm])
    assert isinstance(first, Accepted) and isinstance(second, Accepted)
    assert not second.replayed and second.case.id != first.case.id


def test_an_idempotency_key_of_another_client_never_replays_its_case(
    repo, catalogue, make_case: Make
) -> None:
    take = _take(repo, catalogue)
    (mine,) = take([Intake.of(make_case(), idempotency_key="k", scope=http_scope("alice"))])
    (theirs,) = take([Intake.of(make_case(), idempotency_key="k", scope=http_scope("mallory"))])
    assert isinstance(theirs, Accepted) and not theirs.replayed
    assert theirs.case.id != mine.case.id


def _record(offset: int, event: CloudEvent) -> ConsumerRecord:
    rec = encode(event, "k")
    return ConsumerRecord(
        topic=TOPICS.received,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=rec.key,
        value=rec.value,
        checksum=None,
        serialized_key_size=len(rec.key or b""),
        serialized_value_size=len(rec.value),
        headers=tuple(rec.headers),
    )


def _received(source: str, ref: str, title: str) -> CloudEvent:
    data = {"title": title, "reporter": {"name": "Ada"}, "external_ref": ref}
    return CloudEvent(type=CASE_RECEIVED, source=source, data=data)


async def test_a_conflicting_ref_on_kafka_is_dead_lettered_with_its_reason(repo, catalogue) -> None:
    handler = make_handler(
        topics=TOPICS,
        take_in=_take(repo, catalogue),
        record_corrections=lambda items: 0,
        committed=lambda: None,
    )
    first = [_record(0, _received("/crm", "T-9", "Checkout fails"))]
    assert await handler(first) == []
    again = [
        _record(1, _received("/crm", "T-9", "Checkout fails")),  # same body: a duplicate
        _record(2, _received("/crm", "T-9", "Something else")),  # same ref, other body
        _record(3, _received("/chat", "T-9", "Something else")),  # another submitter
    ]
    rejected = await handler(again)
    assert [(r.record.offset, r.reason) for r in rejected] == [(2, "external_ref_conflict")]
    assert "T-9" in rejected[0].error
    refs = sorted((r.scope, r.external_ref) for r in repo.records.values())
    assert refs == [("kafka:/chat", "T-9"), ("kafka:/crm", "T-9")]


def test_a_conflict_outcome_is_an_idempotency_conflict(repo, catalogue, make_case: Make) -> None:
    take = _take(repo, catalogue)
    scope = kafka_scope("/crm")
    take([Intake.of(make_case(external_ref="T-2"), scope=scope)])
    (out,) = take([Intake.of(make_case(external_ref="T-2", title="Changed"), scope=scope)])
    assert isinstance(out, IdempotencyConflict) and "external_ref" in out.message

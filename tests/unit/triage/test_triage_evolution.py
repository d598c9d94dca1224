"""The contract evolution rule (README, *Contract evolution*): a field added with a default
changes neither the idempotency of bodies sent before it, nor what a consumer accepts; HTTP
still refuses fields it does not know."""

from __future__ import annotations

import hashlib
from uuid import uuid4

import httpx
import pytest

from contracts import CaseSubmission, CloudEvent
from contracts.catalogue import Catalogue
from contracts.topics import CASE_RECEIVED
from contracts.wire import decode, encode, parse_data
from devkit.triage_fakes import KeywordClassifier, MemoryCaseRepository
from triage import service
from triage.domain import Accepted, Intake, request_hash
from triage.errors import IdempotencyConflict
from triage.ports import ModelState

OPTIONS = service.TriageOptions(threshold=0.6, margin=0.1, triaged_topic="out")
BODY = {"title": "Checkout fails", "description": "place order", "reporter": {"name": "Ada"}}


class NextSubmission(CaseSubmission):
    """The submission contract after a deploy that added an optional field."""

    channel: str = "web-form"


def test_a_field_added_with_a_default_leaves_the_hash_of_older_bodies_unchanged() -> None:
    before = CaseSubmission.model_validate(BODY)
    after = NextSubmission.model_validate(BODY)
    assert request_hash(after) == request_hash(before)
    assert request_hash(NextSubmission.model_validate({**BODY, "channel": "chat"})) != (
        request_hash(before)
    )


def test_a_default_sent_or_left_out_hashes_the_same() -> None:
    explicit = CaseSubmission.model_validate({**BODY, "priority": "P3", "tags": []})
    assert request_hash(explicit) == request_hash(CaseSubmission.model_validate(BODY))
    assert request_hash(CaseSubmission.model_validate({**BODY, "priority": "P1"})) != (
        request_hash(explicit)
    )


def test_a_retry_after_the_deploy_replays_the_case_stored_before(catalogue: Catalogue) -> None:
    repo = MemoryCaseRepository()
    state = ModelState(KeywordClassifier(catalogue), catalogue)
    key = f"key-{uuid4()}"
    (first,) = service.take_in(
        [Intake.of(CaseSubmission.model_validate(BODY), idempotency_key=key)],
        repo=repo,
        state=state,
        options=OPTIONS,
    )
    assert isinstance(first, Accepted)
    (retry,) = service.take_in(
        [Intake.of(NextSubmission.model_validate(BODY), idempotency_key=key)],
        repo=repo,
        state=state,
        options=OPTIONS,
    )
    assert isinstance(retry, Accepted) and retry.replayed and retry.case.id == first.case.id
    (other,) = service.take_in(
        [
            Intake.of(
                NextSubmission.model_validate({**BODY, "channel": "chat"}), idempotency_key=key
            )
        ],
        repo=repo,
        state=state,
        options=OPTIONS,
    )
    assert isinstance(other, IdempotencyConflict)


def test_a_case_stored_with_the_legacy_hash_still_replays(catalogue: Catalogue) -> None:
    repo = MemoryCaseRepository()
    state = ModelState(KeywordClassifier(catalogue), catalogue)
    submission = CaseSubmission.model_validate(BODY)
    legacy = hashlib.sha256(submission.model_dump_json().encode()).hexdigest()
    stored = Intake(submission, idempotency_key="old-key", hash=legacy)
    (first,) = service.take_in([stored], repo=repo, state=state, options=OPTIONS)
    (retry,) = service.take_in(
        [Intake.of(submission, idempotency_key="old-key")], repo=repo, state=state, options=OPTIONS
    )
    assert isinstance(first, Accepted) and isinstance(retry, Accepted)
    assert retry.replayed and retry.case.id == first.case.id


@pytest.mark.parametrize(
    "data",
    [
        {**BODY, "channel": "chat"},
        {**BODY, "reporter": {"name": "Ada", "pronouns": "she/her"}},
    ],
    ids=["top-level", "nested"],
)
def test_a_consumer_ignores_fields_it_does_not_know(data: dict) -> None:
    record = encode(CloudEvent(type=CASE_RECEIVED, source="/newer-producer", data=data))
    parsed = parse_data(decode(record.value, record.headers), CASE_RECEIVED, CaseSubmission)
    assert parsed == CaseSubmission.model_validate(BODY)


async def test_http_refuses_fields_it_does_not_know(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/cases", json={**BODY, "channel": "chat"})
    assert resp.status_code == 422
    assert [e["loc"] for e in resp.json()["errors"]] == ["body.channel"]

"""Two replicas take in the same Idempotency-Key at the same time (Postgres).

Both read "no case with this key" before either inserts; the loser's insert hits the unique
constraint. Its caller must get the winner's case as a replay (or a 409 for another body),
never an error, and exactly one case is stored.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from uuid import uuid4

import pytest

from contracts import CaseSubmission, TriageResult
from contracts.catalogue import load_catalogue
from devkit.triage_fakes import FakeModelStore, KeywordClassifier
from triage.app import Container
from triage.bootstrap import build_container
from triage.config import Settings
from triage.domain import Accepted, CaseFilter, Intake
from triage.errors import IdempotencyConflict
from triage.migrations import upgrade

from .conftest import DEMO

pytestmark = pytest.mark.postgres


class RendezvousClassifier(KeywordClassifier):
    """Holds its first two calls until both arrived: both replicas have read by then."""

    def __init__(self) -> None:
        super().__init__(load_catalogue(DEMO))
        self.rendezvous = threading.Barrier(2, timeout=10)
        self.waiting = 2
        self.lock = threading.Lock()

    def predict(
        self, cases: Sequence[CaseSubmission], *, threshold: float, margin: float = 0.1
    ) -> list[TriageResult]:
        with self.lock:
            wait = self.waiting > 0
            self.waiting -= 1
        if wait:
            self.rendezvous.wait()
        return super().predict(cases, threshold=threshold, margin=margin)


def replicas(url: str, tmp_path: Path) -> list[Container]:
    upgrade(url)
    settings = Settings(database_url=url, catalogue_path=DEMO, model_dir=tmp_path / "model")
    classifier = RendezvousClassifier()
    return [
        build_container(settings, store=FakeModelStore(lambda _c: classifier), kafka=False)
        for _ in range(2)
    ]


def submission(description: str) -> CaseSubmission:
    return CaseSubmission.model_validate(
        {"title": "Checkout fails", "description": description, "reporter": {"name": "Ada"}}
    )


async def race(containers: list[Container], bodies: list[CaseSubmission], key: str) -> list:
    return await asyncio.gather(
        *(
            c.submit(Intake.of(body, idempotency_key=key))
            for c, body in zip(containers, bodies, strict=True)
        ),
        return_exceptions=True,
    )


async def test_the_same_key_and_body_at_once_stores_one_case_and_replays_it(
    postgres_url: str, tmp_path: Path
) -> None:
    a, b = replicas(postgres_url, tmp_path)
    key = f"race-{uuid4()}"
    try:
        outcomes = await race([a, b], [submission(f"place order {key}")] * 2, key)
        assert all(isinstance(o, Accepted) for o in outcomes), outcomes
        assert sorted(o.replayed for o in outcomes) == [False, True]
        assert outcomes[0].case.id == outcomes[1].case.id
        stored = a.repo.find(CaseFilter(), limit=500)
        assert [c.id for c in stored if key in c.submission.description] == [outcomes[0].case.id]
    finally:
        await a.stop()
        await b.stop()


async def test_the_same_key_with_another_body_at_once_is_a_conflict(
    postgres_url: str, tmp_path: Path
) -> None:
    a, b = replicas(postgres_url, tmp_path)
    key = f"race-{uuid4()}"
    try:
        bodies = [submission(f"place order {key}"), submission(f"other {key}")]
        outcomes = await race([a, b], bodies, key)
        kinds = sorted(type(o).__name__ for o in outcomes)
        assert kinds == [Accepted.__name__, IdempotencyConflict.__name__], outcomes
        stored = a.repo.find(CaseFilter(), limit=500)
        assert len([c for c in stored if key in c.submission.description]) == 1
    finally:
        await a.stop()
        await b.stop()

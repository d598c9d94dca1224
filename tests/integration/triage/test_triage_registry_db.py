"""The model registry on the migrated databases (SQLite and Postgres): the retrain lease
under racing takers, promotion and rollback, artifact bytes, jobs."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

from servicekit.db import make_engine
from triage.adapters.registry import SqlModelRegistry
from triage.domain import ModelRecord, RetrainJob, TrainingCounts

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def test_racing_takers_get_the_lease_once(db_url: str) -> None:
    lease = f"retrain-{uuid.uuid4().hex[:8]}"
    engines = [make_engine(db_url) for _ in range(4)]
    start = threading.Barrier(len(engines))
    results: list[str | None] = [None] * len(engines)

    def take(n: int) -> None:
        start.wait()
        results[n] = SqlModelRegistry(engines[n]).acquire(lease, f"job-{n}", 30, T0)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(len(engines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.dispose()
    winners = [n for n, r in enumerate(results) if r is None]
    assert len(winners) == 1, results
    assert {r for r in results if r is not None} == {f"job-{winners[0]}"}


def test_promotion_retires_the_champion_and_keeps_the_artifact(db_url: str) -> None:
    engine = make_engine(db_url)
    registry = SqlModelRegistry(engine)
    tag = uuid.uuid4().hex[:6]
    a, b = f"a-{tag}", f"b-{tag}"
    for n, version in enumerate((a, b)):
        record = ModelRecord(version, T0 + timedelta(minutes=n), "challenger", {"n": n}, {})
        registry.add(record, f"bytes of {version}".encode())
    registry.add(ModelRecord(a, T0, "rejected"), b"ignored")  # registered once
    registry.promote(a, T0 + timedelta(minutes=2))
    registry.promote(b, T0 + timedelta(minutes=3))
    champion = registry.champion()
    assert champion is not None and champion.version == b
    got = registry.get(a)
    assert got is not None and got.status == "retired"
    registry.promote(a, T0 + timedelta(minutes=4))  # rollback
    assert registry.champion().version == a  # type: ignore[union-attr]
    assert registry.get(b).status == "retired"  # type: ignore[union-attr]
    assert registry.artifact(a) == f"bytes of {a}".encode()
    job = RetrainJob(
        f"job-{tag}", "succeeded", T0, a, T0, b, "promoted", TrainingCounts(labels=3), {"x": 1}
    )
    registry.save_job(RetrainJob(job.id, "running", T0, a))
    registry.save_job(job)
    assert registry.job(job.id) == job
    engine.dispose()

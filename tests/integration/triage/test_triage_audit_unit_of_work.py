"""Triage's audited registry actions (promotion, reload, the start of a retrain) write their
audit entry in their own transaction, on the migrated databases (SQLite and Postgres): a
committed action has its entry; an action that fails leaves none; and an entry that cannot be
written takes the action down with it (nothing half-recorded)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from servicekit.audit import Audited, AuditLog
from servicekit.db import make_engine
from triage.adapters.audit_log import AUDIT
from triage.adapters.registry import SqlModelRegistry
from triage.domain import ModelRecord, RetrainJob
from triage.errors import ModelVersionNotFound

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _entries(log: AuditLog, target: str) -> list[tuple[str, str, dict | None]]:
    with log.engine.connect() as conn:
        rows = conn.execute(select(AUDIT).where(AUDIT.c.target == target).order_by(AUDIT.c.id))
        return [(r.actor, r.action, r.detail) for r in rows]


def test_a_promotion_and_its_entry_commit_together(db_url: str) -> None:
    engine = make_engine(db_url)
    registry = SqlModelRegistry(engine)
    log = AuditLog(engine, AUDIT)
    tag = uuid.uuid4().hex[:6]
    a, b = f"a-{tag}", f"b-{tag}"
    for n, version in enumerate((a, b)):
        registry.add(ModelRecord(version, T0 + timedelta(minutes=n), "challenger"), b"x")
    registry.promote(a, T0 + timedelta(minutes=2))

    # the action fails: no entry
    with pytest.raises(ModelVersionNotFound):
        registry.promote(f"nope-{tag}", T0, audit=Audited("admin", "model.promote", b))
    # the entry cannot be written (its detail is not JSON): the promotion is undone with it
    unwritable = Audited("admin", "model.promote", b, {"previous_version": object()})
    with pytest.raises((TypeError, StatementError)):
        registry.promote(b, T0 + timedelta(minutes=3), audit=unwritable)
    assert registry.champion().version == a  # type: ignore[union-attr]
    assert _entries(log, b) == []

    registry.promote(
        b, T0 + timedelta(minutes=4), audit=Audited("ops", "model.promote", b, {"from": a})
    )
    assert registry.champion().version == b  # type: ignore[union-attr]
    assert _entries(log, b) == [("ops", "model.promote", {"from": a})]
    engine.dispose()


def test_a_retrain_job_and_its_entry_commit_together(db_url: str) -> None:
    engine = make_engine(db_url)
    registry = SqlModelRegistry(engine)
    log = AuditLog(engine, AUDIT)
    job = RetrainJob(f"job-{uuid.uuid4().hex[:8]}", "running", T0, "v1")

    unwritable = Audited("admin", "model.retrain", job.id, {"bad": object()})
    with pytest.raises((TypeError, StatementError)):
        registry.save_job(job, audit=unwritable)
    assert registry.job(job.id) is None
    assert _entries(log, job.id) == []

    registry.save_job(job, audit=Audited("admin", "model.retrain", job.id))
    assert registry.job(job.id) == job
    assert _entries(log, job.id) == [("admin", "model.retrain", None)]
    engine.dispose()

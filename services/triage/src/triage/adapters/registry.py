"""The model registry in the triage database: versions, retrain jobs and the retrain lease.

Three tables, created by migration 0006:

- `triage_models`: one row per model version, with its status (`champion`, `challenger`,
  `rejected`, `retired`), its training metrics, the holdout evaluation and decision, and the
  artifact itself (a zip of `manifest.json` and the model file) so that every instance can
  load a promoted version without a shared disk. At most one row is `champion`; promoting
  retires the previous one in the same transaction.
- `triage_retrain_jobs`: every retrain job and its result; they survive restarts.
- `triage_leases`: named leases with a holder and an expiry. The retrain lease (holder: the
  job id) makes two trainings into the same registry exclusive across processes and hosts:
  taking it is one conditional `UPDATE` (free or lapsed) or, when no row exists yet, an
  `INSERT` that the primary key lets only one writer win - the same on SQLite and Postgres.
  The running job renews it; a job whose process died stops renewing, its lease lapses and
  the job is marked `interrupted` (`interrupt_orphans`).

A promotion and the start of a retrain job write their audit entry (`Audited`, the
`audit` argument) in their own transaction, into `triage_audit_log`: a committed promotion or
job always has its entry, one that failed has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from servicekit.audit import Audited, write_audit
from servicekit.utc import as_utc
from triage.adapters.audit_log import AUDIT
from triage.domain import ModelRecord, RetrainJob, TrainingCounts
from triage.errors import ModelVersionNotFound, RetrainLeaseLost


class ModelRow(SQLModel, table=True):
    """A model version and its artifact."""

    __tablename__ = "triage_models"
    __table_args__ = (Index("ix_triage_models_status", "status"),)

    version: str = Field(sa_column=Column(String(200), primary_key=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    metrics: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    evaluation: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    path: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    artifact: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    job_id: str | None = Field(default=None, sa_column=Column(String(36), nullable=True))
    promoted_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class RetrainJobRow(SQLModel, table=True):
    """A retrain job."""

    __tablename__ = "triage_retrain_jobs"

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    previous_version: str = Field(sa_column=Column(String(200), nullable=False))
    new_version: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    decision: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    counts: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    metrics: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error_code: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


class LeaseRow(SQLModel, table=True):
    """A named lease."""

    __tablename__ = "triage_leases"

    name: str = Field(sa_column=Column(String(100), primary_key=True))
    holder: str = Field(sa_column=Column(String(200), nullable=False))
    acquired_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


MODELS: Table = ModelRow.__table__  # type: ignore[attr-defined]
JOBS: Table = RetrainJobRow.__table__  # type: ignore[attr-defined]
LEASES: Table = LeaseRow.__table__  # type: ignore[attr-defined]
REGISTRY_TABLES = (MODELS, JOBS, LEASES)
_RECORD_COLUMNS = [c for c in MODELS.c if c.name != "artifact"]


def create_registry_tables(engine: Engine) -> None:
    """Create the registry's tables, and the audit log its actions write, when missing
    (tests; deployments migrate)."""
    SQLModel.metadata.create_all(engine, tables=[*REGISTRY_TABLES, AUDIT])


def _record(row: Any) -> ModelRecord:
    return ModelRecord(
        version=row.version,
        created_at=as_utc(row.created_at) if row.created_at else datetime.now(UTC),
        status=row.status,
        metrics=dict(row.metrics or {}),
        evaluation=dict(row.evaluation or {}),
        path=row.path,
        sha256=row.sha256,
        job_id=row.job_id,
        promoted_at=as_utc(row.promoted_at) if row.promoted_at else None,
    )


def _job(row: Any) -> RetrainJob:
    return RetrainJob(
        id=row.id,
        status=row.status,
        started_at=as_utc(row.started_at) if row.started_at else datetime.now(UTC),
        previous_version=row.previous_version,
        finished_at=as_utc(row.finished_at) if row.finished_at else None,
        new_version=row.new_version,
        decision=row.decision,
        counts=TrainingCounts(**row.counts) if row.counts else None,
        metrics=dict(row.metrics or {}),
        error=row.error,
        error_code=row.error_code,
    )


class SqlModelRegistry:
    """`ModelRegistry` on SQLAlchemy (SQLite or Postgres); see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def champion(self) -> ModelRecord | None:
        """The champion (the most recently promoted one, should two ever be marked)."""
        stmt = (
            select(*_RECORD_COLUMNS)
            .where(MODELS.c.status == "champion")
            .order_by(MODELS.c.promoted_at.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return _record(row) if row is not None else None

    def get(self, version: str) -> ModelRecord | None:
        """One version."""
        with self.engine.connect() as conn:
            row = conn.execute(select(*_RECORD_COLUMNS).where(MODELS.c.version == version)).first()
        return _record(row) if row is not None else None

    def versions(self) -> list[ModelRecord]:
        """Every version, newest first."""
        stmt = select(*_RECORD_COLUMNS).order_by(MODELS.c.created_at.desc(), MODELS.c.version)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(stmt)]

    def add(self, record: ModelRecord, artifact: bytes) -> None:
        """Register a version; a version registered before is kept as it is."""
        row = {
            "version": record.version,
            "created_at": record.created_at.astimezone(UTC),
            "status": record.status,
            "metrics": record.metrics,
            "evaluation": record.evaluation,
            "path": record.path,
            "sha256": record.sha256,
            "artifact": artifact,
            "job_id": record.job_id,
            "promoted_at": record.promoted_at,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(MODELS), [row])
        except IntegrityError:
            pass

    def artifact(self, version: str) -> bytes | None:
        """The artifact bytes of a version."""
        with self.engine.connect() as conn:
            blob = conn.execute(
                select(MODELS.c.artifact).where(MODELS.c.version == version)
            ).scalar()
        return bytes(blob) if blob else None  # a pruned version keeps no bytes

    def set_status(self, version: str, status: str) -> None:
        """Change a version's status (e.g. a challenger judged worse becomes `rejected`)."""
        with self.engine.begin() as conn:
            conn.execute(update(MODELS).where(MODELS.c.version == version).values(status=status))

    def promote(
        self,
        version: str,
        at: datetime,
        *,
        audit: Audited | None = None,
        lease: tuple[str, str] | None = None,
    ) -> ModelRecord:
        """Make `version` the champion; the previous champion becomes `retired`; `audit` is
        written in the same transaction. With `lease` (name, holder) the promotion happens
        only while the holder holds that lease, checked (and locked) in the transaction."""
        with self.engine.begin() as conn:
            if lease is not None:
                name, holder = lease
                held = conn.execute(
                    select(LEASES.c.holder)
                    .where(
                        LEASES.c.name == name,
                        LEASES.c.holder == holder,
                        LEASES.c.expires_at >= at.astimezone(UTC),
                    )
                    .with_for_update()
                ).first()
                if held is None:
                    raise RetrainLeaseLost(
                        f"{holder} no longer holds the {name} lease; {version} is not promoted "
                        "(it stays a challenger, to promote by hand)"
                    )
            found = conn.execute(
                select(MODELS.c.status).where(MODELS.c.version == version).with_for_update()
            ).first()
            if found is None:
                raise ModelVersionNotFound(f"no model version {version}")
            if found.status == "pruned":
                raise ModelVersionNotFound.pruned(version)
            conn.execute(
                update(MODELS)
                .where(MODELS.c.status == "champion", MODELS.c.version != version)
                .values(status="retired")
            )
            conn.execute(
                update(MODELS)
                .where(MODELS.c.version == version)
                .values(status="champion", promoted_at=at.astimezone(UTC))
            )
            if audit is not None:
                write_audit(conn, AUDIT, audit, at)
        record = self.get(version)
        assert record is not None
        return record

    def prune(self, versions: Sequence[str], at: datetime) -> list[str]:
        """Delete the artifacts of `versions` and mark them `pruned` (never the champion, and
        each once); the rows stay, their former status kept in `evaluation["pruned"]`.
        Returns the versions pruned now."""
        if not versions:
            return []
        done: list[str] = []
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(MODELS.c.version, MODELS.c.status, MODELS.c.evaluation)
                .where(
                    MODELS.c.version.in_(list(versions)),
                    MODELS.c.status.not_in(["champion", "pruned"]),
                )
                .with_for_update()
            ).all()
            for row in rows:
                note = {"at": at.astimezone(UTC).isoformat(), "status": row.status}
                conn.execute(
                    update(MODELS)
                    .where(MODELS.c.version == row.version, MODELS.c.status == row.status)
                    .values(
                        status="pruned",
                        artifact=b"",
                        evaluation={**dict(row.evaluation or {}), "pruned": note},
                    )
                )
                done.append(row.version)
        return done

    def save_job(self, job: RetrainJob, *, audit: Audited | None = None) -> None:
        """Insert or replace a retrain job; `audit` is written in the same transaction."""
        row = {
            "id": job.id,
            "status": job.status,
            "started_at": job.started_at.astimezone(UTC),
            "finished_at": job.finished_at.astimezone(UTC) if job.finished_at else None,
            "previous_version": job.previous_version,
            "new_version": job.new_version,
            "decision": job.decision,
            "counts": _counts(job.counts),
            "metrics": job.metrics,
            "error": job.error,
            "error_code": job.error_code,
        }
        with self.engine.begin() as conn:
            done = conn.execute(update(JOBS).where(JOBS.c.id == job.id).values(**row))
            if done.rowcount == 0:
                conn.execute(insert(JOBS), [row])
            if audit is not None:
                write_audit(conn, AUDIT, audit, datetime.now(UTC))

    def job(self, job_id: str) -> RetrainJob | None:
        """One job."""
        with self.engine.connect() as conn:
            row = conn.execute(select(JOBS).where(JOBS.c.id == job_id)).first()
        return _job(row) if row is not None else None

    def interrupt_orphans(self, lease: str, now: datetime) -> int:
        """Mark running jobs whose lease lapsed (or that never held it) `interrupted`."""
        with self.engine.begin() as conn:
            holder = conn.execute(
                select(LEASES.c.holder).where(
                    LEASES.c.name == lease, LEASES.c.expires_at >= now.astimezone(UTC)
                )
            ).scalar()
            stmt = update(JOBS).where(JOBS.c.status == "running")
            if holder is not None:
                stmt = stmt.where(JOBS.c.id != holder)
            done = conn.execute(
                stmt.values(
                    status="interrupted",
                    finished_at=now.astimezone(UTC),
                    error="the process running this job stopped before it finished",
                    error_code="interrupted",
                )
            )
            return int(done.rowcount or 0)

    def acquire(self, lease: str, holder: str, seconds: float, now: datetime) -> str | None:
        """Take the lease when free or lapsed; None when taken, else the current holder."""
        now = now.astimezone(UTC)
        values = {
            "holder": holder,
            "acquired_at": now,
            "expires_at": now + timedelta(seconds=seconds),
        }
        with self.engine.begin() as conn:
            done = conn.execute(
                update(LEASES)
                .where(
                    LEASES.c.name == lease,
                    or_(LEASES.c.expires_at < now, LEASES.c.holder == holder),
                )
                .values(**values)
            )
            if done.rowcount == 1:
                return None
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(LEASES), [{"name": lease, **values}])
            return None
        except IntegrityError:
            pass
        with self.engine.connect() as conn:
            current = conn.execute(select(LEASES.c.holder).where(LEASES.c.name == lease)).scalar()
        return str(current) if current is not None else "unknown"

    def renew(self, lease: str, holder: str, seconds: float, now: datetime) -> bool:
        """Extend the lease `holder` holds."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(LEASES)
                .where(LEASES.c.name == lease, LEASES.c.holder == holder)
                .values(expires_at=now.astimezone(UTC) + timedelta(seconds=seconds))
            )
            return done.rowcount == 1

    def release(self, lease: str, holder: str) -> None:
        """Give the lease up."""
        with self.engine.begin() as conn:
            conn.execute(delete(LEASES).where(LEASES.c.name == lease, LEASES.c.holder == holder))


def _counts(counts: TrainingCounts | None) -> dict[str, Any] | None:
    if counts is None:
        return None
    return {name: getattr(counts, name) for name in counts.__dataclass_fields__}

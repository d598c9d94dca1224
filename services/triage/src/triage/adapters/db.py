"""SQL persistence (SQLModel tables, Core inserts): cases, processed event ids, labels, outbox.

Labels are read back joined with their cases' text (`corrections`): that is the training data
of a retrain and the body of `GET /v1/labels`. An imported label (`triage labels import`)
carries its own title and description (there is no case) and a `dedup_key`, unique, so that
importing the same file again adds nothing. The model registry's tables are in
`triage.adapters.registry`.

Every table is prefixed `triage_`: the router keeps its own tables, possibly in the same
database. The schema is created by the Alembic migrations in `triage.migrations`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    insert,
    select,
    text,
    tuple_,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from contracts import CaseSubmission, TriageResult
from contracts.cases import Case
from contracts.envelope import OutboundEvent
from servicekit.outbox import outbox_rows, outbox_table
from servicekit.utc import as_utc
from triage.adapters.audit_log import AUDIT
from triage.adapters.registry import REGISTRY_TABLES
from triage.domain import CaseFilter, Correction, Label, LabelFilter, StoredCase
from triage.ports import ScopedKey, WriteConflict


class CaseRow(SQLModel, table=True):
    """A case as received, with its triage result."""

    __tablename__ = "triage_cases"
    __table_args__ = (
        Index("ix_triage_cases_squad_id", "squad", "id"),
        Index("ix_triage_cases_decision_id", "decision", "id"),
        Index("ix_triage_cases_source_id", "source", "id"),
        Index("ix_triage_cases_priority_id", "priority", "id"),
        Index("ix_triage_cases_received_at", "received_at"),
        UniqueConstraint("ref_scope", "external_ref", name="uq_triage_cases_scope_external_ref"),
        UniqueConstraint(
            "ref_scope", "idempotency_key", name="uq_triage_cases_scope_idempotency_key"
        ),
        Index("ix_triage_cases_submitted_by_id", "submitted_by", "id"),
    )

    id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    source: str = Field(sa_column=Column(String(32), nullable=False))
    priority: str = Field(sa_column=Column(String(8), nullable=False))
    title: str = Field(sa_column=Column(String(300), nullable=False))
    submission: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    external_ref: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    ref_scope: str = Field(
        default="", sa_column=Column(String(300), nullable=False, server_default="")
    )
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    squad: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    confidence: float = Field(sa_column=Column(Float, nullable=False))
    decision: str = Field(sa_column=Column(String(16), nullable=False))
    result: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    model_version: str = Field(sa_column=Column(String(200), nullable=False))
    submitted_by: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))


class ProcessedEventRow(SQLModel, table=True):
    """A Kafka event id already handled (de-duplication)."""

    __tablename__ = "triage_processed_events"

    event_id: str = Field(sa_column=Column(String(255), primary_key=True))
    processed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class LabelRow(SQLModel, table=True):
    """A training label: the squad a case belongs to, and where that came from."""

    __tablename__ = "triage_labels"
    __table_args__ = (
        Index("ix_triage_labels_case_id", "case_id"),
        Index("ix_triage_labels_squad_id", "squad", "id"),
        UniqueConstraint("dedup_key", name="uq_triage_labels_dedup_key"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    case_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    squad: str = Field(sa_column=Column(String(200), nullable=False))
    source: str = Field(sa_column=Column(String(32), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    from_squad: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    predicted_squad: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    author: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    title: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    dedup_key: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


OUTBOX: Table = (
    SQLModel.metadata.tables["triage_outbox"]
    if "triage_outbox" in SQLModel.metadata.tables
    else outbox_table(SQLModel.metadata, "triage_outbox")
)
CASES: Table = CaseRow.__table__  # type: ignore[attr-defined]
PROCESSED: Table = ProcessedEventRow.__table__  # type: ignore[attr-defined]
LABELS: Table = LabelRow.__table__  # type: ignore[attr-defined]
TABLES = (CASES, PROCESSED, LABELS, OUTBOX, AUDIT, *REGISTRY_TABLES)
TABLE_PREFIX = "triage_"


def create_tables(engine: Engine) -> None:
    """Create the triage tables directly (fast path for tests; deployments migrate)."""
    SQLModel.metadata.create_all(engine, tables=list(TABLES))


def _case_row(record: StoredCase) -> dict[str, Any]:
    case = record.case
    sub = case.submission
    return {
        "id": case.id,
        "received_at": case.received_at.astimezone(UTC),
        "source": sub.source.value,
        "priority": sub.priority.value,
        "title": sub.title,
        "submission": sub.model_dump(mode="json"),
        "external_ref": sub.external_ref,
        "idempotency_key": record.idempotency_key,
        "ref_scope": record.scope,
        "request_hash": record.request_hash,
        "squad": case.triage.squad,
        "confidence": case.triage.confidence,
        "decision": case.triage.decision.value,
        "result": case.triage.model_dump(mode="json"),
        "model_version": case.triage.model_version,
        "submitted_by": record.submitted_by,
    }


def _case(row: Any) -> Case:
    return Case(
        id=row.id,
        received_at=as_utc(row.received_at),
        submission=CaseSubmission.model_validate(row.submission),
        triage=TriageResult.model_validate(row.result),
    )


def _label(row: Any) -> Label:
    return Label(
        row.case_id,
        row.squad,
        row.source,
        as_utc(row.created_at),
        from_squad=row.from_squad,
        predicted_squad=row.predicted_squad,
        by=row.author,
        title=row.title,
        description=row.description,
        dedup_key=row.dedup_key,
    )


def _record(row: Any) -> StoredCase:
    return StoredCase(_case(row), row.request_hash, row.idempotency_key, scope=row.ref_scope)


class _SqlTransaction:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def processed(self, event_ids: Sequence[str]) -> set[str]:
        if not event_ids:
            return set()
        stmt = select(PROCESSED.c.event_id).where(PROCESSED.c.event_id.in_(list(event_ids)))
        return set(self.conn.execute(stmt).scalars())

    def by_idempotency_keys(self, keys: Sequence[ScopedKey]) -> dict[ScopedKey, StoredCase]:
        c = CASES.c
        stmt = select(CASES).where(tuple_(c.ref_scope, c.idempotency_key).in_(list(keys)))
        return {(r.ref_scope, r.idempotency_key): _record(r) for r in self.conn.execute(stmt)}

    def by_external_refs(self, refs: Sequence[ScopedKey]) -> dict[ScopedKey, StoredCase]:
        c = CASES.c
        stmt = select(CASES).where(tuple_(c.ref_scope, c.external_ref).in_(list(refs)))
        return {(r.ref_scope, r.external_ref): _record(r) for r in self.conn.execute(stmt)}

    def add(
        self,
        records: Sequence[StoredCase],
        events: Sequence[OutboundEvent],
        processed_ids: Sequence[str],
    ) -> None:
        if records:
            self.conn.execute(insert(CASES), [_case_row(r) for r in records])
        if events:
            rows = outbox_rows(events)
            self.conn.execute(insert(OUTBOX), rows)
        self._mark(processed_ids)

    def add_labels(self, labels: Sequence[Label], processed_ids: Sequence[str]) -> None:
        if labels:
            self.conn.execute(
                insert(LABELS),
                [
                    {
                        "case_id": lb.case_id,
                        "squad": lb.squad,
                        "source": lb.source,
                        "created_at": lb.created_at.astimezone(UTC),
                        "from_squad": lb.from_squad,
                        "predicted_squad": lb.predicted_squad,
                        "author": lb.by,
                        "title": lb.title,
                        "description": lb.description,
                        "dedup_key": lb.dedup_key,
                    }
                    for lb in labels
                ],
            )
        self._mark(processed_ids)

    def known_label_keys(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        stmt = select(LABELS.c.dedup_key).where(LABELS.c.dedup_key.in_(list(keys)))
        return set(self.conn.execute(stmt).scalars())

    def _mark(self, processed_ids: Sequence[str]) -> None:
        if processed_ids:
            now = datetime.now(UTC)
            self.conn.execute(
                insert(PROCESSED), [{"event_id": e, "processed_at": now} for e in processed_ids]
            )


class SqlCaseRepository:
    """`CaseRepository` on SQLAlchemy (SQLite or Postgres)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[_SqlTransaction]:
        """A transaction committed when the block exits without error; a unique constraint
        that refuses a row raises `WriteConflict`."""
        try:
            with self.engine.begin() as conn:
                yield _SqlTransaction(conn)
        except IntegrityError as exc:
            raise WriteConflict(str(exc.orig)) from exc

    def get(self, case_id: UUID, *, submitted_by: str | None = None) -> Case | None:
        """One case, or None (also when `submitted_by` is given and did not submit it)."""
        stmt = select(CASES).where(CASES.c.id == case_id)
        if submitted_by is not None:
            stmt = stmt.where(CASES.c.submitted_by == submitted_by)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return _case(row) if row is not None else None

    def find(self, flt: CaseFilter, *, limit: int, before: UUID | None = None) -> list[Case]:
        """Cases matching `flt`, newest first."""
        c = CASES.c
        stmt = select(CASES).order_by(c.id.desc()).limit(limit)
        if before is not None:
            stmt = stmt.where(c.id < before)
        for column, value in (
            (c.squad, flt.squad),
            (c.decision, flt.decision),
            (c.source, flt.source),
            (c.priority, flt.priority),
            (c.submitted_by, flt.submitted_by),
        ):
            if value is not None:
                stmt = stmt.where(column == str(value))
        if flt.received_after is not None:
            stmt = stmt.where(c.received_at >= flt.received_after.astimezone(UTC))
        if flt.received_before is not None:
            stmt = stmt.where(c.received_at < flt.received_before.astimezone(UTC))
        with self.engine.connect() as conn:
            return [_case(r) for r in conn.execute(stmt)]

    def labels(self) -> list[Label]:
        """Every training label, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(LABELS).order_by(LABELS.c.id)).all()
        return [_label(r) for r in rows]

    def corrections(
        self, flt: LabelFilter | None = None, *, limit: int | None = None, before: int | None = None
    ) -> list[Correction]:
        """Labels joined with their cases' text (outer join), newest first."""
        lb, c = LABELS.c, CASES.c
        stmt = (
            select(LABELS, c.submission, c.squad.label("case_squad"))
            .select_from(LABELS.outerjoin(CASES, c.id == lb.case_id))
            .order_by(lb.id.desc())
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        if before is not None:
            stmt = stmt.where(lb.id < before)
        if flt is not None and flt.squad is not None:
            stmt = stmt.where(lb.squad == flt.squad)
        if flt is not None and flt.since is not None:
            stmt = stmt.where(lb.created_at >= flt.since.astimezone(UTC))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        out = []
        for r in rows:
            sub = r.submission or {}
            known = r.submission is not None
            out.append(
                Correction(
                    id=r.id,
                    label=_label(r),
                    title=sub.get("title") if known else r.title,
                    description=sub.get("description") if known else r.description,
                    case_squad=r.case_squad,
                )
            )
        return out

    def pending_events(self) -> int:
        """Rows waiting in the outbox."""
        with self.engine.connect() as conn:
            return len(conn.execute(select(OUTBOX.c.id)).all())

    def ping(self) -> None:
        """`SELECT 1`."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

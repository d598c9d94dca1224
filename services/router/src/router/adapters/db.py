"""The router's database adapter: `SqlStore` on SQLite (embedded default) or Postgres.

Writes go through `SqlStore.transaction()`, one SQLAlchemy Core transaction per call. On
SQLite every transaction starts with `BEGIN IMMEDIATE` so two writers never deadlock on a
lock upgrade (the second waits for the first, up to the busy timeout); on Postgres the
usual read-committed transactions plus conditional updates do the same job.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    and_,
    bindparam,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from contracts.envelope import OutboundEvent
from contracts.ids import new_id
from router.adapters import tables as t
from router.ports import DeliveryOutcome
from router.records import (
    CaseFilter,
    CaseRecord,
    DeliveryStatus,
    HistoryEntry,
    NotificationRecord,
    SwarmMember,
    SwarmNoteRecord,
    SwarmRecord,
)
from servicekit.db import make_engine
from servicekit.outbox import outbox_rows


def make_router_engine(url: str) -> Engine:
    """`servicekit.db.make_engine`, plus `BEGIN IMMEDIATE` transactions on SQLite."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _autocommit_driver(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


# --- row <-> record ------------------------------------------------------------------------


# The writers copy a record's field values (`__dict__`: fields only, no serialiser pass and
# no deep copy; the rows are read-only) and convert only what the columns need.


def _case_row(c: CaseRecord) -> dict[str, Any]:
    row = dict(c.__dict__)
    row["id"] = str(c.id)
    row["candidates"] = [x.model_dump(mode="json") for x in c.candidates]
    row["matched_components"] = [x.model_dump(mode="json") for x in c.matched_components]
    for key in ("priority", "source", "status", "escalation_reason"):
        row[key] = None if row[key] is None else str(row[key])
    return row


def _case(row: RowMapping) -> CaseRecord:
    return CaseRecord.model_validate(dict(row))


def _history_row(h: HistoryEntry) -> dict[str, Any]:
    row = dict(h.__dict__)
    row["case_id"] = str(h.case_id)
    row["action"] = str(h.action)
    return row


def _history(row: RowMapping) -> HistoryEntry:
    return HistoryEntry.model_validate({k: v for k, v in row.items() if k != "id"})


def _notification_row(n: NotificationRecord) -> dict[str, Any]:
    row = dict(n.__dict__)
    row["id"], row["case_id"], row["status"] = str(n.id), str(n.case_id), str(n.status)
    return row


def _notification(row: RowMapping) -> NotificationRecord:
    return NotificationRecord.model_validate({k: v for k, v in row.items() if k != "claim_token"})


class SqlTransaction:
    """`RouterTransaction` over one open connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def processed(self, event_ids: Sequence[str]) -> set[str]:
        if not event_ids:
            return set()
        pe = t.processed_events
        rows = self.conn.execute(select(pe.c.event_id).where(pe.c.event_id.in_(event_ids)))
        return {r[0] for r in rows}

    def mark_processed(self, event_ids: Sequence[str], at: datetime) -> None:
        if event_ids:
            self.conn.execute(
                insert(t.processed_events), [{"event_id": e, "processed_at": at} for e in event_ids]
            )

    def get_case(self, case_id: UUID) -> CaseRecord | None:
        row = self.conn.execute(select(t.cases).where(t.cases.c.id == str(case_id))).mappings()
        found = row.first()
        return _case(found) if found else None

    def get_cases(self, case_ids: Sequence[UUID]) -> dict[UUID, CaseRecord]:
        if not case_ids:
            return {}
        ids = [str(i) for i in case_ids]
        rows = self.conn.execute(select(t.cases).where(t.cases.c.id.in_(ids))).mappings()
        return {c.id: c for c in map(_case, rows)}

    def insert_cases(self, cases: Sequence[CaseRecord]) -> None:
        if cases:
            self.conn.execute(insert(t.cases), [_case_row(c) for c in cases])

    def update_case(self, case: CaseRecord, *, expect: CaseRecord) -> bool:
        row = _case_row(case)
        row.pop("id")
        row["version"] = expect.version + 1
        c = t.cases.c
        result = self.conn.execute(
            update(t.cases)
            .where(c.id == str(expect.id), c.version == expect.version)
            .where(c.status == str(expect.status))
            .values(**row)
        )
        return result.rowcount == 1

    def add_history(self, entries: Sequence[HistoryEntry]) -> None:
        if entries:
            self.conn.execute(insert(t.history), [_history_row(h) for h in entries])

    def case_history(self, case_id: UUID) -> list[HistoryEntry]:
        h = t.history.c
        stmt = select(t.history).where(h.case_id == str(case_id)).order_by(h.at, h.id)
        return [_history(r) for r in self.conn.execute(stmt).mappings()]

    def queue_notifications(self, rows: Sequence[NotificationRecord]) -> int:
        if not rows:
            return 0
        # One executemany for all rows; ON CONFLICT DO NOTHING skips keys already stored and
        # repeats within `rows` (the first wins). SQLite reports the rows inserted in the
        # rowcount of an executemany; psycopg does not, so Postgres counts RETURNING rows.
        values = [_notification_row(n) for n in rows]
        stmt = _insert_ignoring_conflicts(self.conn, t.notifications)
        if self.conn.dialect.name == "sqlite":
            return int(self.conn.execute(stmt, values).rowcount)
        result = self.conn.execute(stmt.returning(t.notifications.c.id), values)
        return len(result.all())

    def add_events(self, events: Sequence[OutboundEvent]) -> None:
        if events:
            rows = outbox_rows(events)
            self.conn.execute(insert(t.outbox), rows)

    def insert_swarms(self, swarms: Sequence[SwarmRecord]) -> None:
        if not swarms:
            return
        rows, members, notes = [], [], []
        for swarm in swarms:
            row = swarm.model_dump(exclude={"members", "notes"})
            row.update(id=str(swarm.id), case_id=str(swarm.case_id), status=str(swarm.status))
            row["reason"] = str(swarm.reason)
            rows.append(row)
            sid = str(swarm.id)
            members += [{"swarm_id": sid, **m.model_dump()} for m in swarm.members]
            notes += [{"swarm_id": sid, **n.model_dump()} for n in swarm.notes]
        self.conn.execute(insert(t.swarms), rows)
        if members:
            self.conn.execute(insert(t.swarm_members), members)
        if notes:
            self.conn.execute(insert(t.swarm_notes), notes)

    def get_swarm(self, swarm_id: UUID) -> SwarmRecord | None:
        return _load_swarm(self.conn, t.swarms.c.id == str(swarm_id))

    def open_swarm_for(self, case_id: UUID) -> SwarmRecord | None:
        s = t.swarms.c
        return _load_swarm(self.conn, and_(s.case_id == str(case_id), s.status == "open"))

    def add_member(self, swarm_id: UUID, member: SwarmMember) -> None:
        self.conn.execute(
            insert(t.swarm_members), [{"swarm_id": str(swarm_id), **member.model_dump()}]
        )

    def add_note(self, swarm_id: UUID, note: SwarmNoteRecord) -> None:
        self.conn.execute(insert(t.swarm_notes), [{"swarm_id": str(swarm_id), **note.model_dump()}])

    def close_swarm(self, swarm: SwarmRecord) -> bool:
        s = t.swarms.c
        result = self.conn.execute(
            update(t.swarms)
            .where(s.id == str(swarm.id), s.status == "open")
            .values(
                status="closed",
                owner_squad=swarm.owner_squad,
                outcome=swarm.outcome,
                closed_at=swarm.closed_at,
            )
        )
        return result.rowcount == 1


def _insert_ignoring_conflicts(conn: Connection, table: Any) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING` in the connection's dialect."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"unsupported database: {dialect}")  # pragma: no cover


def _load_swarm(conn: Connection, where: Any) -> SwarmRecord | None:
    s = t.swarms.c
    row = conn.execute(select(t.swarms).where(where).order_by(s.opened_at.desc())).mappings()
    found = row.first()
    if found is None:
        return None
    return _swarms_with_children(conn, [found])[0]


def _swarms_with_children(conn: Connection, rows: Sequence[RowMapping]) -> list[SwarmRecord]:
    ids = [r["id"] for r in rows]
    if not ids:
        return []
    members: dict[str, list[SwarmMember]] = {i: [] for i in ids}
    notes: dict[str, list[SwarmNoteRecord]] = {i: [] for i in ids}
    m, n = t.swarm_members.c, t.swarm_notes.c
    for r in conn.execute(
        select(t.swarm_members).where(m.swarm_id.in_(ids)).order_by(m.joined_at, m.squad)
    ).mappings():
        members[r["swarm_id"]].append(SwarmMember.model_validate(dict(r)))
    for r in conn.execute(
        select(t.swarm_notes).where(n.swarm_id.in_(ids)).order_by(n.at, n.id)
    ).mappings():
        notes[r["swarm_id"]].append(SwarmNoteRecord.model_validate(dict(r)))
    return [
        SwarmRecord.model_validate({**r, "members": members[r["id"]], "notes": notes[r["id"]]})
        for r in rows
    ]


class SqlStore:
    """`RouterStore` over a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        """One transaction: commit at the end of the block, roll back on an exception."""
        with self.engine.begin() as conn:
            yield SqlTransaction(conn)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def overdue_cases(self, now: datetime, limit: int) -> list[CaseRecord]:
        c = t.cases.c
        stmt = (
            select(t.cases)
            .where(c.status == "assigned", c.ack_deadline <= now)
            .order_by(c.ack_deadline)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_case(r) for r in conn.execute(stmt).mappings()]

    def list_cases(
        self,
        filters: CaseFilter,
        *,
        after: tuple[float | None, datetime, UUID] | None = None,
        limit: int,
    ) -> list[CaseRecord]:
        c = t.cases.c
        stmt = select(t.cases)
        if after is not None:  # keyset: strictly after the last row of the previous page
            confidence, received_at, last = after
            later = or_(
                c.received_at > received_at,
                and_(c.received_at == received_at, c.id > str(last)),
            )
            if confidence is None:  # no confidence sorts first: the rest of those, then all
                unsure = c.confidence.is_(None)
                stmt = stmt.where(or_(and_(unsure, later), c.confidence.isnot(None)))
            else:
                stmt = stmt.where(
                    or_(c.confidence > confidence, and_(c.confidence == confidence, later))
                )
        if filters.status:
            stmt = stmt.where(c.status.in_([str(s) for s in filters.status]))
        if filters.squad:
            stmt = stmt.where(c.squad == filters.squad)
        if filters.reason:
            stmt = stmt.where(c.escalation_reason == str(filters.reason))
        if filters.priority:
            stmt = stmt.where(c.priority == str(filters.priority))
        if filters.received_before:
            stmt = stmt.where(c.received_at <= filters.received_before)
        stmt = stmt.order_by(
            c.confidence.asc().nulls_first(), c.received_at.asc(), c.id.asc()
        ).limit(limit)
        with self.engine.connect() as conn:
            return [_case(r) for r in conn.execute(stmt).mappings()]

    def history(self, case_id: UUID) -> list[HistoryEntry]:
        with self.engine.connect() as conn:
            return SqlTransaction(conn).case_history(case_id)

    def history_since(self, since: datetime | None) -> list[HistoryEntry]:
        h = t.history.c
        stmt = select(t.history).order_by(h.at, h.id)
        if since is not None:
            stmt = stmt.where(h.at >= since)
        with self.engine.connect() as conn:
            return [_history(r) for r in conn.execute(stmt).mappings()]

    def cases_received_since(self, since: datetime | None) -> list[CaseRecord]:
        c = t.cases.c
        stmt = select(t.cases).order_by(c.received_at)
        if since is not None:
            stmt = stmt.where(c.received_at >= since)
        with self.engine.connect() as conn:
            return [_case(r) for r in conn.execute(stmt).mappings()]

    def notifications_for(self, case_id: UUID) -> list[NotificationRecord]:
        n = t.notifications.c
        stmt = select(t.notifications).where(n.case_id == str(case_id)).order_by(n.created_at)
        with self.engine.connect() as conn:
            return [_notification(r) for r in conn.execute(stmt).mappings()]

    def swarms(
        self, status: str | None, *, limit: int, before: tuple[datetime, UUID] | None = None
    ) -> list[SwarmRecord]:
        s = t.swarms.c
        stmt = select(t.swarms).order_by(s.opened_at.desc(), s.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(s.status == status)
        if before is not None:  # keyset: strictly after the last row of the previous page
            at, last = before
            stmt = stmt.where(or_(s.opened_at < at, and_(s.opened_at == at, s.id < str(last))))
        with self.engine.connect() as conn:
            return _swarms_with_children(conn, list(conn.execute(stmt).mappings()))

    def swarm_of_case(self, case_id: UUID) -> SwarmRecord | None:
        with self.engine.connect() as conn:
            return _load_swarm(conn, t.swarms.c.case_id == str(case_id))

    def get_swarm(self, swarm_id: UUID) -> SwarmRecord | None:
        with self.engine.connect() as conn:
            return _load_swarm(conn, t.swarms.c.id == str(swarm_id))

    def count_open_swarms(self) -> int:
        stmt = select(func.count()).select_from(t.swarms).where(t.swarms.c.status == "open")
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def claim_notifications(
        self, now: datetime, *, limit: int, lease: timedelta
    ) -> list[NotificationRecord]:
        n = t.notifications.c
        due = and_(
            n.status.in_([DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value]),
            n.next_attempt_at <= now,
        )
        pick = select(n.id).where(due).order_by(n.next_attempt_at).limit(limit)
        if self.engine.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        claim = (
            update(t.notifications)
            .where(n.id.in_(pick.scalar_subquery()), due)
            .values(
                status="sending",
                claim_token=str(new_id()),
                next_attempt_at=now + lease,
                attempts=n.attempts + 1,  # counted now, so a crashed send still counts
            )
            .returning(*t.notifications.c)
        )
        with self.engine.begin() as conn:
            claimed = [_notification(r) for r in conn.execute(claim).mappings()]
        return sorted(claimed, key=lambda r: (r.created_at, str(r.id)))

    def finish_notifications(self, outcomes: Sequence[DeliveryOutcome]) -> None:
        if not outcomes:
            return
        n = t.notifications.c
        # Only the claim that took the row may record its outcome: every claim increments
        # `attempts`, so when a lease expired and another worker claimed the row meanwhile,
        # `attempts` has moved on and the late outcome is dropped instead of overwriting the
        # newer one.
        stmt = (
            update(t.notifications)
            .where(n.id == bindparam("b_id"), n.attempts == bindparam("b_claimed"))
            .values(
                status=bindparam("b_status"),
                attempts=bindparam("b_attempts"),
                last_error=bindparam("b_error"),
                sent_at=bindparam("b_sent", type_=t.UTCDateTime()),
                next_attempt_at=func.coalesce(
                    bindparam("b_next", type_=t.UTCDateTime()), n.next_attempt_at
                ),
                claim_token=None,
            )
        )
        rows = [
            {
                "b_id": str(o.notification_id),
                "b_claimed": o.attempts if o.claimed is None else o.claimed,
                "b_status": o.status,
                "b_attempts": o.attempts,
                "b_error": o.last_error,
                "b_sent": o.sent_at,
                "b_next": o.next_attempt_at,
            }
            for o in outcomes
        ]
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)

    def count_failed_notifications(self) -> int:
        n = t.notifications.c
        stmt = select(func.count()).select_from(t.notifications).where(n.status == "failed")
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

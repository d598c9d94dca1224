"""The read side of the router's database: the queue, case detail, history, swarms, figures.

Each query opens its own connection (no transaction is held while the caller works).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Engine, and_, func, or_, select, text

from router.adapters import tables as t
from router.adapters.db.rows import (
    case_from,
    history_from,
    load_swarm,
    notification_from,
    swarms_with_children,
)
from router.adapters.db.unit_of_work import SqlTransaction
from router.domain.lifecycle import LifecycleStatus
from router.records import (
    CaseFilter,
    CaseRecord,
    HistoryEntry,
    NotificationRecord,
    SwarmRecord,
    SwarmStatus,
)


class SqlReadQueries:
    """`ReadQueries` over a SQLAlchemy engine."""

    engine: Engine

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def get_case(self, case_id: UUID) -> CaseRecord | None:
        with self.engine.connect() as conn:
            return SqlTransaction(conn).get_case(case_id)

    def overdue_cases(self, now: datetime, limit: int) -> list[CaseRecord]:
        c = t.cases.c
        stmt = (
            select(t.cases)
            .where(c.status == LifecycleStatus.ASSIGNED.value, c.ack_deadline <= now)
            .order_by(c.ack_deadline)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [case_from(r) for r in conn.execute(stmt).mappings()]

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
            return [case_from(r) for r in conn.execute(stmt).mappings()]

    def history(self, case_id: UUID) -> list[HistoryEntry]:
        with self.engine.connect() as conn:
            return SqlTransaction(conn).case_history(case_id)

    def history_since(self, since: datetime | None) -> list[HistoryEntry]:
        h = t.history.c
        stmt = select(t.history).order_by(h.at, h.id)
        if since is not None:
            stmt = stmt.where(h.at >= since)
        with self.engine.connect() as conn:
            return [history_from(r) for r in conn.execute(stmt).mappings()]

    def cases_received_since(self, since: datetime | None) -> list[CaseRecord]:
        c = t.cases.c
        stmt = select(t.cases).order_by(c.received_at)
        if since is not None:
            stmt = stmt.where(c.received_at >= since)
        with self.engine.connect() as conn:
            return [case_from(r) for r in conn.execute(stmt).mappings()]

    def notifications_for(self, case_id: UUID) -> list[NotificationRecord]:
        n = t.notifications.c
        stmt = select(t.notifications).where(n.case_id == str(case_id)).order_by(n.created_at)
        with self.engine.connect() as conn:
            return [notification_from(r) for r in conn.execute(stmt).mappings()]

    def swarms(
        self,
        status: SwarmStatus | None,
        *,
        limit: int,
        before: tuple[datetime, UUID] | None = None,
    ) -> list[SwarmRecord]:
        s = t.swarms.c
        stmt = select(t.swarms).order_by(s.opened_at.desc(), s.id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(s.status == status.value)
        if before is not None:  # keyset: strictly after the last row of the previous page
            at, last = before
            stmt = stmt.where(or_(s.opened_at < at, and_(s.opened_at == at, s.id < str(last))))
        with self.engine.connect() as conn:
            return swarms_with_children(conn, list(conn.execute(stmt).mappings()))

    def swarm_of_case(self, case_id: UUID) -> SwarmRecord | None:
        with self.engine.connect() as conn:
            return load_swarm(conn, t.swarms.c.case_id == str(case_id))

    def get_swarm(self, swarm_id: UUID) -> SwarmRecord | None:
        with self.engine.connect() as conn:
            return load_swarm(conn, t.swarms.c.id == str(swarm_id))

    def count_open_swarms(self) -> int:
        stmt = (
            select(func.count())
            .select_from(t.swarms)
            .where(t.swarms.c.status == SwarmStatus.OPEN.value)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

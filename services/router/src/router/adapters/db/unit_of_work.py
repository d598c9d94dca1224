"""The unit of work of the router: `SqlTransaction`, every read and write a use case makes
inside one transaction (`RouterTransaction`), over one open connection.

`SqlStore.transaction()` opens it: one SQLAlchemy Core transaction, committed when the block
ends and rolled back on an exception. Writes of many rows are one statement each
(executemany); conditional updates (`update_case`, `close_swarm`) report whether they won.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import Connection, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from contracts.cases import Recommendation
from contracts.envelope import OutboundEvent
from router.adapters import tables as t
from router.adapters.db.delivery_queue import queue_rows
from router.adapters.db.rows import case_from, case_row, history_from, history_row, load_swarm
from router.domain.policy import ModelMode
from router.records import (
    AutoAssignment,
    CaseRecord,
    HistoryEntry,
    NotificationRecord,
    SquadModeChange,
    SquadModeState,
    SwarmMember,
    SwarmNoteRecord,
    SwarmRecord,
    SwarmStatus,
)
from servicekit.audit import Audited, write_audit
from servicekit.outbox import outbox_rows


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
        return case_from(found) if found else None

    def get_cases(self, case_ids: Sequence[UUID]) -> dict[UUID, CaseRecord]:
        if not case_ids:
            return {}
        ids = [str(i) for i in case_ids]
        rows = self.conn.execute(select(t.cases).where(t.cases.c.id.in_(ids))).mappings()
        return {c.id: c for c in map(case_from, rows)}

    def insert_cases(self, cases: Sequence[CaseRecord]) -> None:
        if cases:
            self.conn.execute(insert(t.cases), [case_row(c) for c in cases])

    def update_case(self, case: CaseRecord, *, expect: CaseRecord) -> bool:
        row = case_row(case)
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
            self.conn.execute(insert(t.history), [history_row(h) for h in entries])

    def case_history(self, case_id: UUID) -> list[HistoryEntry]:
        h = t.history.c
        stmt = select(t.history).where(h.case_id == str(case_id)).order_by(h.at, h.id)
        return [history_from(r) for r in self.conn.execute(stmt).mappings()]

    def recent_messages(
        self, case_ids: Sequence[UUID], kinds: Sequence[str], since: datetime
    ) -> dict[UUID, int]:
        if not case_ids:
            return {}
        n = t.notifications.c
        messages = (
            select(n.case_id, n.kind, n.squad, n.event_key)
            .where(
                n.case_id.in_([str(c) for c in case_ids]),
                n.kind.in_(list(kinds)),
                n.created_at >= since,
            )
            .distinct()
            .subquery()
        )
        stmt = select(messages.c.case_id, func.count()).group_by(messages.c.case_id)
        return {UUID(str(case_id)): int(count) for case_id, count in self.conn.execute(stmt)}

    def queue_notifications(self, notifications: Sequence[NotificationRecord]) -> int:
        return queue_rows(self.conn, notifications)

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
        return load_swarm(self.conn, t.swarms.c.id == str(swarm_id))

    def open_swarm_for(self, case_id: UUID) -> SwarmRecord | None:
        s = t.swarms.c
        return load_swarm(
            self.conn, and_(s.case_id == str(case_id), s.status == SwarmStatus.OPEN.value)
        )

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
            .where(s.id == str(swarm.id), s.status == SwarmStatus.OPEN.value)
            .values(
                status=SwarmStatus.CLOSED.value,
                owner_squad=swarm.owner_squad,
                outcome=swarm.outcome,
                closed_at=swarm.closed_at,
            )
        )
        return result.rowcount == 1

    # --- the precision watch -------------------------------------------------------------

    def record_auto_assignments(self, rows: Sequence[AutoAssignment]) -> None:
        if rows:
            self.conn.execute(
                insert(t.auto_assignments),
                [{**r.__dict__, "case_id": str(r.case_id)} for r in rows],  # fields only
            )

    def correct_auto_assignments(
        self, moves: Sequence[tuple[UUID, str]], at: datetime
    ) -> dict[str, list[UUID]]:
        a = t.auto_assignments.c
        corrected: dict[str, list[UUID]] = {}
        for case_id, to_squad in moves:
            where = and_(a.case_id == str(case_id), a.squad != to_squad, a.corrected_at.is_(None))
            squads = [r[0] for r in self.conn.execute(select(a.squad).where(where))]
            if squads:
                self.conn.execute(
                    update(t.auto_assignments)
                    .where(where)
                    .values(corrected_at=at, corrected_to=to_squad)
                )
            for squad in squads:
                corrected.setdefault(squad, []).append(case_id)
        return corrected

    def auto_assignment_window(
        self, squad: str, *, since: datetime, limit: int
    ) -> list[AutoAssignment]:
        a = t.auto_assignments.c
        stmt = (
            select(t.auto_assignments)
            .where(a.squad == squad, a.assigned_at >= since)
            .order_by(a.assigned_at.desc(), a.case_id.desc())
            .limit(limit)
        )
        return [AutoAssignment.model_validate(dict(r)) for r in self.conn.execute(stmt).mappings()]

    def squad_modes(self) -> dict[str, SquadModeState]:
        rows = self.conn.execute(select(t.squad_modes)).mappings()
        return {r["squad"]: SquadModeState.model_validate(dict(r)) for r in rows}

    def save_squad_mode(self, state: SquadModeState, *, expect: ModelMode | None) -> bool:
        row = {**state.model_dump(), "mode": str(state.mode)}
        m = t.squad_modes.c
        if expect is not None:
            result = self.conn.execute(
                update(t.squad_modes)
                .where(m.squad == state.squad, m.mode == str(expect))
                .values(**row)
            )
            return result.rowcount == 1
        try:
            with self.conn.begin_nested():  # a racing first demotion must not fail the caller
                self.conn.execute(insert(t.squad_modes), [row])
        except IntegrityError:
            return False
        return True

    def add_mode_change(self, change: SquadModeChange) -> None:
        row = {**change.model_dump(), "from_mode": str(change.from_mode)}
        row["to_mode"] = str(change.to_mode)
        self.conn.execute(insert(t.squad_mode_changes), [row])

    def mode_changes(self, squad: str) -> list[SquadModeChange]:
        c = t.squad_mode_changes.c
        stmt = select(t.squad_mode_changes).where(c.squad == squad).order_by(c.at, c.id)
        return [
            SquadModeChange.model_validate({k: v for k, v in r.items() if k != "id"})
            for r in self.conn.execute(stmt).mappings()
        ]

    def shadow_cases(
        self, squad: str, *, since: datetime, limit: int
    ) -> list[tuple[str | None, Recommendation | None]]:
        c = t.cases.c
        stmt = (
            select(c.squad, c.recommendation)
            .where(
                c.predicted_squad == squad,
                c.model_mode == ModelMode.SHADOW.value,
                c.received_at >= since,
            )
            .order_by(c.received_at.desc(), c.id.desc())
            .limit(limit)
        )
        return [
            (r[0], None if r[1] is None else Recommendation.model_validate(r[1]))
            for r in self.conn.execute(stmt)
        ]

    def watched_squads(self) -> list[str]:
        a = t.auto_assignments.c
        return [r[0] for r in self.conn.execute(select(a.squad).distinct().order_by(a.squad))]

    def audit(self, entry: Audited, at: datetime) -> None:
        write_audit(self.conn, t.audit_log, entry, at)

"""Rows <-> records of the router's tables, shared by the unit of work, the read queries and
the delivery queue.

The writers copy a record's field values (`__dict__`: fields only, no serialiser pass and no
deep copy; the rows are read-only) and convert only what the columns need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, select
from sqlalchemy.dialects import postgresql, sqlite

from router.adapters import tables as t
from router.records import (
    CaseRecord,
    HistoryEntry,
    NotificationRecord,
    SwarmMember,
    SwarmNoteRecord,
    SwarmRecord,
)


def case_row(c: CaseRecord) -> dict[str, Any]:
    row = dict(c.__dict__)
    row["id"] = str(c.id)
    row["candidates"] = [x.model_dump(mode="json") for x in c.candidates]
    row["matched_components"] = [x.model_dump(mode="json") for x in c.matched_components]
    for key in ("priority", "source", "status", "escalation_reason", "model_mode"):
        row[key] = None if row[key] is None else str(row[key])
    rec = c.recommendation
    row["recommendation"] = None if rec is None else rec.model_dump(mode="json")
    return row


def case_from(row: RowMapping) -> CaseRecord:
    return CaseRecord.model_validate(dict(row))


def history_row(h: HistoryEntry) -> dict[str, Any]:
    row = dict(h.__dict__)
    row["case_id"] = str(h.case_id)
    row["action"] = str(h.action)
    return row


def history_from(row: RowMapping) -> HistoryEntry:
    return HistoryEntry.model_validate({k: v for k, v in row.items() if k != "id"})


def notification_row(n: NotificationRecord) -> dict[str, Any]:
    row = dict(n.__dict__)
    row["id"], row["case_id"], row["status"] = str(n.id), str(n.case_id), str(n.status)
    return row


def notification_from(row: RowMapping) -> NotificationRecord:
    return NotificationRecord.model_validate({k: v for k, v in row.items() if k != "claim_token"})


def insert_ignoring_conflicts(conn: Connection, table: Any) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING` in the connection's dialect."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"unsupported database: {dialect}")  # pragma: no cover


def load_swarm(conn: Connection, where: Any) -> SwarmRecord | None:
    s = t.swarms.c
    row = conn.execute(select(t.swarms).where(where).order_by(s.opened_at.desc())).mappings()
    found = row.first()
    if found is None:
        return None
    return swarms_with_children(conn, [found])[0]


def swarms_with_children(conn: Connection, rows: Sequence[RowMapping]) -> list[SwarmRecord]:
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

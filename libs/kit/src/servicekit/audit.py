"""The audit log of a service: who did what to what, and when; read by admins at
`GET /v1/audit` (`servicekit.audit_http`).

Each service defines its table in its own metadata (`audit_table(metadata, name)`, created
by its migrations). An operator action records its entry (`Audited`: the authenticated
principal, never a name from a body, the action, its target and detail) **in the transaction
of the action itself** (`write_audit(conn, table, entry, at)`, called by the service's unit
of work): a committed action always has its entry, and an action whose transaction fails or
whose process dies before the commit leaves none.

Actions that change no database state (re-reading catalogue or policy files into memory, an
acknowledgement sweep, whose escalations are each the router's own transaction) have no
transaction to share; they record their entry right after they succeed, in a transaction of
its own (`AuditLog.record`), and each service's docstring says which those are.

`AuditLog.page` is the read side: newest first, filtered by `actor`, `action` (exact),
`since` (inclusive) and `until` (exclusive), paged with the project's keyset cursor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
)

from servicekit.paging import as_int, decode_cursor, encode_cursor
from servicekit.utc import as_utc

SCOPE = "audit"


def audit_table(metadata: MetaData, name: str) -> Table:
    """Define a service's audit table in its own metadata."""
    return Table(
        name,
        metadata,
        Column(
            "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("actor", String(200), nullable=False),
        Column("action", String(64), nullable=False),
        Column("target", String(200), nullable=True),
        Column("detail", JSON, nullable=True),
        Index(f"ix_{name}_actor_id", "actor", "id"),
        Index(f"ix_{name}_action_id", "action", "id"),
    )


@dataclass(frozen=True, slots=True)
class Audited:
    """An entry to record: `actor` (the authenticated principal) did `action` to `target`."""

    actor: str
    action: str
    target: str | None = None
    detail: dict[str, Any] | None = None


def write_audit(conn: Connection, table: Table, entry: Audited, at: datetime) -> None:
    """Append `entry` on `conn`, inside the transaction open there (the action's own)."""
    conn.execute(
        insert(table).values(
            at=at, actor=entry.actor, action=entry.action, target=entry.target, detail=entry.detail
        )
    )


class AuditEntry(BaseModel):
    """One recorded action."""

    id: int
    at: datetime
    actor: str = Field(description="The authenticated principal that acted.")
    action: str = Field(description="What it did, e.g. `case.reassign`, `catalogue.reload`.")
    target: str | None = Field(default=None, description="What it acted on (a case id, ...).")
    detail: dict[str, Any] | None = None


class AuditPage(BaseModel):
    """A page of entries, newest first."""

    items: list[AuditEntry]
    next_cursor: str | None = None


class AuditLog:
    """Writes and reads one audit table (blocking)."""

    def __init__(
        self, engine: Engine, table: Table, *, now: Callable[[], datetime] | None = None
    ) -> None:
        self.engine = engine
        self.table = table
        self.now = now or (lambda: datetime.now(UTC))

    def record(self, entry: Audited) -> None:
        """Append one entry in a transaction of its own: only for an action that has no
        transaction to share (see the module docstring)."""
        with self.engine.begin() as conn:
            write_audit(conn, self.table, entry, self.now())

    def page(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> AuditPage:
        """Entries newest first, filtered.

        Raises:
            InvalidCursor: `cursor` is not a `next_cursor` of this listing.
        """
        t = self.table
        query = select(t).order_by(t.c.id.desc()).limit(limit + 1)
        if cursor is not None:
            (last,) = decode_cursor(cursor, SCOPE, as_int)
            query = query.where(t.c.id < last)
        if actor is not None:
            query = query.where(t.c.actor == actor)
        if action is not None:
            query = query.where(t.c.action == action)
        if since is not None:
            query = query.where(t.c.at >= since)
        if until is not None:
            query = query.where(t.c.at < until)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        items = [_entry(dict(r)) for r in rows[:limit]]
        more = len(rows) > limit
        return AuditPage(
            items=items, next_cursor=encode_cursor(SCOPE, items[-1].id) if more else None
        )


def _entry(row: dict[str, Any]) -> AuditEntry:
    row["at"] = as_utc(row["at"])  # SQLite keeps no offset; every entry is written in UTC
    return AuditEntry.model_validate(row)

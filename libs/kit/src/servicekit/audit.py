"""The audit log of a service: who did what to what, and when; read by admins at
`GET /v1/audit`.

Each service defines its table in its own metadata (`audit_table(metadata, name)`, created
by its migrations) and records an entry after each operator action succeeds (assign,
reassign, acknowledge, resolve, swarm actions, catalogue and policy reloads, sweeps, model
reloads and retrains). The actor is the authenticated principal, never a name from a body.
The entry is written after the action commits, in its own transaction: a crash between the
two loses the audit entry (the case's history still names who acted), never the action.

`audit_routes(get_log)` is the read side: newest first, filtered by `actor`, `action`
(exact), `since` (inclusive) and `until` (exclusive), paged with the project's keyset cursor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
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

from servicekit.auth import Admin, Identity
from servicekit.paging import as_int, decode_cursor, encode_cursor

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

    def record(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(self.table).values(
                    at=self.now(), actor=actor, action=action, target=target, detail=detail
                )
            )

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
    at: datetime = row["at"]
    if at.tzinfo is None:  # SQLite keeps no offset; every entry is written in UTC
        row["at"] = at.replace(tzinfo=UTC)
    return AuditEntry.model_validate(row)


def audit_routes(
    get_log: Callable[[Request], AuditLog | None], *, responses: Any = None
) -> APIRouter:
    """`GET /v1/audit` (admin) over the log `get_log(request)` gives (none: an empty page,
    for a process kept without a database, as in tests on fakes)."""
    router = APIRouter(tags=["ops"], responses=responses)

    @router.get(
        "/v1/audit",
        summary="The audit log: who did what, and when",
        description="Operator actions newest first (assignments, reassignments, catalogue "
        "and policy reloads, model reloads and retrains, sweeps), each with the authenticated "
        "principal that acted. Filter by `actor`, `action`, `since` (inclusive) and `until` "
        "(exclusive); page with `cursor` = the `next_cursor` of the previous page.",
    )
    async def list_audit(
        request: Request,
        _who: Admin,
        actor: Annotated[str | None, Query(max_length=200)] = None,
        action: Annotated[str | None, Query(max_length=64)] = None,
        since: Annotated[AwareDatetime | None, Query(description="Inclusive, ISO 8601")] = None,
        until: Annotated[AwareDatetime | None, Query(description="Exclusive, ISO 8601")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, Query(description="`next_cursor` of the last page.")] = None,
    ) -> AuditPage:
        log = get_log(request)
        if log is None:
            return AuditPage(items=[])
        return await asyncio.to_thread(
            log.page,
            actor=actor,
            action=action,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )

    return router


async def audit(
    request: Request,
    who: Identity,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record `who` doing `action` in the app's audit log (`app.state.audit`), off the loop."""
    log: AuditLog | None = request.app.state.audit
    if log is not None:
        await asyncio.to_thread(log.record, who.principal, action, target, detail)

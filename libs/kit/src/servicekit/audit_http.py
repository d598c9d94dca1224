"""The HTTP side of the audit log (`servicekit.audit`): `GET /v1/audit` for admins, and
`audit(request, ...)` for the few actions that record their entry after the fact.

`audit_routes(get_log)` serves the log `get_log(request)` gives: newest first, filtered by
`actor`, `action` (exact), `since` (inclusive) and `until` (exclusive), paged with the
project's keyset cursor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime

from servicekit.audit import Audited, AuditLog, AuditPage
from servicekit.auth import Admin, Identity


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


async def audit_after(
    request: Request,
    who: Identity,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record `who` doing `action` in the app's audit log (`app.state.audit`), off the loop,
    in a transaction of its own: only for actions with no transaction to share (an action
    that writes the database records its entry in its own transaction)."""
    log: AuditLog | None = request.app.state.audit
    if log is not None:
        entry = Audited(who.principal, action, target, detail)
        await asyncio.to_thread(log.record, entry)

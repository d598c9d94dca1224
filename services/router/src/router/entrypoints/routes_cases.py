"""Routes of the queue and of one case."""

from __future__ import annotations

import asyncio
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query

from contracts.cases import Priority
from contracts.events import EscalationReason
from router.domain.lifecycle import LifecycleStatus
from router.entrypoints.bodies import AcknowledgeBody, AssignmentBody, ResolveBody
from router.entrypoints.deps import ContainerDep, run_desk_action
from router.records import CaseDetail, CaseFilter, CasePage, CaseRecord
from router.service import desk, queries
from servicekit.auth import Triager
from servicekit.http import PROBLEM_RESPONSES

router = APIRouter(prefix="/v1/cases", responses=PROBLEM_RESPONSES)
MAX_AGE_MINUTES = 10 * 366 * 24 * 60
CaseId = Annotated[UUID, Path(description="The case id (UUID).")]


@router.get(
    "",
    tags=["queue"],
    summary="The queue: cases, least confident then oldest first",
    description=(
        "Filter by status (repeatable), squad, escalation reason, priority and age. Sorted by "
        "the prediction's confidence (lowest first), then by receipt (oldest first), so the "
        "cases that most need a person come first. Page with `cursor` = the `next_cursor` of "
        "the previous page. Example: `?status=escalated&reason=low_confidence`."
    ),
)
async def list_cases(
    c: ContainerDep,
    _who: Triager,
    status: Annotated[
        list[LifecycleStatus] | None, Query(description="Only these statuses.")
    ] = None,
    squad: Annotated[str | None, Query(description="Only cases of this squad.")] = None,
    reason: Annotated[EscalationReason | None, Query(description="Escalation reason.")] = None,
    priority: Annotated[Priority | None, Query(description="Only this priority.")] = None,
    older_than_minutes: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_AGE_MINUTES,
            description="Only cases received at least this long ago (at most ten years).",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the last page.")] = None,
) -> CasePage:
    filters = CaseFilter(status=status or [], squad=squad, reason=reason, priority=priority)
    return await asyncio.to_thread(
        queries.list_cases,
        filters,
        older_than_minutes=older_than_minutes,
        limit=limit,
        cursor=cursor,
        store=c.store,
        clock=c.clock,
    )


@router.get(
    "/{case_id}",
    tags=["cases"],
    summary="One case: text, prediction, routing history, notifications, swarm",
    description="Everything the router knows about a case, with each notification's delivery "
    "status (`queued`, `sending`, `sent`, `failed` with the last error).",
)
async def get_case(c: ContainerDep, _who: Triager, case_id: CaseId) -> CaseDetail:
    return await asyncio.to_thread(queries.case_detail, case_id, store=c.store)


@router.post(
    "/{case_id}/assignment",
    tags=["cases"],
    summary="Assign or reassign a case to a squad",
    description=(
        "Assign a case by hand (from the queue, an escalation or a swarm) or move it to "
        "another squad. Moving it away from a squad is a correction: the router publishes "
        "`support.case.reassigned.v1` (a training label for triage) and never auto-routes it "
        "back to that squad. An unknown squad is 422 naming `body.squad`; assigning a "
        "resolved case, or to the squad that already has it, is 409 `invalid_transition`."
    ),
)
async def assign(
    c: ContainerDep, who: Triager, case_id: CaseId, body: AssignmentBody
) -> CaseRecord:
    done = await run_desk_action(
        c,
        desk.assign_case,
        case_id,
        squad=body.squad,
        by=who.principal,
        note=body.note,
        store=c.store,
        catalogue=c.catalogue.current,
        policy=c.policy.current,
        clock=c.clock,
        pub=c.pub,
    )
    return done.case


@router.post(
    "/{case_id}/acknowledge",
    tags=["cases"],
    summary="The assigned squad acknowledges the case",
    description="Stops the acknowledgement clock. Only the assigned squad can acknowledge, and "
    "only while the case is `assigned` (else 409 `invalid_transition`).",
)
async def acknowledge(
    c: ContainerDep, who: Triager, case_id: CaseId, body: AcknowledgeBody
) -> CaseRecord:
    return await run_desk_action(
        c,
        desk.acknowledge_case,
        case_id,
        squad=body.squad,
        by=who.principal,
        store=c.store,
        clock=c.clock,
        pub=c.pub,
    )


@router.post(
    "/{case_id}/resolve",
    tags=["cases"],
    summary="Resolve a case",
    description="Marks the case resolved (closing an open swarm on it). A case that is only "
    "triaged, or already resolved, cannot be resolved (409 `invalid_transition`).",
)
async def resolve(c: ContainerDep, who: Triager, case_id: CaseId, body: ResolveBody) -> CaseRecord:
    return await run_desk_action(
        c,
        desk.resolve_case,
        case_id,
        by=who.principal,
        resolution=body.resolution,
        store=c.store,
        catalogue=c.catalogue.current,
        clock=c.clock,
        pub=c.pub,
    )

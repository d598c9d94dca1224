"""Routes of swarms."""

from __future__ import annotations

import asyncio
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query

from router.entrypoints.bodies import CloseBody, MemberBody, NoteBody
from router.entrypoints.deps import ContainerDep, run_desk_action
from router.records import SwarmPage, SwarmRecord, SwarmStatus
from router.service import desk, queries
from servicekit.auth import Triager
from servicekit.http import PROBLEM_RESPONSES

router = APIRouter(prefix="/v1/swarms", tags=["swarms"], responses=PROBLEM_RESPONSES)
SwarmId = Annotated[UUID, Path(description="The swarm id (UUID).")]


@router.get(
    "",
    summary="List swarms, newest first",
    description="Swarms Service Delivery runs on escalated cases, newest first. Page with "
    "`cursor` = the `next_cursor` of the previous page (null on the last page); a cursor this "
    "endpoint did not give out is 422 `invalid_cursor`. Example: `?status=open`.",
)
async def list_swarms(
    c: ContainerDep,
    _who: Triager,
    status: Annotated[SwarmStatus | None, Query(description="`open` or `closed`.")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the last page.")] = None,
) -> SwarmPage:
    return await asyncio.to_thread(
        queries.list_swarms,
        status,
        limit=limit,
        cursor=cursor,
        store=c.store,
    )


@router.get("/{swarm_id}", summary="One swarm", description="Members, notes and outcome.")
async def get_swarm(c: ContainerDep, _who: Triager, swarm_id: SwarmId) -> SwarmRecord:
    return await asyncio.to_thread(queries.get_swarm, swarm_id, store=c.store)


@router.post(
    "/{swarm_id}/members",
    summary="Invite a squad into the swarm",
    description="The squad is notified like the first members. An unknown squad is 422; a "
    "closed swarm is 409 `swarm_closed`.",
)
async def add_member(
    c: ContainerDep, who: Triager, swarm_id: SwarmId, body: MemberBody
) -> SwarmRecord:
    return await run_desk_action(
        c,
        desk.add_swarm_member,
        swarm_id,
        squad=body.squad,
        by=who.principal,
        store=c.store,
        catalogue=c.catalogue.current,
        clock=c.clock,
        pub=c.pub,
    )


@router.post(
    "/{swarm_id}/notes",
    summary="Leave a note in the swarm",
    description="Notes record what each squad found. A closed swarm is 409 `swarm_closed`.",
)
async def add_note(c: ContainerDep, who: Triager, swarm_id: SwarmId, body: NoteBody) -> SwarmRecord:
    return await asyncio.to_thread(
        desk.add_swarm_note,
        swarm_id,
        author=who.principal,
        text=body.text,
        store=c.store,
        clock=c.clock,
    )


@router.post(
    "/{swarm_id}/close",
    summary="Close the swarm: the owner squad takes the case",
    description="Assigns the case to `owner_squad` (notified, with an acknowledgement "
    "deadline) and publishes `support.swarm.closed.v1` and `support.case.assigned.v1`.",
)
async def close(c: ContainerDep, who: Triager, swarm_id: SwarmId, body: CloseBody) -> SwarmRecord:
    return await run_desk_action(
        c,
        desk.close_swarm,
        swarm_id,
        owner_squad=body.owner_squad,
        outcome=body.outcome,
        by=who.principal,
        store=c.store,
        catalogue=c.catalogue.current,
        policy=c.policy.current,
        clock=c.clock,
        pub=c.pub,
    )

"""Routes of the squads: realised precision of automatic assignments, and each squad's mode."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path

from router.domain.policy import ModelMode
from router.entrypoints.bodies import SquadModeBody
from router.entrypoints.deps import ContainerDep, run_desk_action
from router.service import squads
from router.service.squads import SquadModeHistory, SquadPrecisionList
from servicekit.auth import Admin, Triager
from servicekit.http import PROBLEM_RESPONSES

router = APIRouter(prefix="/v1/squads", responses=PROBLEM_RESPONSES)
Squad = Annotated[str, Path(description="The squad's name in the catalogue.", max_length=200)]


@router.get(
    "/precision",
    tags=["squads"],
    summary="Realised precision of automatic assignments, and the mode, per squad",
    description=(
        "Per squad: the watch window (latest automatic assignments of the last days, after "
        "the last restore), automatic assignments in it, how many a person corrected (moved "
        "to another squad), the realised precision (share not corrected), the target and "
        "the level below which the squad is demoted, the mode in force (`auto`, `suggest`, "
        "`shadow`, `off`) and why."
    ),
)
async def list_precision(c: ContainerDep, _who: Triager) -> SquadPrecisionList:
    return await asyncio.to_thread(
        squads.squad_precision,
        store=c.store,
        catalogue=c.catalogue.current,
        policy=c.policy.current,
        clock=c.clock,
    )


@router.get(
    "/{squad}/precision",
    tags=["squads"],
    summary="One squad's realised precision and the history of its mode",
    description="The squad's figures, and every change of its mode (demotions by the "
    "precision watch, changes by people), oldest first. Not a squad: 422 `unknown_squad`.",
)
async def squad_precision(c: ContainerDep, _who: Triager, squad: Squad) -> SquadModeHistory:
    return await asyncio.to_thread(
        squads.squad_mode_history,
        squad,
        store=c.store,
        catalogue=c.catalogue.current,
        policy=c.policy.current,
        clock=c.clock,
    )


@router.post(
    "/{squad}/mode",
    tags=["squads"],
    summary="Restore a squad to automatic assignment (or set it to suggestions only)",
    description=(
        "`auto` restores automatic assignment after a demotion: the watch window starts "
        "afresh. `suggest` sends the squad's confident cases to Service Delivery with the "
        "suggestion attached. Recorded in the squad's mode history. The routing policy's "
        "mode wins: a squad the policy sets to `suggest`, `shadow` or `off` stays so."
    ),
)
async def set_mode(
    c: ContainerDep, who: Admin, squad: Squad, body: SquadModeBody
) -> SquadModeHistory:
    return await run_desk_action(
        c,
        squads.set_squad_mode,
        squad,
        mode=ModelMode(body.mode),
        by=who.principal,
        note=body.note,
        store=c.store,
        catalogue=c.catalogue.current,
        policy=c.policy.current,
        clock=c.clock,
    )

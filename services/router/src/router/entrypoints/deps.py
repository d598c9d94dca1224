"""FastAPI dependencies of the router API (the only place `Depends` appears) and the one
helper every desk route uses. The route modules import from here, never from `http`, so
`http` can import them without a cycle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request

from router.app import Container


async def get_container(request: Request) -> Container:
    """The container of the running app.

    `async` because it does no blocking work: FastAPI runs a sync dependency in its thread
    pool, a thread hop per request for an attribute lookup (as in triage).
    """
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]

_P = ParamSpec("_P")
_T = TypeVar("_T")


async def run_desk_action(
    c: Container, action: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """Run a blocking `router.service.desk` action in a worker thread, then wake the loops.

    Every desk action commits outbox rows or notifications, so the relay and the delivery
    worker are woken to send them now rather than at their next poll.

    Args:
        c: The container of the running app.
        action: The desk function.
        *args: Its positional arguments.
        **kwargs: Its keyword arguments (collaborators included).

    Returns:
        What the action returns.
    """
    result = await asyncio.to_thread(action, *args, **kwargs)
    c.wake()
    return result

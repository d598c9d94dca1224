"""The router API (FastAPI): the manual triage desk Service Delivery uses in Swagger UI.

`create_app(container)` only translates: HTTP -> service call (in a worker thread, the
database is blocking) -> JSON. Every error is RFC 9457 problem+json with a stable `code`:
service and domain errors reach one handler (`servicekit.http`), which takes each code's
status and title from the registry in `contracts.problems` (409 `invalid_transition`, 422
naming the field).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, ParamSpec, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi_offline import FastAPIOffline

from router.bootstrap import Container, background
from router.domain.errors import DomainError
from router.service.errors import RouterError
from servicekit.http import BodySizeLimit, install_problem_handlers, instrument

TAGS = [
    {"name": "queue", "description": "The cases waiting for people, least confident first."},
    {"name": "cases", "description": "One case: detail, assignment, acknowledgement, resolution."},
    {"name": "swarms", "description": "Service Delivery's swarms on escalated cases."},
    {"name": "catalogue", "description": "The service catalogue the router routes with."},
    {"name": "policy", "description": "The routing policy: thresholds, deadlines, incidents."},
    {"name": "ops", "description": "Health, figures and operator actions."},
]


def get_container(request: Request) -> Container:
    """The container of the running app."""
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


def create_app(container: Container, *, run_background: bool = True) -> FastAPI:
    """The API over `container`; `run_background` starts the loops in the lifespan."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_background:
            async with background(container):
                yield
        else:
            yield

    app = FastAPIOffline(
        title="support-triage router",
        version=importlib.metadata.version("support-triage-router"),
        description=(
            "Assigns triaged support cases to squads, notifies them, escalates to Service "
            "Delivery and runs swarms. Triage leads correct routing here: a reassignment is "
            "a training label for triage. Errors are RFC 9457 problem+json."
        ),
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    app.state.container = container
    install_problem_handlers(app, errors=(RouterError, DomainError))
    app.add_middleware(BodySizeLimit, max_bytes=container.settings.max_body_bytes)
    instrument(app)

    from router.entrypoints import routes_admin, routes_cases, routes_swarms

    app.include_router(routes_cases.router)
    app.include_router(routes_swarms.router)
    app.include_router(routes_admin.router)
    return app


def health_body(container: Container) -> dict[str, Any]:
    """What `/readyz` reports."""
    return {"database": "ok", "broker": "ok" if container.ready else "unavailable"}

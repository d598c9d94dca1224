"""FastAPI dependencies (the only place `Depends` appears) and paging links.

Errors need no translation here: every `TriageError` reaches one handler
(`servicekit.http.install_problem_handlers`), which answers it from the problem registry.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from servicekit.auth import Identity, current_identity
from servicekit.ratelimit import RateLimit
from triage.app import Container


async def get_container(request: Request) -> Container:
    """The container the app was created with.

    `async` because it does no blocking work: FastAPI runs a sync dependency in its thread
    pool, a thread hop per request for a dictionary lookup.
    """
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def intake_limit(
    request: Request, _who: Annotated[Identity, Depends(current_identity)]
) -> None:
    """Count the request against its caller's intake limit (429 when over it).

    It depends on the identity so that the limit counts per authenticated principal (shared
    by every address it calls from), not per address (shared by everyone behind one proxy).
    """
    limit: RateLimit | None = getattr(request.app.state, "intake_limit", None)
    if limit is not None:
        await limit.check_request(request)


IntakeLimited = Depends(intake_limit)


def link_next(request: Request, response: Response, cursor: str | None) -> None:
    """Set `Link: <this URL with cursor>; rel="next"`; nothing without a cursor (last page)."""
    if cursor:
        url = request.url.include_query_params(cursor=cursor)
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'

"""FastAPI dependencies (the only place `Depends` appears), error translation, paging links."""

from __future__ import annotations

from typing import Annotated, NoReturn

from fastapi import Depends, Request, Response

from contracts.problems import FieldError
from servicekit.http import ProblemError
from triage.bootstrap import Container
from triage.errors import (
    CaseNotFound,
    CatalogueInvalid,
    IdempotencyConflict,
    InvalidCursor,
    ModelRefused,
    RetrainJobNotFound,
    RetrainRunning,
    TriageError,
)


async def get_container(request: Request) -> Container:
    """The container the app was created with.

    `async` because it does no blocking work: FastAPI runs a sync dependency in its thread
    pool, a thread hop per request for a dictionary lookup.
    """
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def link_next(request: Request, response: Response, cursor: str | None) -> None:
    """Set `Link: <this URL with cursor>; rel="next"`; nothing without a cursor (last page)."""
    if cursor:
        url = request.url.include_query_params(cursor=cursor)
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'


def raise_problem(exc: TriageError) -> NoReturn:
    """Translate a service error into a problem response."""
    match exc:
        case CaseNotFound():
            raise ProblemError(404, exc.code, "Case not found", exc.message) from exc
        case IdempotencyConflict():
            raise ProblemError(
                409, exc.code, "Idempotency key reused with a different body", exc.message
            ) from exc
        case ModelRefused():
            raise ProblemError(
                409,
                exc.code,
                "Model refused; the previous model stays",
                f"{exc.reason}: {exc.message}",
            ) from exc
        case CatalogueInvalid():
            raise ProblemError(
                422,
                exc.code,
                "Catalogue is invalid; the previous catalogue stays",
                f"{len(exc.issues)} problem(s) in {exc.message}",
                errors=[
                    FieldError(loc=w, message=m, type="catalogue_issue") for w, m in exc.issues
                ],
            ) from exc
        case InvalidCursor():
            raise ProblemError(400, exc.code, "Invalid cursor", exc.message) from exc
        case RetrainRunning():
            raise ProblemError(
                409,
                exc.code,
                "A retrain is already running",
                exc.message,
                headers={"Location": f"/v1/model/retrain/{exc.job_id}"},
            ) from exc
        case RetrainJobNotFound():
            raise ProblemError(404, exc.code, "Retrain job not found", exc.message) from exc
    raise ProblemError(500, exc.code, "Triage error", exc.message) from exc

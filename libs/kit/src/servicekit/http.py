"""HTTP edge shared by the services: RFC 9457 problem responses, body-size limit, metrics.

Every error leaves as `application/problem+json` with a stable `code`; its status, title and
`type` come from the one registry, `contracts.problems.PROBLEMS`:

    a service error (a class given to `install_problem_handlers`)  -> its `code`
    ProblemError(code)                  raised by routes for errors of the HTTP edge itself
    InvalidCursor (servicekit.paging)   -> 422 invalid_cursor naming `query.cursor`
    AuthError (servicekit.auth)         -> 401 with WWW-Authenticate, or 403
    CatalogueError                      -> 422 invalid_catalogue, one field error per issue
    RequestValidationError              -> 422 validation_error (or 400 invalid_json), `errors`
    HTTPException                       -> its status, the code registered for that status
    body over the limit                 -> 413 body_too_large
    the database unreachable            -> 503 database_unavailable, `Retry-After`
      (`servicekit.db.is_unavailable`: connection refused or lost, pool timeout, ...)
    the group commit queue full         -> 503 overloaded, `Retry-After` (`servicekit.db`)
    anything else                       -> 500 internal_error (logged with its traceback)

A service error is any exception with a registered `code` class attribute and a `message`;
it may add `field_errors()` (the `errors` list) and `headers`. Each service passes the base
classes of its error trees, so one handler answers all of them the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_fastapi_instrumentator import Instrumentator
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.catalogue import CatalogueError
from contracts.problems import (
    PROBLEM_MEDIA_TYPE,
    FieldError,
    Problem,
    http_status_code,
    problem_kind,
)
from servicekit.auth.identity import AuthError
from servicekit.db import RETRY_AFTER_UNAVAILABLE, Overloaded, is_unavailable
from servicekit.paging import InvalidCursor

log = logging.getLogger(__name__)


class ProblemError(Exception):
    """An error of the HTTP edge itself that a route answers with a problem body."""

    def __init__(
        self,
        code: str,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or code)
        self.code = code
        self.message = detail
        self.errors = errors
        self.headers = headers

    def field_errors(self) -> list[FieldError] | None:
        """The invalid fields, if any."""
        return self.errors


def problem_body(
    code: str,
    *,
    detail: str | None = None,
    instance: str | None = None,
    errors: list[FieldError] | None = None,
) -> Problem:
    """The problem body of a registered `code` (status, title and type from the registry)."""
    kind = problem_kind(code)
    return Problem(
        type=kind.type,
        title=kind.title,
        status=kind.status,
        detail=detail,
        instance=instance,
        code=kind.code,
        errors=errors,
    )


def problem_response(
    request: Request,
    code: str,
    *,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response for a registered `code`."""
    body = problem_body(code, detail=detail, instance=request.url.path, errors=errors)
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=body.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _loc(loc: Any) -> str:
    return ".".join(str(p) for p in loc)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(
            request,
            "invalid_json",
            detail="; ".join(str(e.get("ctx", {}).get("error", e["msg"])) for e in errors),
        )
    fields = [FieldError(loc=_loc(e["loc"]), message=e["msg"], type=e["type"]) for e in errors]
    return problem_response(
        request,
        "validation_error",
        detail=f"{len(fields)} field(s) invalid: " + ", ".join(f.loc for f in fields),
        errors=fields,
    )


async def _coded(request: Request, exc: Exception) -> JSONResponse:
    """A service error or a `ProblemError`: its registered code, message, fields, headers."""
    code = getattr(exc, "code", None)
    if not isinstance(code, str):  # pragma: no cover - every error class given has a code
        return await _unhandled(request, exc)
    field_errors = getattr(exc, "field_errors", None)
    return problem_response(
        request,
        code,
        detail=getattr(exc, "message", None),
        errors=field_errors() if callable(field_errors) else None,
        headers=getattr(exc, "headers", None),
    )


def catalogue_field_errors(exc: CatalogueError) -> list[FieldError]:
    """One field error per catalogue issue: `loc` is `file: entity: field`."""
    return [
        FieldError(loc=f"{i.file}: {i.entity}: {i.field}", message=i.message, type="invalid")
        for i in exc.issues
    ]


async def _catalogue(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CatalogueError)
    return problem_response(
        request,
        "invalid_catalogue",
        detail=f"{len(exc.issues)} problem(s); the catalogue in force is unchanged",
        errors=catalogue_field_errors(exc),
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    return problem_response(
        request,
        http_status_code(exc.status_code),
        detail=exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None,
        headers=getattr(exc, "headers", None),
    )


async def _database(request: Request, exc: Exception) -> JSONResponse:
    """A database error: 503 with `Retry-After` when the database is unavailable, else 500."""
    if not is_unavailable(exc):
        return await _unhandled(request, exc)
    # The driver's message may quote SQL with customer text: log and answer the type only.
    log.warning(
        "database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__
    )
    return problem_response(
        request,
        "database_unavailable",
        detail=f"the database cannot be reached right now ({type(exc).__name__})",
        headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)},
    )


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    if is_unavailable(exc):  # a database error wrapped in another one
        return await _database(request, exc)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, "internal_error")


def install_problem_handlers(app: FastAPI, errors: Sequence[type[Exception]] = ()) -> None:
    """Answer every error with an RFC 9457 problem body.

    Args:
        app: The application.
        errors: Base classes of the service's own errors (each with a registered `code`).
    """
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ProblemError, _coded)
    app.add_exception_handler(InvalidCursor, _coded)
    app.add_exception_handler(AuthError, _coded)
    app.add_exception_handler(Overloaded, _coded)
    app.add_exception_handler(SQLAlchemyError, _database)
    app.add_exception_handler(CatalogueError, _catalogue)
    for base in errors:
        app.add_exception_handler(base, _coded)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unhandled)


class BodySizeLimit:
    """ASGI middleware refusing request bodies over `max_bytes` with a 413 problem."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        # Read the whole body first (bodies here are small): a streamed body over the limit
        # is refused before the application sees any of it.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._refuse(scope, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        problem = problem_body(
            "body_too_large",
            detail=f"the limit is {self.max_bytes} bytes",
            instance=scope.get("path"),
        )
        body = problem.model_dump_json(exclude_none=True).encode()
        await send(
            {
                "type": "http.response.start",
                "status": problem.status,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def instrument(app: FastAPI, *, dependencies: Sequence[Any] = ()) -> None:
    """Expose `/metrics` (Prometheus) with request counts and latencies; `dependencies`
    (e.g. `[require(Role.ADMIN)]` under METRICS_REQUIRE_AUTH) guard it."""
    Instrumentator(excluded_handlers=["/metrics", "/healthz", "/readyz"]).instrument(app).expose(
        app, include_in_schema=False, dependencies=list(dependencies)
    )


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}, "description": desc}
    for status, desc in {
        400: "Malformed request (invalid JSON)",
        404: "Not found",
        409: "Conflict",
        413: "Body too large",
        422: "Validation error, naming each invalid field",
        503: "Database unavailable or too many requests waiting; retry after `Retry-After`",
    }.items()
}

RATE_LIMITED_RESPONSES: dict[int | str, dict[str, Any]] = {
    429: {
        "model": Problem,
        "content": {PROBLEM_MEDIA_TYPE: {}},
        "description": "Too many requests from this client; retry after `Retry-After` seconds",
        "headers": {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
        },
    }
}

__all__ = [
    "PROBLEM_RESPONSES",
    "RATE_LIMITED_RESPONSES",
    "BodySizeLimit",
    "ProblemError",
    "catalogue_field_errors",
    "install_problem_handlers",
    "instrument",
    "problem_body",
    "problem_response",
]

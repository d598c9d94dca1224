"""HTTP edge shared by the services: RFC 9457 problem responses, body-size limit, metrics.

Every error leaves as `application/problem+json` with a stable `code`:

    ProblemError (status, code)          raised by routes for domain errors
    RequestValidationError  -> 422 validation_error (or 400 invalid_json), with `errors`
    HTTPException           -> its status, code derived from the status
    body over the limit     -> 413 body_too_large
    anything else           -> 500 internal_error (logged with its traceback)
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_fastapi_instrumentator import Instrumentator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.problems import PROBLEM_MEDIA_TYPE, FieldError, Problem, problem_type

log = logging.getLogger(__name__)


class ProblemError(Exception):
    """An error a route answers with a problem body."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    body = Problem(
        type=problem_type(code),
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        code=code,
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
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
            status=400,
            code="invalid_json",
            title="Request body is not valid JSON",
            detail="; ".join(str(e.get("ctx", {}).get("error", e["msg"])) for e in errors),
        )
    fields = [FieldError(loc=_loc(e["loc"]), message=e["msg"], type=e["type"]) for e in errors]
    return problem_response(
        request,
        status=422,
        code="validation_error",
        title="Request is invalid",
        detail=f"{len(fields)} field(s) invalid: " + ", ".join(f.loc for f in fields),
        errors=fields,
    )


async def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    return problem_response(
        request,
        status=exc.status_code,
        code=phrase.lower().replace(" ", "_").replace("-", "_"),
        title=phrase,
        detail=exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None,
        headers=getattr(exc, "headers", None),
    )


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        request, status=500, code="internal_error", title="Internal Server Error"
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error with an RFC 9457 problem body."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ProblemError, _problem)
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
        body = (
            Problem(
                type=problem_type("body_too_large"),
                title="Request body too large",
                status=413,
                detail=f"the limit is {self.max_bytes} bytes",
                instance=scope.get("path"),
                code="body_too_large",
            )
            .model_dump_json(exclude_none=True)
            .encode()
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def instrument(app: FastAPI) -> None:
    """Expose `/metrics` (Prometheus) with request counts and latencies."""
    Instrumentator(excluded_handlers=["/metrics", "/healthz", "/readyz"]).instrument(app).expose(
        app, include_in_schema=False
    )


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}, "description": desc}
    for status, desc in {
        400: "Malformed request (invalid JSON)",
        404: "Not found",
        409: "Conflict",
        413: "Body too large",
        422: "Validation error, naming each invalid field",
    }.items()
}

__all__ = [
    "PROBLEM_RESPONSES",
    "BodySizeLimit",
    "ProblemError",
    "install_problem_handlers",
    "instrument",
    "problem_response",
]

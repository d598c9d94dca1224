"""Liveness and readiness, the same in every service: `/healthz` and `/readyz`.

`/healthz` answers 200 while the process serves HTTP. `/readyz` answers 200 when the
database answers `SELECT 1` within a second and, when the service runs a Kafka side,
everything of it runs (`KafkaRuntime.check`: the broker answers its metadata request within
a second, the outbox relay publishes, the consumer is in its group); otherwise 503. Both
bodies have one shape, a status report rather than an error:

    {"status": "ok" | "unavailable", "checks": {"database": "ok", "broker": "ok", ...},
     "warnings": [...]}

`warnings` names what a person should look at without making the service unready (the
router's catalogue gaps: no Service Delivery group, squads with no channel).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from servicekit.auth.edge import PUBLIC
from servicekit.runtime import KafkaRuntime

READY_TIMEOUT = 1.0


class Health(BaseModel):
    """What `/healthz` and `/readyz` answer."""

    status: Literal["ok", "unavailable"] = "ok"
    checks: dict[str, str] = Field(
        default_factory=dict, description="Each part checked: `ok`, or why it is not."
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="What someone should look at; it does not make the service unready.",
    )


async def readiness(
    ping: Callable[[], None], runtime: KafkaRuntime | None, warnings: Sequence[str] = ()
) -> Health:
    """Check the database (`ping` raises when it does not answer) and the Kafka side;
    `warnings` are passed through."""
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(asyncio.to_thread(ping), timeout=READY_TIMEOUT)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable ({type(exc).__name__})"
    if runtime is not None:
        checks |= await runtime.check(READY_TIMEOUT)
    ok = all(v == "ok" for v in checks.values())
    return Health(status="ok" if ok else "unavailable", checks=checks, warnings=list(warnings))


def health_routes(ready: Callable[[], Awaitable[Health]]) -> APIRouter:
    """`/healthz` and `/readyz` (tag `ops`); `ready()` checks, usually with `readiness`."""
    router = APIRouter(tags=["ops"])

    @router.get(
        "/healthz",
        response_model=Health,
        summary="Liveness",
        description="200 while the process serves HTTP.",
        openapi_extra=PUBLIC,
    )
    async def healthz() -> Health:
        return Health()

    @router.get(
        "/readyz",
        response_model=Health,
        summary="Readiness: database and Kafka side",
        description=(
            "200 when the database answers and, when this process runs the Kafka side, the "
            "broker answers, the outbox relay publishes and the consumer is in its group; "
            "else 503 with the same body naming what is not ready."
        ),
        responses={503: {"model": Health, "description": "Not ready"}},
        openapi_extra=PUBLIC,
    )
    async def readyz() -> JSONResponse:
        body = await ready()
        return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)

    return router

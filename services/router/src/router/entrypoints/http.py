"""The router API (FastAPI): the manual triage desk Service Delivery uses in Swagger UI.

`create_app(container)` assembles the app from the route modules (`routes_cases`,
`routes_swarms`, `routes_squads`, `routes_admin`), which take what they need from `deps`
(never from here, so there is no import cycle). Routes only translate: HTTP -> service call
(in a worker thread, the database is blocking) -> JSON. Every error is RFC 9457 problem+json
with a stable `code`: service and domain errors reach one handler (`servicekit.http`), which
takes each code's status and title from the registry in `contracts.problems` (409
`invalid_transition`, 422 naming the field)."""

from __future__ import annotations

import contextlib
import importlib.metadata
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from router.adapters.tables import audit_log
from router.app import Container, background
from router.domain.errors import DomainError
from router.entrypoints import routes_admin, routes_cases, routes_squads, routes_swarms
from router.service.errors import RouterError
from servicekit.audit import AuditLog
from servicekit.audit_http import audit_routes
from servicekit.auth import (
    SWAGGER_UI_PARAMETERS,
    Role,
    build_authenticator,
    install_auth,
    require,
)
from servicekit.health import health_routes, readiness
from servicekit.http import PROBLEM_RESPONSES, BodySizeLimit, install_problem_handlers, instrument
from servicekit.hygiene import hygiene_routes, watch_catalogue

TAGS = [
    {"name": "queue", "description": "The cases waiting for people, least confident first."},
    {"name": "cases", "description": "One case: detail, assignment, acknowledgement, resolution."},
    {"name": "swarms", "description": "Service Delivery's swarms on escalated cases."},
    {
        "name": "squads",
        "description": "Realised precision of automatic assignments and each squad's mode.",
    },
    {"name": "catalogue", "description": "The service catalogue the router routes with."},
    {"name": "policy", "description": "The routing policy: thresholds, deadlines, incidents."},
    {"name": "ops", "description": "Health, figures and operator actions."},
]


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
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
    )
    app.state.container = container
    install_problem_handlers(app, errors=(RouterError, DomainError))
    install_auth(app, build_authenticator(container.settings))
    app.state.audit = AuditLog(container.engine, audit_log)
    app.add_middleware(BodySizeLimit, max_bytes=container.settings.max_body_bytes)
    instrument(
        app,
        dependencies=[require(Role.ADMIN)] if container.settings.metrics_require_auth else [],
    )

    app.include_router(routes_cases.router)
    app.include_router(routes_swarms.router)
    app.include_router(routes_squads.router)
    app.include_router(routes_admin.router)
    app.include_router(hygiene_routes(lambda: container.catalogue.current))
    watch_catalogue(lambda: container.catalogue.current)
    app.include_router(audit_routes(lambda r: r.app.state.audit, responses=PROBLEM_RESPONSES))
    app.include_router(
        health_routes(
            lambda: readiness(
                container.store.ping,
                container.runtime,
                container.catalogue.current.routing_warnings(),  # ready, but someone should look
            )
        )
    )
    return app

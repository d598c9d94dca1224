"""The triage HTTP API: `create_app(container)`; routes only translate.

Tags: `cases` (see `http_cases`), `model`, `catalogue`, `ops`. Errors are RFC 9457 problems
(servicekit). The lifespan starts and stops the container's Kafka side.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.audit_http import audit_after, audit_routes
from servicekit.auth import (
    SWAGGER_UI_PARAMETERS,
    Admin,
    Reporter,
    Role,
    Triager,
    build_authenticator,
    install_auth,
    require,
)
from servicekit.health import health_routes, readiness
from servicekit.http import (
    PROBLEM_RESPONSES,
    BodySizeLimit,
    install_problem_handlers,
    instrument,
)
from servicekit.hygiene import hygiene_routes, watch_catalogue
from servicekit.ratelimit import RateLimit
from triage.app import Container
from triage.entrypoints import http_cases, http_models, http_training
from triage.entrypoints.deps import ContainerDep
from triage.entrypoints.schemas import (
    CatalogueInfo,
    ComponentView,
    ModelInfo,
    SquadView,
)
from triage.errors import TriageError
from triage.ports import ModelState

PREDICT_BODY_FACTOR = 16

model_router = APIRouter(tags=["model"])
catalogue_router = APIRouter(tags=["catalogue"])


def _model_info(container: Container, state: ModelState) -> ModelInfo:
    clf = state.classifier
    return ModelInfo(
        version=clf.version,
        trained_at=clf.trained_at,
        squads=list(clf.squads),
        metrics=dict(clf.metrics),
        threshold=container.options.threshold,
        target_precision=container.settings.target_precision,
        operating_point=getattr(clf, "operating_point", None),
        margin=container.options.margin,
        loaded_at=state.loaded_at,
    )


@model_router.get(
    "/v1/model",
    response_model=ModelInfo,
    summary="The model in use",
    description=(
        "Version, training time, squads, out-of-fold evaluation metrics, the target precision "
        "and the thresholds in force: per squad and overall, with the precision and coverage "
        "they are expected to reach (`operating_point`), or one explicit `threshold`."
    ),
    responses=PROBLEM_RESPONSES,
)
async def get_model(container: ContainerDep, _who: Triager) -> ModelInfo:
    """Translate GET /v1/model."""
    return _model_info(container, container.state)


@model_router.post(
    "/v1/model/reload",
    response_model=ModelInfo,
    summary="Load the saved model again",
    description=(
        "Loads `MODEL_DIR`, swaps it in atomically and makes it the registry's champion "
        "(every instance follows). A refused model (missing, corrupt, hash or version "
        "mismatch, unknown squads) keeps the previous one: 409 with the reason."
    ),
    responses=PROBLEM_RESPONSES,
)
async def reload_model(container: ContainerDep, who: Admin) -> ModelInfo:
    """Translate POST /v1/model/reload."""
    state = await container.models.reload_model(by=who.principal)
    return _model_info(container, state)


def _catalogue_info(state: ModelState) -> CatalogueInfo:
    cat = state.catalogue
    return CatalogueInfo(
        digest=cat.digest,
        source=cat.source,
        squads=[
            SquadView(
                name=s.name,
                title=s.title,
                description=s.description,
                service_delivery=s.service_delivery,
                components=sorted(c.name for c in cat.owned_by(s.name)),
            )
            for s in sorted(cat.squads.values(), key=lambda s: s.name)
        ],
        components=[
            ComponentView(**c.model_dump(include=set(ComponentView.model_fields)))
            for c in sorted(cat.components.values(), key=lambda c: c.name)
        ],
        report=cat.report,
    )


@catalogue_router.get(
    "/v1/catalogue",
    response_model=CatalogueInfo,
    summary="The service catalogue in use",
    description="Squads and the components they own (notification channels are not shown).",
    responses=PROBLEM_RESPONSES,
)
async def get_catalogue(container: ContainerDep, _who: Reporter) -> CatalogueInfo:
    """Translate GET /v1/catalogue."""
    return _catalogue_info(container.state)


@catalogue_router.post(
    "/v1/catalogue/reload",
    response_model=CatalogueInfo,
    summary="Load the catalogue again",
    description=(
        "Reads `CATALOGUE_PATH` and reloads the model against it, then swaps both atomically. "
        "An invalid catalogue keeps the previous one: 422 listing every problem."
    ),
    responses=PROBLEM_RESPONSES,
)
async def reload_catalogue(container: ContainerDep, who: Admin, request: Request) -> CatalogueInfo:
    """Translate POST /v1/catalogue/reload."""
    state = await container.models.reload_catalogue(
        container.settings.catalogue_path, container.settings.service_delivery_group
    )
    # the catalogue lives in this process's memory: no transaction to share (see keeper)
    await audit_after(request, who, "catalogue.reload", None, {"digest": state.catalogue.digest})
    return _catalogue_info(state)


class _BodyLimits:
    """Body-size limits per path: bulk predict may carry more than a single case."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, larger: dict[str, int]) -> None:
        self.default = BodySizeLimit(app, max_bytes=max_bytes)
        self.larger = {path: BodySizeLimit(app, max_bytes=n) for path, n in larger.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.larger.get(scope.get("path", "")) if scope["type"] == "http" else None
        await (limit or self.default)(scope, receive, send)


def create_app(container: Container) -> FastAPI:
    """The FastAPI app over `container` (its lifespan starts and stops the Kafka side)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await container.start()
        try:
            yield
        finally:
            await container.stop()

    app = FastAPIOffline(
        title="support-triage triage",
        version=importlib.metadata.version("support-triage-triage"),
        description=(
            "Receives support cases, predicts the owning squad from the case text and the "
            "service catalogue, stores them and publishes `support.case.triaged.v1`."
        ),
        lifespan=lifespan,
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        default_response_class=JSONResponse,
        openapi_tags=[
            {"name": "cases", "description": "Submit, read and list cases; dry-run predict"},
            {
                "name": "model",
                "description": "The model in use, its reload, retraining and the corrections",
            },
            {"name": "catalogue", "description": "The service catalogue and its reload"},
            {"name": "ops", "description": "Health and readiness"},
        ],
    )
    app.state.container = container
    app.state.intake_limit = RateLimit(
        container.settings.rate_limit_intake,
        name="intake",
        storage_uri=container.settings.rate_limit_storage_uri,
    )
    install_problem_handlers(app, errors=(TriageError,))
    install_auth(app, build_authenticator(container.settings))
    app.state.audit = container.audit
    max_bytes = container.settings.max_body_bytes
    app.add_middleware(
        _BodyLimits,
        max_bytes=max_bytes,
        larger={"/v1/predict": max_bytes * PREDICT_BODY_FACTOR},
    )
    routers = (
        http_cases.router,
        model_router,
        http_training.router,
        http_models.router,
        catalogue_router,
    )
    for r in routers:
        app.include_router(r)
    app.include_router(hygiene_routes(lambda: container.state.catalogue))
    watch_catalogue(lambda: container.state.catalogue)
    app.include_router(audit_routes(lambda r: r.app.state.audit, responses=PROBLEM_RESPONSES))
    app.include_router(health_routes(lambda: readiness(container.repo.ping, container.runtime)))
    instrument(
        app,
        dependencies=[require(Role.ADMIN)] if container.settings.metrics_require_auth else [],
    )
    return app

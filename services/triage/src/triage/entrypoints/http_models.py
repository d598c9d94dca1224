"""HTTP routes of the `model` tag over the model registry: list, show, promote (and roll back).

Reading needs the triager role, promoting the admin role (audited). `GET /v1/models` lists
every version newest first with its status and holdout evaluation; `GET /v1/models/{version}`
shows one; `POST /v1/models/{version}/promote` makes any registered version the champion (a
rejected challenger by hand, or a rollback to a retired one). Every instance follows within
`MODEL_POLL_SECONDS`.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from servicekit.auth import Admin, Triager
from servicekit.http import PROBLEM_RESPONSES
from triage.domain import ModelRecord
from triage.entrypoints.deps import ContainerDep
from triage.entrypoints.schemas import ModelVersionList, ModelVersionView
from triage.errors import ModelVersionNotFound

router = APIRouter(tags=["model"])


def _view(r: ModelRecord) -> ModelVersionView:
    return ModelVersionView(
        version=r.version,
        status=r.status,
        created_at=r.created_at,
        promoted_at=r.promoted_at,
        job_id=r.job_id,
        metrics=r.metrics,
        evaluation=r.evaluation,
        sha256=r.sha256,
    )


@router.get(
    "/v1/models",
    response_model=ModelVersionList,
    summary="Model versions in the registry",
    description="Every version newest first: status, training metrics, holdout evaluation.",
    responses=PROBLEM_RESPONSES,
)
async def list_models(container: ContainerDep, _who: Triager) -> ModelVersionList:
    """Translate GET /v1/models."""
    records = await asyncio.to_thread(container.models.registry.versions)
    return ModelVersionList(items=[_view(r) for r in records])


@router.get(
    "/v1/models/{version}",
    response_model=ModelVersionView,
    summary="One model version",
    description="Its status, training metrics and the holdout comparison with the champion "
    "of its time (both models' scores, the decision and its reasons). 404 when unknown.",
    responses=PROBLEM_RESPONSES,
)
async def get_model(version: str, container: ContainerDep, _who: Triager) -> ModelVersionView:
    """Translate GET /v1/models/{version}."""
    record = await asyncio.to_thread(container.models.registry.get, version)
    if record is None:
        raise ModelVersionNotFound(f"no model version {version}")
    return _view(record)


@router.post(
    "/v1/models/{version}/promote",
    response_model=ModelVersionView,
    summary="Promote a version (or roll back to it)",
    description="Makes the version the champion at once on this instance; the previous "
    "champion becomes `retired`, and every other instance follows within "
    "`MODEL_POLL_SECONDS`. Works for any registered version: a rollback to a retired one "
    "or a rejected challenger by hand. 404 when unknown; 409 `model_refused` when the "
    "catalogue in force refuses it (the champion stays).",
    responses=PROBLEM_RESPONSES,
)
async def promote_model(version: str, container: ContainerDep, who: Admin) -> ModelVersionView:
    """Translate POST /v1/models/{version}/promote."""
    record = await container.models.promote(version, by=who.principal)
    return _view(record)

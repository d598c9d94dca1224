"""HTTP routes of the `model` tag that close the feedback loop: retrain jobs and the labels.

`POST /v1/model/retrain` starts one background retrain (a worker thread) and answers 202
with the job; `GET /v1/model/retrain/{job_id}` reports it. Jobs are stored in the database
(any instance can report them; they survive a restart). `GET /v1/labels` pages through the
labels, newest first. The model versions a retrain registers are in `http_models`.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from servicekit.auth import Admin, Triager
from servicekit.http import PROBLEM_RESPONSES
from servicekit.paging import IsoDateTime
from triage import training
from triage.domain import LabelFilter, RetrainJob
from triage.entrypoints.deps import ContainerDep, link_next
from triage.entrypoints.schemas import LabelPage, LabelView, RetrainJobView, TrainingCountsView

router = APIRouter(tags=["model"])


def _job_view(job: RetrainJob) -> RetrainJobView:
    return RetrainJobView(
        id=job.id,
        status=job.status,
        started_at=job.started_at,
        finished_at=job.finished_at,
        previous_version=job.previous_version,
        new_version=job.new_version,
        decision=job.decision,
        counts=TrainingCountsView(**asdict(job.counts)) if job.counts else None,
        metrics=dict(job.metrics),
        error=job.error,
        error_code=job.error_code,
    )


@router.post(
    "/v1/model/retrain",
    status_code=202,
    response_model=RetrainJobView,
    summary="Train a challenger from history and labels; promote it only if not worse",
    description=(
        "Starts one background retrain on the history CSV (`HISTORY_PATH`) plus every "
        "stored label (corrections, resolutions, imports; the latest label of each case "
        "wins, one naming Service Delivery never over one naming an owning squad, and "
        "overrides history rows with the same text; squads no longer in the "
        "catalogue are skipped). The most recent labelled cases (`RETRAIN_HOLDOUT_SIZE`) "
        "are held out; a challenger trained on the older ones is compared with the champion "
        "on them and promoted only if its accuracy, macro-F1 and assign precision are not "
        "worse by more than `PROMOTION_MARGIN` (then refit on every case). A worse "
        "challenger is kept as `rejected` and not served. Answers 202 with the job and its "
        "`Location`; 409 `retrain_running` while a retrain runs on any instance."
    ),
    responses={
        **PROBLEM_RESPONSES,
        202: {
            "description": "The retrain job, running",
            "headers": {
                "Location": {"description": "URL of the job", "schema": {"type": "string"}}
            },
        },
    },
)
async def start_retrain(response: Response, container: ContainerDep, who: Admin) -> RetrainJobView:
    """Translate POST /v1/model/retrain."""
    job = await container.models.start_retrain(by=who.principal)
    response.headers["Location"] = f"/v1/model/retrain/{job.id}"
    return _job_view(job)


@router.get(
    "/v1/model/retrain/{job_id}",
    response_model=RetrainJobView,
    summary="A retrain job",
    description=(
        "Status (`running`, `succeeded`, `failed`, `interrupted`: its process stopped), the "
        "training-set counts, the challenger's metrics and holdout comparison, the decision "
        "(`promoted` or `rejected`) and the versions. Jobs are kept in the database."
    ),
    responses=PROBLEM_RESPONSES,
)
async def get_retrain(job_id: str, container: ContainerDep, _who: Admin) -> RetrainJobView:
    """Translate GET /v1/model/retrain/{job_id}."""
    return _job_view(await container.models.job(job_id))


@router.get(
    "/v1/labels",
    response_model=LabelPage,
    summary="List training labels (corrections, resolutions, imports)",
    description=(
        "Labels newest first with the case title, the squad it was moved from, what triage "
        "predicted, the new squad, who moved it and when. Filter by the new `squad` and "
        '`since`; pages are linked by an opaque cursor (`next_cursor`, `Link: rel="next"`).'
    ),
    responses=PROBLEM_RESPONSES,
)
async def list_labels(
    request: Request,
    response: Response,
    container: ContainerDep,
    _who: Triager,
    squad: Annotated[str | None, Query(max_length=200, description="The new squad")] = None,
    since: Annotated[
        IsoDateTime | None, Query(description="Inclusive, ISO 8601 with offset")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the last page.")] = None,
) -> LabelPage:
    """Translate GET /v1/labels."""
    page = await asyncio.to_thread(
        training.list_labels,
        LabelFilter(squad, since),
        repo=container.repo,
        limit=limit,
        cursor=cursor,
    )
    link_next(request, response, page.next_cursor)
    return LabelPage(
        items=[
            LabelView(
                case_id=c.label.case_id,
                title=c.title,
                from_squad=c.label.from_squad,
                predicted_squad=c.label.predicted_squad or c.case_squad,
                squad=c.label.squad,
                by=c.label.by,
                at=c.label.created_at,
                source=c.label.source,
            )
            for c in page.items
        ],
        next_cursor=page.next_cursor,
    )

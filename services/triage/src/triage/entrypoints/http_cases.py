"""HTTP routes of the `cases` tag: intake, read, list, dry-run predict.

Reporters (support forms, machine clients) submit, dry-run, and read and list only the cases
they submitted themselves (another's case is 404: cases carry reporters' personal data, an
email or a customer id); triagers and admins read every case.
"""

from __future__ import annotations

import asyncio
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response

from contracts import CaseSource, CaseSubmission, Decision, Priority
from contracts.cases import Case
from servicekit.auth import Identity, Reporter, Role
from servicekit.clients import client_name
from servicekit.http import PROBLEM_RESPONSES, RATE_LIMITED_RESPONSES
from servicekit.paging import IsoDateTime
from triage import service
from triage.domain import Accepted, CaseFilter, Duplicate, Intake, http_scope
from triage.entrypoints.deps import ContainerDep, IntakeLimited, link_next
from triage.entrypoints.schemas import CasePage, PredictRequest, PredictResponse
from triage.errors import TriageError

router = APIRouter(tags=["cases"])


def _own(who: Identity) -> str | None:
    """Whose cases the caller may read: its own unless it is a triager (or admin)."""
    return None if who.has(Role.TRIAGER) else who.principal


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Makes the POST safe to retry: the same key and body give the same answer.",
    ),
]


@router.post(
    "/v1/cases",
    status_code=201,
    response_model=Case,
    summary="Submit a support case",
    description=(
        "Classifies the case, stores it and publishes `support.case.triaged.v1` (through the "
        "outbox, so it is accepted while Kafka is down). Idempotent on the `Idempotency-Key` "
        "header, else on `external_ref`, both per client: the same key and body answer the "
        "stored case again with `Idempotent-Replayed: true`; the same key with another body "
        "is a 409. Control characters in the text are removed."
    ),
    dependencies=[IntakeLimited],
    responses={
        **PROBLEM_RESPONSES,
        **RATE_LIMITED_RESPONSES,
        201: {
            "description": "Stored (or replayed) case with its triage result",
            "headers": {
                "Location": {"description": "URL of the case", "schema": {"type": "string"}},
                "Idempotent-Replayed": {
                    "description": "`true` when the answer is a replay",
                    "schema": {"type": "string"},
                },
            },
        },
    },
)
async def submit_case(
    body: CaseSubmission,
    container: ContainerDep,
    request: Request,
    who: Reporter,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Translate POST /v1/cases to `service.take_in` via the group committer.

    The case is encoded once by pydantic (`model_dump_json`) and answered as is: returning
    the model would make FastAPI validate it again against `response_model` and encode it
    through `jsonable_encoder` and `json.dumps`, on the hot path of every intake.
    """
    scope = http_scope(client_name(request))
    intake = Intake.of(
        body, idempotency_key=idempotency_key, scope=scope, submitted_by=who.principal
    )
    outcome = await container.submit(intake)
    if isinstance(outcome, TriageError):
        raise outcome
    if isinstance(outcome, Duplicate):  # pragma: no cover - HTTP intake carries no event id
        raise RuntimeError("unexpected duplicate outcome")
    assert isinstance(outcome, Accepted)
    headers = {"Location": f"/v1/cases/{outcome.case.id}"}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        outcome.case.model_dump_json(),
        status_code=201,
        media_type="application/json",
        headers=headers,
    )


@router.get(
    "/v1/cases/{case_id}",
    response_model=Case,
    summary="Read a case",
    description="The case as received with its triage result. A reporter reads only the "
    "cases it submitted (any other is 404).",
    responses=PROBLEM_RESPONSES,
)
async def read_case(case_id: UUID, container: ContainerDep, who: Reporter) -> Case:
    """Translate GET /v1/cases/{id}."""
    return await asyncio.to_thread(
        service.get_case, case_id, repo=container.repo, submitted_by=_own(who)
    )


@router.get(
    "/v1/cases",
    response_model=CasePage,
    summary="List cases",
    description=(
        "Cases newest first, filtered; pages are linked by an opaque cursor (`next_cursor` "
        'in the body and a `Link: <...>; rel="next"` header). A reporter lists only the cases '
        "it submitted."
    ),
    responses=PROBLEM_RESPONSES,
)
async def list_cases(
    request: Request,
    response: Response,
    container: ContainerDep,
    who: Reporter,
    squad: Annotated[str | None, Query(max_length=200, description="Predicted squad")] = None,
    decision: Annotated[
        Decision | None, Query(description="The model's recommended action")
    ] = None,
    source: Annotated[CaseSource | None, Query()] = None,
    priority: Annotated[Priority | None, Query()] = None,
    received_after: Annotated[
        IsoDateTime | None, Query(description="Inclusive, ISO 8601 with offset")
    ] = None,
    received_before: Annotated[
        IsoDateTime | None, Query(description="Exclusive, ISO 8601 with offset")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the last page.")] = None,
) -> CasePage:
    """Translate GET /v1/cases."""
    flt = CaseFilter(squad, decision, source, priority, received_after, received_before, _own(who))
    page = await asyncio.to_thread(
        service.list_cases, flt, repo=container.repo, limit=limit, cursor=cursor
    )
    link_next(request, response, page.next_cursor)
    return CasePage(items=page.cases, next_cursor=page.next_cursor)


@router.post(
    "/v1/predict",
    response_model=PredictResponse,
    summary="Classify cases without storing them",
    description="A dry run for up to 1,000 cases: nothing is stored or published.",
    responses={**PROBLEM_RESPONSES, **RATE_LIMITED_RESPONSES},
    dependencies=[IntakeLimited],
)
async def predict(body: PredictRequest, container: ContainerDep, _who: Reporter) -> PredictResponse:
    """Translate POST /v1/predict."""
    state = container.state
    results = await asyncio.to_thread(
        service.predict, body.cases, state=state, options=container.options
    )
    return PredictResponse(model_version=state.classifier.version, results=results)

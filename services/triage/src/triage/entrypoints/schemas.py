"""Bodies of the triage HTTP API that are not shared contracts (pages, model, catalogue)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts import CaseSubmission, TriageResult
from contracts.cases import CASE_EXAMPLE, Case

PREDICT_MAX = 1000


class CasePage(BaseModel):
    """A page of cases, newest first."""

    items: list[Case]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class PredictRequest(BaseModel):
    """Cases to classify without storing them."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"example": {"cases": [CASE_EXAMPLE]}}
    )

    cases: list[CaseSubmission] = Field(min_length=1, max_length=PREDICT_MAX)


class PredictResponse(BaseModel):
    """One result per case, in order."""

    model_version: str
    results: list[TriageResult]


class ModelInfo(BaseModel):
    """The model in use."""

    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={
            "example": {
                "version": "2026-11-26T18-00-00-3f2a9c",
                "trained_at": "2026-11-26T18:00:00Z",
                "squads": ["checkout", "payments"],
                "metrics": {"accuracy": 0.91},
                "threshold": 0.6,
                "margin": 0.1,
                "loaded_at": "2026-11-26T18:05:00Z",
            }
        },
    )

    version: str
    trained_at: datetime | None
    squads: list[str]
    metrics: dict[str, Any]
    threshold: float = Field(description="Confidence at or above which triage suggests assign.")
    margin: float = Field(description="Gap between the top two squads that counts as a span.")
    loaded_at: datetime


class SquadView(BaseModel):
    """A squad of the catalogue (notification channels are not shown)."""

    name: str
    title: str
    description: str
    service_delivery: bool
    components: list[str]


class ComponentView(BaseModel):
    """A component or system of the catalogue."""

    name: str
    kind: str
    title: str
    description: str
    owner: str | None
    system: str | None
    keywords: list[str]
    aliases: list[str]


class CatalogueInfo(BaseModel):
    """The catalogue in use."""

    digest: str
    source: str
    squads: list[SquadView]
    components: list[ComponentView]


class Health(BaseModel):
    """Liveness or readiness."""

    status: str = "ok"
    checks: dict[str, str] = Field(default_factory=dict)

"""Bodies of the triage HTTP API that are not shared contracts (pages, model, catalogue)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts import CaseSubmission, TriageResult
from contracts.cases import CASE_EXAMPLE, Case
from contracts.catalogue import LoadReport

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
                "metrics": {"accuracy": 0.91, "macro_f1": 0.84},
                "threshold": None,
                "target_precision": 0.9,
                "operating_point": {
                    "target": 0.9,
                    "min_examples": 10,
                    "global_threshold": 0.62,
                    "precision": 0.93,
                    "coverage": 0.71,
                    "n": 4000,
                    "squads": {
                        "checkout": {
                            "threshold": 0.55,
                            "source": "own",
                            "support": 1200,
                            "predicted": 1180,
                            "assigned": 960,
                            "precision": 0.94,
                            "coverage": 0.81,
                        }
                    },
                    "notes": [],
                },
                "margin": 0.1,
                "loaded_at": "2026-11-26T18:05:00Z",
            }
        },
    )

    version: str
    trained_at: datetime | None
    squads: list[str]
    metrics: dict[str, Any]
    threshold: float | None = Field(
        description="The explicit threshold for every squad (`ASSIGN_THRESHOLD`), or null when "
        "the per-squad thresholds of `operating_point` apply."
    )
    target_precision: float = Field(description="`TARGET_PRECISION` the thresholds are for.")
    operating_point: dict[str, Any] | None = Field(
        default=None,
        description="Per squad and overall: threshold (null: never from history alone), "
        "where it comes from (own, global, rare), history support, and the precision and "
        "coverage expected from the out-of-fold predictions of the training history.",
    )
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
    owner_ref: str | None = Field(description="`spec.owner` as resolved (group: or user:).")
    unowned_reason: str | None = Field(description="Why an owned-looking entity has no squad.")
    system: str | None
    keywords: list[str]
    aliases: list[str]


class CatalogueInfo(BaseModel):
    """The catalogue in use."""

    digest: str
    source: str
    squads: list[SquadView]
    components: list[ComponentView]
    report: LoadReport = Field(description="Entities read and ignored per kind; warnings.")


class TrainingCountsView(BaseModel):
    """What went into a retrain's training set."""

    history_rows: int = Field(description="Rows read from the history CSV (`HISTORY_PATH`).")
    history_used: int = Field(description="History rows trained on.")
    history_overridden: int = Field(description="History rows replaced by a correction.")
    history_skipped: int = Field(description="History rows without text or with unknown squads.")
    labels: int = Field(description="Correction labels stored.")
    corrections_used: int = Field(description="Corrected cases trained on (latest label each).")
    superseded: int = Field(
        description="Labels replaced by another label of the same case (a later one, or "
        "one naming an owning squad when this one names Service Delivery)."
    )
    skipped_unknown_squad: int = Field(
        description="Corrected cases whose squad is no longer an owning squad of the catalogue."
    )
    skipped_missing_case: int = Field(description="Labels of cases triage does not have.")
    holdout: int = Field(
        default=0, description="Most recent labelled cases held out to judge the challenger."
    )


class RetrainJobView(BaseModel):
    """A retrain job: running, succeeded (challenger promoted or rejected), failed, or
    interrupted (its process stopped); the champion stays unless one was promoted."""

    model_config = ConfigDict(protected_namespaces=())

    id: str
    status: Literal["running", "succeeded", "failed", "interrupted"]
    started_at: datetime
    finished_at: datetime | None
    previous_version: str = Field(description="The champion when the job started.")
    new_version: str | None = Field(description="The challenger it trained (see `decision`).")
    decision: Literal["promoted", "rejected"] | None = Field(
        default=None, description="Whether the challenger became the champion."
    )
    counts: TrainingCountsView | None
    metrics: dict[str, Any] = Field(
        description="Out-of-fold evaluation of the challenger and, under `evaluation`, the "
        "holdout comparison with the champion."
    )
    error: str | None
    error_code: str | None


class ModelVersionView(BaseModel):
    """A model version in the registry."""

    model_config = ConfigDict(protected_namespaces=())

    version: str
    status: Literal["champion", "challenger", "rejected", "retired", "pruned"] = Field(
        description="`champion` is served; `rejected` was judged worse and is kept unserved; "
        "`retired` was champion before; `pruned`: its artifact was deleted by the retention "
        "rule (`MODEL_KEEP_VERSIONS`), it cannot be promoted, and `evaluation.pruned` says "
        "when and what its status was."
    )
    created_at: datetime
    promoted_at: datetime | None
    job_id: str | None = Field(
        description="The retrain that produced it (null: registered at start)."
    )
    metrics: dict[str, Any] = Field(description="Out-of-fold figures recorded at training.")
    evaluation: dict[str, Any] = Field(
        description="Holdout comparison: `holdout` size, `champion` and `challenger` scores "
        "(accuracy, macro_f1, assigned, assign_precision), `decision` and `reasons`."
    )
    sha256: str = Field(description="SHA-256 of the stored artifact.")


class ModelVersionList(BaseModel):
    """Every model version, newest first."""

    items: list[ModelVersionView]


class LabelView(BaseModel):
    """A correction: a triage lead moved a case to another squad."""

    case_id: UUID
    title: str | None = Field(description="The case title (null if triage lacks the case).")
    from_squad: str | None = Field(description="The squad the case was assigned to before.")
    predicted_squad: str | None = Field(description="What triage had predicted.")
    squad: str = Field(description="The squad the case was moved to: the training label.")
    by: str | None
    at: datetime
    source: str


class LabelPage(BaseModel):
    """A page of corrections, newest first."""

    items: list[LabelView]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )

"""Settings of the triage service, read from the environment by `bootstrap` (never at import)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from contracts import Topics
from servicekit.ratelimit import MEMORY, check_storage_uri, parse_limits
from servicekit.settings import ServiceSettings

if TYPE_CHECKING:
    from triage.training import RetrainOptions

_TOPICS = Topics()


class Settings(ServiceSettings):
    """Every knob of the service; each field is an environment variable of the same name.

    The shared ones (database, Kafka, topics, catalogue, body size, logging) come from
    `servicekit.settings.ServiceSettings`.
    """

    database_url: str = "sqlite:///.state/triage.db"
    kafka_consumer_group: str = "triage"
    topic_received: str = _TOPICS.received
    model_dir: Path = Path(".state/model")
    history_path: Path | None = None
    target_precision: float = Field(
        default=0.9,
        ge=0.5,
        le=0.999,
        description="Precision the automatic assignments should reach: the model assigns a "
        "case when its confidence reaches the squad's threshold derived for this target.",
    )
    assign_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="One explicit confidence threshold for every squad, overriding the "
        "per-squad thresholds of TARGET_PRECISION.",
    )
    span_margin: float = Field(default=0.1, ge=0.0, le=1.0)
    retrain_holdout_size: int = Field(
        default=500,
        ge=0,
        description="Most recent labelled cases a retrain holds out to compare the challenger "
        "with the champion (at most a fifth of the training set).",
    )
    retrain_min_holdout: int = Field(
        default=30,
        ge=1,
        description="Fewest held-out cases a comparison needs; with fewer, the challenger is "
        "rejected (it can still be promoted by hand).",
    )
    promotion_margin: float = Field(
        default=0.01,
        ge=0.0,
        le=1.0,
        description="How much lower than the champion's a challenger's holdout accuracy, "
        "macro-F1 and assign precision may be and still be promoted.",
    )
    retrain_min_examples: int = Field(
        default=10,
        ge=1,
        description="Cases a squad needs in the training set to be assigned from the text "
        "alone; below it the squad is rare (assigned only when a case names one of its "
        "components). Used by every training the service runs (first start, retrains) and "
        "by `triage retrain` and `triage train` unless --min-examples is given.",
    )
    model_keep_versions: int = Field(
        default=10,
        ge=0,
        description="Model versions whose artifacts are kept: the newest this many plus the "
        "champion and the model installed in MODEL_DIR; older ones are pruned after each "
        "retrain and by `triage models prune` (their registry rows stay, status `pruned`). "
        "0 keeps every version.",
    )
    model_poll_seconds: float = Field(
        default=5.0,
        ge=0.0,
        description="How often each instance checks the model registry for a newly promoted "
        "version (0: never; it then changes model only on its own promotions).",
    )
    retrain_lease_seconds: float = Field(
        default=30.0,
        gt=0.0,
        description="Lease of a running retrain, renewed every third of it; a job whose "
        "process died is marked interrupted once it lapses.",
    )
    rate_limit_intake: str = Field(
        default="",
        description="Per-client limits on POST /v1/cases and /v1/predict, e.g. "
        "'20/second;600/minute' (per replica, unless the replicas share a storage); empty: "
        "no limit.",
    )
    rate_limit_storage_uri: str = Field(
        default=MEMORY,
        description="Where the rate limits are counted (a `limits` storage URI): memory:// "
        "counts per replica; a storage every replica reaches, e.g. redis://redis:6379/0, "
        "makes the limit each client's total.",
    )

    @field_validator("rate_limit_intake")
    @classmethod
    def _limits_parse(cls, value: str) -> str:
        parse_limits(value)  # raises ValueError naming what does not parse
        return value

    @field_validator("rate_limit_storage_uri")
    @classmethod
    def _limits_storage(cls, value: str) -> str:
        return check_storage_uri(value)

    access_log: bool = Field(
        default=False,
        description="Log one line per HTTP request (uvicorn's access log, at INFO).",
    )
    outbox_wake_delay_ms: float = Field(
        default=10.0,
        ge=0.0,
        le=1000.0,
        description="After a commit wakes the outbox relay, it waits this long so the commits "
        "of that window are published in one pass (one select, send and delete).",
    )
    intake_max_pending: int = Field(
        default=1024,
        ge=1,
        description="Most HTTP cases waiting to be stored; beyond it `POST /v1/cases` answers "
        "503 `overloaded` with `Retry-After` (a slow or unavailable database never holds "
        "unbounded requests in memory).",
    )

    @property
    def topics(self) -> Topics:
        """The topic names after overrides."""
        return super().topics.model_copy(update={"received": self.topic_received})

    def retrain_options(self) -> RetrainOptions:
        """How a retrain holds out cases and judges its challenger (service and CLI alike)."""
        from triage.promotion import PromotionRule
        from triage.training import RetrainOptions

        return RetrainOptions(
            holdout_size=self.retrain_holdout_size,
            keep_versions=self.model_keep_versions,
            rule=PromotionRule(
                margin=self.promotion_margin,
                target_precision=self.target_precision,
                min_holdout=self.retrain_min_holdout,
            ),
        )

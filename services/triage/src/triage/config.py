"""Settings of the triage service, read from the environment by `bootstrap` (never at import)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts import Topics

_TOPICS = Topics()


class Settings(BaseSettings):
    """Every knob of the service; each field is an environment variable of the same name."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    database_url: str = "sqlite:///.state/triage.db"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_enable_idempotence: bool = False
    kafka_consumer_group: str = "triage"
    topic_received: str = _TOPICS.received
    topic_triaged: str = _TOPICS.triaged
    topic_lifecycle: str = _TOPICS.lifecycle
    topic_deadletter: str = _TOPICS.deadletter
    catalogue_path: Path = Path("demo/catalogue")
    model_dir: Path = Path(".state/model")
    history_path: Path | None = None
    assign_threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    span_margin: float = Field(default=0.1, ge=0.0, le=1.0)
    max_body_bytes: int = Field(default=65536, gt=0)
    consumer_enabled: bool = True
    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"

    @property
    def topics(self) -> Topics:
        """The topic names after overrides."""
        return Topics(
            received=self.topic_received,
            triaged=self.topic_triaged,
            lifecycle=self.topic_lifecycle,
            deadletter=self.topic_deadletter,
        )

"""Settings of the router service, read from the environment by `bootstrap` (never at import)."""

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

    database_url: str = "sqlite:///.state/router.db"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_enable_idempotence: bool = False
    kafka_consumer_group: str = "router"
    topic_triaged: str = _TOPICS.triaged
    topic_lifecycle: str = _TOPICS.lifecycle
    topic_deadletter: str = _TOPICS.deadletter
    catalogue_path: Path = Path("demo/catalogue")
    policy_path: Path | None = Field(
        default=None, description="Routing policy YAML; the packaged default when unset."
    )
    public_base_url: str = "http://127.0.0.1:8001"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_sender: str = "support-triage@localhost"
    sweep_interval_seconds: float = Field(default=5.0, gt=0)
    delivery_max_attempts: int = Field(default=6, ge=1)
    delivery_concurrency: int = Field(default=16, ge=1)
    delivery_timeout_seconds: float = Field(default=5.0, gt=0)
    delivery_backoff_base_seconds: float = Field(default=2.0, ge=0)
    max_body_bytes: int = Field(default=65536, gt=0)
    consumer_enabled: bool = True
    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"

    @property
    def topics(self) -> Topics:
        """The topic names after overrides."""
        return Topics(
            triaged=self.topic_triaged,
            lifecycle=self.topic_lifecycle,
            deadletter=self.topic_deadletter,
        )

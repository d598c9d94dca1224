"""Settings of the router service, read from the environment by `bootstrap` (never at import)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    """Every knob of the service; each field is an environment variable of the same name.

    The shared ones (database, Kafka, topics, catalogue, body size, logging) come from
    `servicekit.settings.ServiceSettings`.
    """

    database_url: str = "sqlite:///.state/router.db"
    kafka_consumer_group: str = "router"
    policy_path: Path | None = Field(
        default=None, description="Routing policy YAML; the packaged default when unset."
    )
    public_base_url: str = "http://127.0.0.1:8001"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_sender: str = "support-triage@localhost"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(
        default=False, description="Upgrade with STARTTLS (port 587); refuse a relay without it."
    )
    smtp_use_tls: bool = Field(default=False, description="Implicit TLS (port 465).")
    smtp_cafile: Path | None = Field(default=None, description="CA bundle of a private relay.")
    sweep_interval_seconds: float = Field(default=5.0, gt=0)
    delivery_max_attempts: int = Field(default=6, ge=1)
    delivery_concurrency: int = Field(default=16, ge=1)
    delivery_per_receiver: int = Field(
        default=4,
        ge=0,
        description="Attempts in flight to one receiver (address) at most, so a receiver that "
        "hangs cannot take every delivery slot; 0: no cap.",
    )
    delivery_timeout_seconds: float = Field(default=5.0, gt=0)
    delivery_backoff_base_seconds: float = Field(default=2.0, ge=0)
    notify_max_per_case: int = Field(
        default=6,
        ge=0,
        description="Assignment messages (assigned, reassigned) per case within "
        "NOTIFY_CASE_WINDOW_MINUTES; the rest are recorded on the case, not sent. 0: no limit.",
    )
    notify_case_window_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    delivery_max_retry_after_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Cap on a receiver's Retry-After: a longer (or absurd) wait is cut to this.",
    )

    @model_validator(mode="after")
    def _smtp_consistent(self) -> Settings:
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("SMTP_USERNAME and SMTP_PASSWORD go together")
        if self.smtp_starttls and self.smtp_use_tls:
            raise ValueError("SMTP_STARTTLS and SMTP_USE_TLS exclude each other")
        return self

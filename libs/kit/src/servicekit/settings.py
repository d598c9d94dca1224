"""Settings both services share, read from the environment by each service's `bootstrap`.

Each service subclasses `ServiceSettings` with its own knobs and its own defaults for
`database_url` and `kafka_consumer_group`; every field is an environment variable of the same
name (case-insensitive, no prefix), so the variable names are the same in both services.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts import Topics
from servicekit.auth.config import AuthSettings
from servicekit.kafka import KafkaSecurity, SaslMechanism, SecurityProtocol

_TOPICS = Topics()


class ServiceSettings(AuthSettings, BaseSettings):
    """Database, Kafka, topics, catalogue, HTTP body size, logging and authentication
    (`servicekit.auth.config`) knobs of a service."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    database_url: str
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_enable_idempotence: bool = False
    kafka_consumer_group: str
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_check_hostname: bool = True
    topic_triaged: str = _TOPICS.triaged
    topic_lifecycle: str = _TOPICS.lifecycle
    topic_deadletter: str = _TOPICS.deadletter
    catalogue_path: Path = Path("demo/catalogue")
    service_delivery_group: str | None = Field(
        default=None,
        description="Entity ref of the Service Delivery group when no Group has "
        "spec.type: service-delivery.",
    )
    max_body_bytes: int = Field(default=65536, gt=0)
    consumer_enabled: bool = True
    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"

    @property
    def kafka_security(self) -> KafkaSecurity:
        """TLS and SASL of the Kafka clients (`servicekit.kafka.KafkaSecurity`).

        Raises:
            ValueError: SASL without a user and password, or half a client certificate.
        """
        password = self.kafka_sasl_password
        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=password.get_secret_value() if password else None,
            ssl_cafile=self.kafka_ssl_cafile,
            ssl_certfile=self.kafka_ssl_certfile,
            ssl_keyfile=self.kafka_ssl_keyfile,
            ssl_check_hostname=self.kafka_ssl_check_hostname,
        )

    @property
    def topics(self) -> Topics:
        """The topic names after overrides (`received` keeps its default here)."""
        return Topics(
            triaged=self.topic_triaged,
            lifecycle=self.topic_lifecycle,
            deadletter=self.topic_deadletter,
        )

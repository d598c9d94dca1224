"""Kafka producer factory, batch send, topic creation and the clients' security (aiokafka).

`KafkaSecurity` is how every client of a service (producer, consumer, admin) reaches a
secured cluster: TLS (`SSL`, with a CA file and optionally a client certificate) and/or SASL
(`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` with a user and password). The default,
`PLAINTEXT`, is the local broker's. `client_kwargs()` maps it onto aiokafka's arguments; its
TLS context is built (the CA and certificate files read) once per `KafkaSecurity`, at the first
client, and shared by every client after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from contracts.wire import KafkaRecord

log = logging.getLogger(__name__)

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """TLS and SASL settings of the Kafka clients (see the module docstring)."""

    protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "PLAIN"
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True
    _ssl_context: ssl.SSLContext | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.protocol.startswith("SASL") and not (self.sasl_username and self.sasl_password):
            raise ValueError(f"{self.protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError(
                "a client certificate needs both KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE"
            )

    def client_kwargs(self) -> dict[str, Any]:
        """aiokafka's keyword arguments for these settings (the same for every client)."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.protocol.endswith("SSL"):
            kwargs["ssl_context"] = self.ssl_context()
        if self.protocol.startswith("SASL"):
            kwargs |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password,
            }
        return kwargs

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context of the clients, built on the first call and kept."""
        context = self._ssl_context
        if context is None:
            context = create_ssl_context(
                cafile=str(self.ssl_cafile) if self.ssl_cafile else None,
                certfile=str(self.ssl_certfile) if self.ssl_certfile else None,
                keyfile=str(self.ssl_keyfile) if self.ssl_keyfile else None,
            )
            context.check_hostname = self.ssl_check_hostname
            object.__setattr__(self, "_ssl_context", context)  # frozen: a cache, not a setting
        return context


PLAINTEXT = KafkaSecurity()


def make_producer(
    bootstrap_servers: str,
    *,
    client_id: str,
    enable_idempotence: bool = False,
    linger_ms: int = 5,
    security: KafkaSecurity = PLAINTEXT,
) -> AIOKafkaProducer:
    """A producer with `acks=all`; idempotence is on for real Kafka, off for the local broker
    (Tansu does not support idempotent producers)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=enable_idempotence,
        linger_ms=linger_ms,
        max_batch_size=256 * 1024,
        request_timeout_ms=15_000,
        **security.client_kwargs(),
    )


async def send_batch(producer: AIOKafkaProducer, items: Iterable[tuple[str, KafkaRecord]]) -> None:
    """Send (topic, record) pairs without awaiting each one, then wait for every ack.

    Raises the first delivery error; the caller decides what to retry.
    """
    futures = [
        await producer.send(topic, value=rec.value, key=rec.key, headers=rec.headers)
        for topic, rec in items
    ]
    if futures:
        await asyncio.gather(*futures)


@contextlib.asynccontextmanager
async def _admin(
    bootstrap_servers: str, client_id: str, security: KafkaSecurity
) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client with the service's security settings, closed on exit."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id=client_id, **security.client_kwargs()
    )
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def missing_topics(producer: AIOKafkaProducer, topics: Iterable[str]) -> list[str]:
    """The `topics` the broker does not have, asked through a started producer's connection.

    The request asks for every topic, not for these: a metadata request naming a topic that
    does not exist makes the local broker (and a Kafka cluster with
    `auto.create.topics.enable`) create it, with its default partition count. Raises a
    `KafkaError` when the broker cannot be reached.
    """
    cluster = await producer.client.fetch_all_metadata()
    existing = cluster.topics()
    return [t for t in topics if t not in existing]


async def ensure_topics(
    bootstrap_servers: str,
    topics: Sequence[str],
    *,
    partitions: int = 3,
    replication: int = 1,
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    """Create the topics that do not exist yet."""
    async with _admin(bootstrap_servers, "topic-setup", security) as admin:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(t, num_partitions=partitions, replication_factor=replication)
                        for t in missing
                    ]
                )
            log.info("created topics %s", missing)

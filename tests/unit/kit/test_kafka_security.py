"""The Kafka clients' TLS and SASL settings, from the environment to aiokafka's arguments
(the local broker speaks neither, so the mapping is checked on the clients aiokafka builds)."""

from __future__ import annotations

import shutil
import ssl
from pathlib import Path

import pytest

from servicekit.consumer import ConsumerSettings, make_consumer
from servicekit.kafka import KafkaSecurity, make_producer
from servicekit.settings import ServiceSettings


def _settings(**env: str) -> ServiceSettings:
    return ServiceSettings(database_url="sqlite://", kafka_consumer_group="g", **env)  # type: ignore[arg-type]


async def test_sasl_scram_over_tls_reaches_producer_and_consumer() -> None:
    security = _settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="triage",
        kafka_sasl_password="s3cret",
    ).kafka_security
    kwargs = security.client_kwargs()
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert (kwargs["sasl_mechanism"], kwargs["sasl_plain_username"]) == ("SCRAM-SHA-512", "triage")
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert kwargs["ssl_context"].verify_mode == ssl.CERT_REQUIRED

    producer = make_producer("127.0.0.1:1", client_id="t", security=security)
    consumer = make_consumer(
        ConsumerSettings("127.0.0.1:1", "g", ["t"], "dlq", "triage", security=security)
    )
    for client in (producer.client, consumer._client):
        assert client._ssl_context is kwargs["ssl_context"]  # one context for every client
        assert client._security_protocol == "SASL_SSL"
        assert client._sasl_mechanism == "SCRAM-SHA-512"
        assert client._sasl_plain_username == "triage"
        assert client._sasl_plain_password == "s3cret"
    await producer.stop()
    await consumer.stop()


def test_the_default_is_plaintext_for_the_local_broker() -> None:
    assert _settings().kafka_security.client_kwargs() == {"security_protocol": "PLAINTEXT"}


def test_sasl_plain_without_tls_keeps_the_ssl_context_out() -> None:
    kwargs = KafkaSecurity(
        protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password="p"
    ).client_kwargs()
    assert "ssl_context" not in kwargs and kwargs["sasl_mechanism"] == "PLAIN"


def test_the_tls_context_is_built_once_per_settings(tmp_path: Path) -> None:
    system = ssl.get_default_verify_paths().cafile
    if system is None or not Path(system).is_file():  # pragma: no cover - Debian has one
        pytest.skip("no system CA bundle to copy")
    cafile = tmp_path / "ca.pem"
    shutil.copy(system, cafile)
    security = KafkaSecurity(protocol="SSL", ssl_cafile=cafile, ssl_check_hostname=False)
    first = security.client_kwargs()["ssl_context"]
    assert first.check_hostname is False and first.get_ca_certs()

    cafile.unlink()  # read when the context was built, not for each client
    assert security.client_kwargs()["ssl_context"] is first
    same = KafkaSecurity(protocol="SSL", ssl_cafile=cafile, ssl_check_hostname=False)
    assert same == security and hash(same) == hash(security)  # the cache is not a setting
    with pytest.raises(FileNotFoundError):
        same.client_kwargs()  # its own context: the file is gone


def test_incomplete_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME"):
        assert _settings(kafka_security_protocol="SASL_SSL").kafka_security
    with pytest.raises(ValueError, match="KAFKA_SSL_KEYFILE"):
        KafkaSecurity(protocol="SSL", ssl_certfile=tmp_path / "c.pem")
    with pytest.raises(ValueError):
        _settings(kafka_sasl_mechanism="GSSAPI")

"""Email through a relay that demands STARTTLS and a login, as production relays do: a real
aiosmtpd server with a throwaway certificate (made here with `cryptography`), real
aiosmtplib on the router's side, settings from the environment variables."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from router.adapters.notifications import DeliveryError, Notifier
from router.app import smtp_settings
from router.config import Settings
from router.domain.notifications import Notification, Target

USER, PASSWORD = "router", "relay-password"


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "relay.pem", folder / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Relay:
    port: int
    cafile: Path
    logins: list[str] = field(default_factory=list)
    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((session.authenticated, envelope))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Relay]:
    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    state = Relay(port=port, cafile=cert)
    controller = Controller(
        state,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=state.authenticate,
        auth_require_tls=True,
        auth_required=True,
    )
    controller.start()
    yield state
    controller.stop()


def _notification() -> Notification:
    case_id = uuid.uuid4()
    return Notification.model_validate(
        {
            "kind": "assigned",
            "case_id": case_id,
            "title": "Checkout fails",
            "priority": "P2",
            "squad": "payments",
            "squad_title": "Payments",
            "predicted_squad": "payments",
            "confidence": 0.91,
            "case_url": f"http://127.0.0.1:8001/v1/cases/{case_id}",
        }
    )


def _settings(relay: Relay, **env: Any) -> Settings:
    return Settings(
        smtp_host="127.0.0.1",
        smtp_port=relay.port,
        smtp_sender="triage@example.com",
        smtp_cafile=relay.cafile,
        **env,
    )


async def _send(settings: Settings) -> None:
    async with httpx.AsyncClient() as http:
        notifier = Notifier(http=http, smtp=smtp_settings(settings), timeout=5.0)
        await notifier.send(Target("email", "payments@example.com"), _notification())


async def test_starttls_then_login_then_the_message(relay: Relay) -> None:
    await _send(_settings(relay, smtp_starttls=True, smtp_username=USER, smtp_password=PASSWORD))
    assert relay.logins == [USER]
    [(authenticated, envelope)] = relay.messages
    assert authenticated is True
    assert envelope.rcpt_tos == ["payments@example.com"]


async def test_a_wrong_password_is_refused_and_not_retried(relay: Relay) -> None:
    settings = _settings(relay, smtp_starttls=True, smtp_username=USER, smtp_password="nope")
    with pytest.raises(DeliveryError) as refused:
        await _send(settings)
    assert refused.value.code == "smtp_rejected" and not refused.value.retryable
    assert relay.messages == []


async def test_without_starttls_the_relay_refuses_and_nothing_leaves_in_clear(relay: Relay) -> None:
    with pytest.raises(DeliveryError):
        await _send(_settings(relay, smtp_username=USER, smtp_password=PASSWORD))
    assert relay.logins == [] and relay.messages == []


def test_half_a_login_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="go together"):
        Settings(smtp_username=USER)

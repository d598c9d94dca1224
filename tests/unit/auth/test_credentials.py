"""Credentials checked without a framework: API keys (hashed), HMAC JWTs, and JWTs signed by
keys a real local JWKS endpoint serves (fetched once, fetched again for an unknown `kid`)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from servicekit.auth import (
    Authenticator,
    AuthError,
    AuthSettings,
    JwtVerifier,
    Role,
    build_authenticator,
    hash_key,
    new_key,
)

SECRET = "s" * 40


def _token(
    key: Any, alg: str = "HS256", headers: dict[str, Any] | None = None, **claims: Any
) -> str:
    body = {"sub": "sam.lead", "exp": int(time.time()) + 300, "roles": ["triager"], **claims}
    return jwt.encode(body, key, algorithm=alg, headers=headers)


def test_an_api_key_is_known_by_its_hash_and_names_its_principal_and_roles() -> None:
    key = new_key()
    entries = [{"name": "support-form", "roles": ["reporter"], "sha256": hash_key(key)}]
    auth = build_authenticator(AuthSettings(api_keys=entries))
    who = auth.authenticate(None, key)
    assert (who.principal, who.roles, who.method) == ("support-form", {Role.REPORTER}, "api_key")
    assert auth.authenticate(key, None) == who  # `Authorization: Bearer <key>` works too
    with pytest.raises(AuthError) as refused:
        auth.authenticate(None, key + "x")
    assert refused.value.code == "invalid_credentials"
    assert refused.value.headers == {
        "WWW-Authenticate": 'Bearer realm="support-triage", error="invalid_token"'
    }


def test_no_credential_is_unauthenticated_with_a_challenge() -> None:
    with pytest.raises(AuthError) as refused:
        Authenticator().authenticate(None, None)
    assert refused.value.code == "unauthenticated"
    assert refused.value.headers == {"WWW-Authenticate": 'Bearer realm="support-triage"'}


def test_role_keys_from_the_environment_and_a_keys_file(tmp_path: Path) -> None:
    file = tmp_path / "keys.json"
    file.write_text(
        json.dumps([{"name": "monitor", "roles": ["admin"], "sha256": hash_key("m" * 20)}])
    )
    auth = build_authenticator(
        AuthSettings(admin_api_key="a" * 20, reporter_api_key="r" * 20, api_keys_file=file)
    )
    assert auth.authenticate(None, "a" * 20).principal == "admin"
    admin = auth.authenticate(None, "m" * 20)
    assert admin.principal == "monitor"
    assert admin.has(Role.TRIAGER) and not admin.has(Role.REPORTER)  # admin implies triager
    assert not auth.authenticate(None, "r" * 20).has(Role.TRIAGER)


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "x", "roles": ["root"], "sha256": "0" * 64},
        {"name": "x", "roles": ["admin"], "sha256": "not-a-hash"},
        {"roles": ["admin"], "sha256": "0" * 64},
        {"name": "x", "roles": [], "sha256": "0" * 64},
    ],
)
def test_a_malformed_key_entry_is_refused_at_start(entry: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="API_KEYS"):
        build_authenticator(AuthSettings(api_keys=[entry]))


def test_hmac_tokens_check_signature_expiry_and_audience() -> None:
    auth = Authenticator(jwt_verifier=JwtVerifier(secret=SECRET, audience="support-triage"))
    who = auth.authenticate(_token(SECRET, aud="support-triage"), None)
    assert (who.principal, who.roles, who.method) == ("sam.lead", {Role.TRIAGER}, "jwt")
    bad = [
        _token("t" * 40, aud="support-triage"),  # another secret
        _token(SECRET, aud="someone-else"),
        _token(SECRET, aud="support-triage", exp=int(time.time()) - 3600),
        _token(SECRET, aud="support-triage", sub=None),
    ]
    for token in bad:
        with pytest.raises(AuthError) as refused:
            auth.authenticate(token, None)
        assert refused.value.code == "invalid_credentials"


def test_a_short_secret_or_a_mixed_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        JwtVerifier(secret="short")
    with pytest.raises(ValueError, match="either"):
        JwtVerifier(secret=SECRET, jwks_url="http://127.0.0.1:1/jwks")
    with pytest.raises(ValueError, match="issuer and an audience"):
        JwtVerifier(jwks_url="http://127.0.0.1:1/jwks")


def test_roles_may_be_a_space_separated_claim_and_unknown_roles_are_ignored() -> None:
    auth = Authenticator(jwt_verifier=JwtVerifier(secret=SECRET))
    who = auth.authenticate(_token(SECRET, roles="admin superuser"), None)
    assert who.roles == {Role.ADMIN}


def test_a_jwt_is_refused_where_no_verifier_is_configured() -> None:
    with pytest.raises(AuthError, match="not accepted"):
        Authenticator().authenticate(_token(SECRET), None)


class _Jwks:
    """A real JWKS endpoint on a free port; counts the fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"

    def add(self, kid: str) -> rsa.RSAPrivateKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        self.keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return key


@pytest.fixture
def jwks() -> Iterator[_Jwks]:
    server = _Jwks()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    thread.join()


def test_tokens_signed_by_the_identity_providers_jwks(jwks: _Jwks) -> None:
    first = jwks.add("k1")
    verifier = JwtVerifier(
        jwks_url=jwks.url,
        issuer="https://idp.example",
        audience="support-triage",
        jwks_cooldown_seconds=0,
    )
    auth = Authenticator(jwt_verifier=verifier)
    claims = {"iss": "https://idp.example", "aud": "support-triage"}
    token = _token(first, "RS256", headers={"kid": "k1"}, **claims)
    assert auth.authenticate(token, None).principal == "sam.lead"
    assert auth.authenticate(token, None).principal == "sam.lead"
    assert jwks.fetches == 1  # cached

    rotated = jwks.add("k2")  # key rotation: an unknown kid fetches the set again
    assert auth.authenticate(_token(rotated, "RS256", headers={"kid": "k2"}, **claims), None)
    assert jwks.fetches == 2

    wrong_issuer = _token(
        first, "RS256", headers={"kid": "k1"}, **{**claims, "iss": "https://evil"}
    )
    forged = _token(
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "RS256",
        headers={"kid": "k1"},
        **claims,
    )
    hmac_confusion = _token(SECRET, "HS256", headers={"kid": "k1"}, **claims)
    for token in (wrong_issuer, forged, hmac_confusion):
        with pytest.raises(AuthError) as refused:
            auth.authenticate(token, None)
        assert refused.value.code == "invalid_credentials"

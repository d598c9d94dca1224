"""Authentication settings of a service (environment variables, no prefix), and the
`Authenticator` they make.

    ADMIN_API_KEY, TRIAGER_API_KEY, REPORTER_API_KEY   one key per role, in clear; the
                         principal is the role's name (`admin`, ...). `make run` sets them.
    API_KEYS             JSON list of `{"name", "roles", "sha256"}`: named machine clients,
                         each kept only as the SHA-256 of its key
    API_KEYS_FILE        the same list in a JSON file (a mounted secret)
    AUTH_JWT_SECRET      HMAC shared secret (32+ bytes) for bearer JWTs (HS256/384/512)
    AUTH_JWKS_URL        or: the identity provider's JWKS, with AUTH_JWT_ISSUER and
                         AUTH_JWT_AUDIENCE (both required) and AUTH_JWT_ALGORITHMS
    AUTH_JWT_ROLES_CLAIM / AUTH_JWT_PRINCIPAL_CLAIM   where the roles (a list or a
                         space-separated string) and the principal are (`roles`, `sub`)
    METRICS_REQUIRE_AUTH `/metrics` needs the admin role (default: open, for scrapers)

With none of them set, no request is admitted except health, readiness, metrics and the docs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from servicekit.auth.identity import (
    ApiKey,
    Authenticator,
    JwtVerifier,
    Role,
    read_key_entries,
    read_keys_file,
)


class AuthSettings(BaseSettings):
    """Who may call the API (see the module docstring)."""

    admin_api_key: SecretStr | None = None
    triager_api_key: SecretStr | None = None
    reporter_api_key: SecretStr | None = None
    api_keys: list[dict[str, Any]] = Field(
        default_factory=list,
        description='JSON list of {"name", "roles", "sha256"} (SHA-256 hex of the key).',
    )
    api_keys_file: Path | None = None
    auth_jwt_secret: SecretStr | None = None
    auth_jwks_url: str | None = None
    auth_jwt_issuer: str | None = None
    auth_jwt_audience: str | None = None
    auth_jwt_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    auth_jwt_roles_claim: str = "roles"
    auth_jwt_principal_claim: str = "sub"
    auth_jwks_cache_seconds: float = Field(default=300.0, gt=0)
    auth_jwks_cooldown_seconds: float = Field(
        default=30.0, ge=0, description="Least time between two fetches for unknown key ids."
    )
    metrics_require_auth: bool = False

    @field_validator(
        "admin_api_key",
        "triager_api_key",
        "reporter_api_key",
        "auth_jwt_secret",
        "auth_jwks_url",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, v: object) -> object:
        return None if v == "" else v  # `KEY=` in a compose file or a shell means "not set"

    @field_validator("admin_api_key", "triager_api_key", "reporter_api_key")
    @classmethod
    def _long_enough(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 16:
            raise ValueError("an API key must be at least 16 characters")
        return v


def build_authenticator(s: AuthSettings) -> Authenticator:
    """The authenticator the settings describe.

    Raises:
        ValueError: A key list or the JWT settings are invalid.
        OSError: API_KEYS_FILE cannot be read.
    """
    keys = [
        ApiKey.plain(role.value, secret.get_secret_value(), [role])
        for role, secret in (
            (Role.ADMIN, s.admin_api_key),
            (Role.TRIAGER, s.triager_api_key),
            (Role.REPORTER, s.reporter_api_key),
        )
        if secret is not None
    ]
    keys += read_key_entries(s.api_keys, "API_KEYS")
    if s.api_keys_file is not None:
        keys += read_keys_file(s.api_keys_file)
    verifier = None
    if s.auth_jwt_secret is not None or s.auth_jwks_url:
        verifier = JwtVerifier(
            secret=s.auth_jwt_secret.get_secret_value() if s.auth_jwt_secret else None,
            jwks_url=s.auth_jwks_url or None,
            issuer=s.auth_jwt_issuer,
            audience=s.auth_jwt_audience,
            algorithms=tuple(s.auth_jwt_algorithms),
            roles_claim=s.auth_jwt_roles_claim,
            principal_claim=s.auth_jwt_principal_claim,
            jwks_cache_seconds=s.auth_jwks_cache_seconds,
            jwks_cooldown_seconds=s.auth_jwks_cooldown_seconds,
        )
    return Authenticator(keys, verifier)

"""Who is calling: roles, identities, API keys and bearer tokens, checked without a framework.

    Role            reporter | triager | admin (admin implies triager)
    Identity        principal + roles + how it was proven (`api_key` or `jwt`)
    ApiKey          a machine client's key, kept only as its SHA-256 (keys are random, 32+
                    bytes: a slow password hash adds nothing), with a name and roles
    JwtVerifier     a bearer JWT checked by PyJWT: an HMAC shared secret (the embedded
                    default) or the keys of a JWKS URL (cached, fetched again on an unknown
                    `kid` at most every `jwks_cooldown_seconds`, and after
                    `jwks_cache_seconds`), with issuer and audience
    Authenticator   both together; `authenticate(bearer, api_key)` gives an Identity or
                    raises AuthError (401 `unauthenticated` / `invalid_credentials`)

A bearer token that is not a JWT (no two dots) is taken as an API key, so
`Authorization: Bearer <key>` and `X-API-Key: <key>` are the same.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Literal

import jwt

REALM = "support-triage"


class Role(StrEnum):
    """What a caller may do; every route names the roles it admits."""

    REPORTER = "reporter"
    TRIAGER = "triager"
    ADMIN = "admin"


_IMPLIES: Mapping[Role, frozenset[Role]] = {
    Role.REPORTER: frozenset({Role.REPORTER}),
    Role.TRIAGER: frozenset({Role.TRIAGER}),
    Role.ADMIN: frozenset({Role.ADMIN, Role.TRIAGER}),
}


def effective_roles(roles: Iterable[Role]) -> frozenset[Role]:
    """The roles granted together with the implied ones (admin implies triager)."""
    out: set[Role] = set()
    for role in roles:
        out |= _IMPLIES[role]
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Identity:
    """A proven caller."""

    principal: str
    roles: frozenset[Role]
    method: Literal["api_key", "jwt"]

    def has(self, role: Role) -> bool:
        """Whether the caller holds `role`, directly or implied."""
        return role in effective_roles(self.roles)

    def has_any(self, roles: Iterable[Role]) -> bool:
        """Whether the caller holds one of `roles`."""
        return any(self.has(r) for r in roles)


class AuthError(Exception):
    """A request refused by authentication or authorisation (a registered problem code)."""

    code: str = "unauthenticated"

    def __init__(self, code: str, message: str, *, error: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        challenge = f'Bearer realm="{REALM}"'
        if error:
            challenge += f', error="{error}"'
        self.headers = {"WWW-Authenticate": challenge} if code != "insufficient_role" else None


def hash_key(key: str) -> str:
    """The stored form of an API key: hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh random API key (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One configured API key, known only by its hash."""

    name: str
    roles: frozenset[Role]
    sha256: str

    @classmethod
    def plain(cls, name: str, key: str, roles: Iterable[Role]) -> ApiKey:
        """A key given in clear (an environment variable), hashed at once."""
        return cls(name=name, roles=frozenset(roles), sha256=hash_key(key))


def read_key_entries(entries: Sequence[Mapping[str, Any]], source: str) -> list[ApiKey]:
    """Keys from `[{"name": ..., "roles": [...], "sha256": ...}]` (API_KEYS, API_KEYS_FILE).

    Raises:
        ValueError: An entry lacks a field, names an unknown role or a hash that is not hex
            SHA-256.
    """
    keys: list[ApiKey] = []
    for i, entry in enumerate(entries):
        try:
            name = str(entry["name"])
            roles = frozenset(Role(r) for r in entry["roles"])
            digest = str(entry["sha256"]).lower()
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{source}[{i}]: needs name, roles (of {list(Role)}), sha256") from exc
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"{source}[{i}]: sha256 must be 64 hex digits")
        if not name or not roles:
            raise ValueError(f"{source}[{i}]: name and roles must not be empty")
        keys.append(ApiKey(name=name, roles=roles, sha256=digest))
    return keys


def read_keys_file(path: Path) -> list[ApiKey]:
    """Keys from a JSON file holding a list of entries (see `read_key_entries`)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of keys")
    return read_key_entries(data, str(path))


def _roles_of(claim: object) -> frozenset[Role]:
    """Roles named by a claim (a list or a space-separated string); unknown names ignored."""
    names = claim.split() if isinstance(claim, str) else claim
    if not isinstance(names, list):
        return frozenset()
    return frozenset(Role(n) for n in names if n in Role._value2member_map_)


@dataclass
class JwtVerifier:
    """Checks bearer JWTs: signature, expiry, issuer and audience, then maps the claims."""

    secret: str | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    algorithms: Sequence[str] = ("RS256",)
    roles_claim: str = "roles"
    principal_claim: str = "sub"
    leeway: float = 30.0
    jwks_cache_seconds: float = 300.0
    jwks_cooldown_seconds: float = 30.0
    _jwks: jwt.PyJWKClient | None = field(init=False, default=None)

    HMAC: ClassVar[tuple[str, ...]] = ("HS256", "HS384", "HS512")

    def __post_init__(self) -> None:
        if (self.secret is None) == (self.jwks_url is None):
            raise ValueError("give either a shared secret or a JWKS URL")
        if self.secret is not None:
            if len(self.secret.encode()) < 32:
                raise ValueError("the JWT shared secret must be at least 32 bytes")
            self.algorithms = self.HMAC  # never accept an asymmetric header with a secret
        else:
            if not (self.issuer and self.audience):
                raise ValueError("a JWKS URL needs an issuer and an audience")
            if any(a in self.HMAC for a in self.algorithms):
                raise ValueError("HMAC algorithms cannot be used with a JWKS URL")
            assert self.jwks_url is not None
            self._jwks = jwt.PyJWKClient(
                self.jwks_url,
                cache_jwk_set=True,
                lifespan=self.jwks_cache_seconds,
                timeout=5,
                cooldown_duration=self.jwks_cooldown_seconds,
            )

    def verify(self, token: str) -> Identity:
        """The identity a valid token proves (blocking: it may fetch the JWKS).

        Raises:
            AuthError: 401 `invalid_credentials` for any invalid token.
        """
        try:
            if self._jwks is not None:
                key: Any = self._jwks.get_signing_key_from_jwt(token).key
            else:
                key = self.secret
            required = ["exp", self.principal_claim] + (["iss"] if self.issuer else [])
            claims = jwt.decode(
                token,
                key,
                algorithms=list(self.algorithms),
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": required, "verify_aud": self.audience is not None},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise AuthError(
                "invalid_credentials", "the token's signing keys cannot be fetched now"
            ) from exc
        except jwt.PyJWTError as exc:
            raise AuthError(
                "invalid_credentials", f"invalid token: {type(exc).__name__}", error="invalid_token"
            ) from exc
        principal = claims.get(self.principal_claim)
        if not isinstance(principal, str) or not principal:
            raise AuthError(
                "invalid_credentials", "the token names no principal", error="invalid_token"
            )
        return Identity(principal, _roles_of(claims.get(self.roles_claim)), "jwt")


class Authenticator:
    """API keys and (optionally) bearer JWTs; no configured credential admits nobody."""

    def __init__(self, keys: Iterable[ApiKey] = (), jwt_verifier: JwtVerifier | None = None):
        self.keys = {k.sha256: k for k in keys}
        self.jwt = jwt_verifier

    def by_key(self, key: str) -> Identity:
        """The identity of an API key.

        Raises:
            AuthError: The key is not configured.
        """
        found = self.keys.get(hash_key(key))
        if found is None:
            raise AuthError("invalid_credentials", "unknown API key", error="invalid_token")
        return Identity(found.name, found.roles, "api_key")

    def authenticate(self, bearer: str | None, api_key: str | None) -> Identity:
        """The caller proven by an `Authorization: Bearer` value or an `X-API-Key` header.

        Blocking when the bearer is a JWT checked against a JWKS URL (a cache miss fetches).

        Raises:
            AuthError: No credential (401 `unauthenticated`) or an invalid one
                (401 `invalid_credentials`).
        """
        if api_key:
            return self.by_key(api_key)
        if not bearer:
            raise AuthError(
                "unauthenticated",
                "send an API key (X-API-Key or Authorization: Bearer) or a bearer token",
            )
        if bearer.count(".") == 2:
            if self.jwt is None:
                raise AuthError(
                    "invalid_credentials",
                    "bearer tokens are not accepted here",
                    error="invalid_token",
                )
            return self.jwt.verify(bearer)
        return self.by_key(bearer)

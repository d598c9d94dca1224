"""Identities and roles of both services: API keys and bearer JWTs, checked at the HTTP edge.

`identity` checks credentials (no framework), `config` reads the settings and builds the
`Authenticator`, `edge` is the FastAPI side (`require(Role.X)` on every route,
`install_auth(app, ...)`). Roles: `reporter` submits cases and reads its own, `triager` works
the queue, cases and swarms, `admin` reloads catalogue and policy, retrains, promotes and
sweeps (admin implies triager).
"""

from servicekit.auth.config import AuthSettings, build_authenticator
from servicekit.auth.edge import (
    API_KEY_HEADER,
    PUBLIC,
    SWAGGER_UI_PARAMETERS,
    Admin,
    Reporter,
    Triager,
    current_identity,
    install_auth,
    require,
)
from servicekit.auth.identity import (
    ApiKey,
    Authenticator,
    AuthError,
    Identity,
    JwtVerifier,
    Role,
    hash_key,
    new_key,
)

__all__ = [
    "API_KEY_HEADER",
    "PUBLIC",
    "SWAGGER_UI_PARAMETERS",
    "Admin",
    "ApiKey",
    "AuthError",
    "AuthSettings",
    "Authenticator",
    "Identity",
    "JwtVerifier",
    "Reporter",
    "Role",
    "Triager",
    "build_authenticator",
    "current_identity",
    "hash_key",
    "install_auth",
    "new_key",
    "require",
]

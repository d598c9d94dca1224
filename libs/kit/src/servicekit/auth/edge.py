"""Authentication at the HTTP edge (FastAPI): one line per route declares who may call it.

    @router.post("/v1/things", dependencies=[require(Role.TRIAGER)])    # role only
    async def act(who: TriagerIdentity, ...)                              # role + identity
    @router.get("/healthz", openapi_extra=PUBLIC)                         # open on purpose

`require(*roles)` admits a caller holding any of `roles` (admin implies triager): no or a bad
credential is 401 with `WWW-Authenticate`, a wrong role 403 `insufficient_role`, both as
problem bodies. It uses FastAPI's security classes, so the OpenAPI document lists the two
schemes (`bearerAuth`: `Authorization: Bearer <JWT or API key>`, `apiKeyAuth`: `X-API-Key`)
on every protected operation, each with the admitted roles as its list (OpenAPI 3.1 allows
role names there), and Swagger UI's Authorize button fills them in: pass
`SWAGGER_UI_PARAMETERS` to the app so that what was entered there survives a reload of the
page (`persistAuthorization`: kept in the browser's local storage until Logout).
`install_auth(app, authenticator)` stores the authenticator and adds to each protected
operation `x-roles` and its 401/403 answers. An operation with neither security nor
`x-public: true` is a route whose access nobody decided: the project's OpenAPI test refuses it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Security
from fastapi.security import (
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBearer,
    SecurityScopes,
)

from contracts.problems import PROBLEM_MEDIA_TYPE, Problem
from servicekit.auth.identity import Authenticator, AuthError, Identity, Role

API_KEY_HEADER = "X-API-Key"

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="JWT or API key",
    description="A JWT from the identity provider, or an API key.",
)
_api_key = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    scheme_name="apiKeyAuth",
    description="An API key (ADMIN_API_KEY, TRIAGER_API_KEY, REPORTER_API_KEY, API_KEYS).",
)


async def current_identity(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> Identity:
    """The proven caller of the request (also kept as `request.state.identity`)."""
    auth: Authenticator = request.app.state.authenticator
    token = bearer.credentials if bearer is not None else None
    if token is not None and token.count(".") == 2 and not api_key:
        identity = await asyncio.to_thread(auth.authenticate, token, None)  # may fetch a JWKS
    else:
        identity = auth.authenticate(token, api_key)
    request.state.identity = identity
    return identity


async def _check(
    security: SecurityScopes, identity: Annotated[Identity, Depends(current_identity)]
) -> Identity:
    roles = [Role(s) for s in security.scopes]
    if not identity.has_any(roles):
        raise AuthError("insufficient_role", f"this needs the role {', '.join(security.scopes)}")
    return identity


def require(*roles: Role) -> Any:
    """A dependency admitting callers with any of `roles`; it gives the `Identity`.

    The roles are the security requirement's list in the OpenAPI document (OpenAPI 3.1 lets
    a non-OAuth scheme list role names there)."""
    if not roles:
        raise ValueError("name at least one role")
    return Security(_check, scopes=[r.value for r in roles])


#: `swagger_ui_parameters` of both apps: the Authorize dialog's values survive a reload (kept
#: in the browser's local storage until Logout), so a triage lead working the queue in
#: Swagger UI does not paste the key again after each reload.
SWAGGER_UI_PARAMETERS: dict[str, Any] = {"persistAuthorization": True}

#: `openapi_extra` of a route open on purpose (health, readiness).
PUBLIC: dict[str, Any] = {"x-public": True}

Reporter = Annotated[Identity, require(Role.REPORTER, Role.TRIAGER)]
Triager = Annotated[Identity, require(Role.TRIAGER)]
Admin = Annotated[Identity, require(Role.ADMIN)]


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def install_auth(app: FastAPI, authenticator: Authenticator) -> None:
    """Authenticate `app`'s routes with `authenticator` and show each route's roles in the
    OpenAPI document (`x-roles`, `x-public`, the 401 and 403 answers)."""
    app.state.authenticator = authenticator
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
            "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        )
        for item in schema.get("paths", {}).values():
            for op in item.values():
                if not isinstance(op, dict) or "responses" not in op:
                    continue
                roles = sorted(
                    {r for req in op.get("security", []) for rs in req.values() for r in rs}
                )
                if not roles:
                    continue
                op["x-roles"] = roles
                op["description"] = (
                    op.get("description", "") + f"\n\n**Roles:** {', '.join(roles)}"
                ).strip()
                op["responses"]["401"] = _problem(
                    "No credential, or an invalid one (`WWW-Authenticate` says which)"
                )
                op["responses"]["403"] = _problem("The caller lacks the role")
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

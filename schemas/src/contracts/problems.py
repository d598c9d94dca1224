"""RFC 9457 problem details, the error body of every HTTP API of the project, and the one
registry of problem codes.

Every problem either service answers has a `code` registered in `PROBLEMS`, which fixes its
HTTP status, its title and its `type` URI (`https://support-triage.dev/problems/<code>` with
dashes). The same error therefore gets the same answer from triage and from the router. An
error class names its code; the HTTP edge (`servicekit.http`) looks the rest up here, so a
code that is not registered cannot be answered. Codes of HTTP statuses the framework raises
by itself (`not_found` for an unknown path, `method_not_allowed`, ...) are registered from
`http.HTTPStatus`. The generated `schemas/jsonschema/problem.json` lists every code with its
status and title.

To add an error: register its code below (status, title), give the exception class that code,
and let the service's error base class reach the HTTP edge (`install_problem_handlers`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://support-triage.dev/problems/"


def problem_type(code: str) -> str:
    """Return the `type` URI for an error code."""
    return PROBLEM_TYPE_BASE + code.replace("_", "-")


@dataclass(frozen=True, slots=True)
class ProblemKind:
    """One registered problem: its stable code, HTTP status and title."""

    code: str
    status: int
    title: str

    @property
    def type(self) -> str:
        """The `type` URI of the problem."""
        return problem_type(self.code)


_PROJECT = (
    # the HTTP edge (servicekit.http), both services
    ProblemKind("validation_error", 422, "Request is invalid"),
    ProblemKind("invalid_json", 400, "Request body is not valid JSON"),
    ProblemKind("invalid_encoding", 400, "Request body is not UTF-8"),
    ProblemKind("body_too_large", 413, "Request body too large"),
    ProblemKind("internal_error", 500, "Internal Server Error"),
    ProblemKind("not_found", 404, "Not found"),
    ProblemKind("unauthenticated", 401, "Authentication required"),
    ProblemKind("invalid_credentials", 401, "Invalid credentials"),
    ProblemKind("insufficient_role", 403, "The caller lacks the role"),
    ProblemKind("database_unavailable", 503, "Database unavailable; retry later"),
    ProblemKind("overloaded", 503, "Too many requests waiting; retry later"),
    # both services
    ProblemKind("invalid_cursor", 422, "Invalid cursor"),
    ProblemKind("invalid_catalogue", 422, "Invalid catalogue"),
    ProblemKind("case_not_found", 404, "Case not found"),
    # triage
    ProblemKind("triage_error", 500, "Triage error"),
    ProblemKind("idempotency_conflict", 409, "Idempotency key reused with a different body"),
    ProblemKind("model_refused", 409, "Model refused; the previous model stays"),
    ProblemKind("retrain_running", 409, "A retrain is already running"),
    ProblemKind("retrain_job_not_found", 404, "Retrain job not found"),
    ProblemKind("model_version_not_found", 404, "Model version not found"),
    ProblemKind("training_failed", 500, "Training failed"),
    ProblemKind("retrain_lease_lost", 409, "The retrain lost its lease; nothing was promoted"),
    # router
    ProblemKind("router_error", 500, "Router error"),
    ProblemKind("swarm_not_found", 404, "Swarm not found"),
    ProblemKind("concurrent_update", 409, "Concurrent update"),
    ProblemKind("unknown_squad", 422, "Unknown squad"),
    ProblemKind("domain_error", 400, "Domain error"),
    ProblemKind("invalid_policy", 422, "Invalid policy"),
    ProblemKind("invalid_transition", 409, "Invalid transition"),
    ProblemKind("swarm_error", 400, "Swarm error"),
    ProblemKind("swarm_closed", 409, "Swarm closed"),
    ProblemKind("invalid_swarm_input", 422, "Invalid swarm input"),
)


def http_status_code(status: int) -> str:
    """The code of a plain HTTP error status: its reason phrase in snake case
    (`405` -> `method_not_allowed`); 404 and 500 use the project's `not_found` and
    `internal_error`."""
    if status == 404:
        return "not_found"
    if status == 500:
        return "internal_error"
    return re.sub(r"[^a-z0-9]+", "_", HTTPStatus(status).phrase.lower()).strip("_")


def _registry() -> dict[str, ProblemKind]:
    kinds = {k.code: k for k in _PROJECT}
    if len(kinds) != len(_PROJECT):  # pragma: no cover - caught by the import in every test
        raise RuntimeError("a problem code is registered twice")
    for status in HTTPStatus:
        if status >= 400:
            code = http_status_code(status)
            kinds.setdefault(code, ProblemKind(code, int(status), status.phrase))
    return dict(sorted(kinds.items()))


PROBLEMS: Mapping[str, ProblemKind] = _registry()


def problem_kind(code: str) -> ProblemKind:
    """The registered problem of `code`.

    Raises:
        KeyError: `code` is not registered (register it in `contracts.problems`).
    """
    try:
        return PROBLEMS[code]
    except KeyError:
        raise KeyError(f"problem code {code!r} is not registered in contracts.problems") from None


class FieldError(BaseModel):
    """One invalid field of a request."""

    loc: str = Field(description="Where the error is, dotted (`body.reporter.email`).")
    message: str
    type: str = Field(description="Stable machine-readable error type.")


_EXAMPLE = {
    "type": PROBLEM_TYPE_BASE + "validation-error",
    "title": "Request is invalid",
    "status": 422,
    "detail": "1 field(s) invalid: body.title",
    "code": "validation_error",
    "errors": [
        {
            "loc": "body.title",
            "message": "String should have at most 300 characters",
            "type": "string_too_long",
        }
    ],
}


def _codes_schema(schema: dict[str, Any]) -> None:
    """List every registered code, with its status and title, in the `code` property."""
    schema["example"] = _EXAMPLE
    schema["properties"]["code"]["oneOf"] = [
        {"const": k.code, "title": k.title, "description": f"HTTP {k.status}"}
        for k in PROBLEMS.values()
    ]


class Problem(BaseModel):
    """An RFC 9457 problem details body."""

    model_config = ConfigDict(json_schema_extra=_codes_schema)

    type: str = Field(default="about:blank", description="URI identifying the problem type.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str = Field(
        description="Stable error code, also the last segment of `type`; each code has one "
        "status and title (contracts.problems.PROBLEMS).",
    )
    errors: list[FieldError] | None = None

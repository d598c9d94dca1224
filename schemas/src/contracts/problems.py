"""RFC 9457 problem details, the error body of every HTTP API of the project."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://support-triage.dev/problems/"


class FieldError(BaseModel):
    """One invalid field of a request."""

    loc: str = Field(description="Where the error is, dotted (`body.reporter.email`).")
    message: str
    type: str = Field(description="Stable machine-readable error type.")


class Problem(BaseModel):
    """An RFC 9457 problem details body."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "type": PROBLEM_TYPE_BASE + "validation-error",
                "title": "Request body is invalid",
                "status": 422,
                "detail": "1 field is invalid",
                "code": "validation_error",
                "errors": [
                    {
                        "loc": "body.title",
                        "message": "String should have at most 300 characters",
                        "type": "string_too_long",
                    }
                ],
            }
        }
    )

    type: str = Field(default="about:blank", description="URI identifying the problem type.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str = Field(description="Stable error code, also the last segment of `type`.")
    errors: list[FieldError] | None = None


def problem_type(code: str) -> str:
    """Return the `type` URI for an error code."""
    return PROBLEM_TYPE_BASE + code.replace("_", "-")

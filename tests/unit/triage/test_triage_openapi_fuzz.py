"""Property-based fuzzing of the triage API from its own OpenAPI document (schemathesis):
no 5xx, every 4xx a problem body, every answer as documented (`devkit.fuzzing`)."""

from __future__ import annotations

from devkit.fuzzing import fuzz
from triage.entrypoints.http import create_app


def test_triage_api_holds_to_its_document(container) -> None:
    failures = fuzz(create_app(container))
    assert failures == [], "\n".join(failures)

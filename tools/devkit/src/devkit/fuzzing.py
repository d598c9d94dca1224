"""Property-based fuzzing of an app's OpenAPI document (schemathesis), for the test suite.

`fuzz(app)` loads the app's `/openapi.json` and, for every operation, sends generated
requests, valid (`positive`) and invalid (`negative`), `examples` of each. Every answer goes
through schemathesis' checks (no 5xx; status, content type, headers and body as documented;
invalid input refused, valid input accepted) plus `problem_body_on_4xx`: a 4xx answer is an
RFC 9457 problem (`application/problem+json` with the answer's status and a registered
`code`). It returns one line per operation and mode that failed, empty when all held.

Not checked: that every schema-valid request is accepted (`positive_data_acceptance`): a
few rules are not expressible in the document (a case needs a title or a description once
control characters and blanks are removed), so a schema-valid request can rightly be a 422.
The stateful checks (resources created then used) are left to the integration tests.

The examples per operation and mode are bounded (`FUZZ_EXAMPLES`, default 12) so each
service's fuzz test stays well under a minute; raise it locally to search harder. Hypothesis
is driven directly (not through schemathesis' pytest plugin), one operation at a time, so a
failure names its operation and the others still run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from schemathesis.core.result import Err

from contracts.problems import PROBLEM_MEDIA_TYPE, PROBLEMS


@schemathesis.check
def problem_body_on_4xx(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 4xx answer is a problem body with a registered code and the response's status."""
    status = response.status_code
    if not 400 <= status < 500:
        return None
    media = response.headers.get("content-type", [""])
    media = media[0] if isinstance(media, list) else media
    if not str(media).startswith(PROBLEM_MEDIA_TYPE):
        raise AssertionError(f"{status} answered as {media!r}, not {PROBLEM_MEDIA_TYPE}")
    body = response.json()
    if not isinstance(body, dict) or body.get("code") not in PROBLEMS:
        raise AssertionError(f"{status} body has no registered code: {body!r}")
    if body.get("status") != status:
        raise AssertionError(f"problem status {body.get('status')} on a {status} answer")
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    problem_body_on_4xx,
]


# Invalid input may also be refused as too large (413): the body limit comes before parsing.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [
                    *("400", "401", "403", "404", "405", "406", "409", "413", "415", "422"),
                    *("428", "429", "5xx"),
                ]
            }
        }
    }
)

_RUNS = re.compile(r"(.)\1{19,}")


def _run_length(match: re.Match[str]) -> str:
    return f"{match.group(1)}<x{len(match.group(0))}>"


def examples() -> int:
    """Examples per operation and mode (`FUZZ_EXAMPLES`, default 12)."""
    return int(os.environ.get("FUZZ_EXAMPLES", "12"))


def _run(strategy: Any, check: Callable[[Any], None], n: int) -> None:
    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        check(case)

    run()


def fuzz(
    app: Any,
    *,
    n: int | None = None,
    skip: Callable[[str, str], bool] = lambda _method, _path: False,
    checks: list[Any] | None = None,
) -> list[str]:
    """Fuzz every operation of `app`; the failures, one line each (see the module docstring).

    Args:
        app: An ASGI app serving `/openapi.json`.
        n: Examples per operation and mode (default `examples()`).
        skip: `(method, path) -> True` leaves an operation out.
        checks: the schemathesis checks to run (default `CHECKS`).
    """
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    count = n if n is not None else examples()
    failures: list[str] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"invalid operation in the document: {result.err()}")
            continue
        operation = result.ok()
        if skip(operation.method.upper(), operation.path):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            def check(case: Any) -> None:
                case.call_and_validate(checks=checks or CHECKS)

            try:
                _run(operation.as_strategy(generation_mode=mode), check, count)
            except Unsatisfiable:  # no parameter or body to make invalid
                continue
            except (Exception, BaseExceptionGroup) as exc:  # one line per operation and mode
                text = _RUNS.sub(_run_length, " ".join(str(exc).split()))[:3000]
                failures.append(
                    f"{operation.method.upper()} {operation.path} [{mode.value}]: {text}"
                )
    return failures

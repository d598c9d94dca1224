"""Swagger UI's Authorize button, in a real browser, against both served services.

`make run` tells people to open `/docs` and press Authorize; this drives exactly that in
Debian's headless chromium (`/usr/bin/chromium`, through playwright's protocol client; its
bundled browsers are never downloaded) against `triage serve` and `router serve` of the
`pipeline` fixture: a protected listing tried out without authorizing shows 401, then the
Authorize dialog takes an API key (`X-API-Key`, scheme `apiKeyAuth`) or a bearer JWT (scheme
`bearerAuth`, HMAC-signed with the pipeline's `AUTH_JWT_SECRET`), and the same listing shows
200 with the case posted before. The authorization also survives a reload of the page
(`persistAuthorization`). Without chromium the test skips and says why; under CI, which
installs it, it fails.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from devkit.testing import TEST_KEYS, auth_headers
from tests.browser import headless_chromium

from .conftest import JWT_SECRET, Pipeline

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("pipeline-e2e")]

#: The protected listing tried out on each service: (operation block id, path).
LISTING = {
    "triage": "operations-cases-list_cases_v1_cases_get",
    "router": "operations-queue-list_cases_v1_cases_get",
}
CASE = {
    "title": "Finance quote shows the wrong monthly payment",
    "description": "The finance calculator quotes 0% APR for a 48 month loan",
    "reporter": {"email": "ada@example.com"},
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium (skips without it, fails under CI)."""
    with headless_chromium() as running:
        yield running


@pytest.fixture(scope="module")
def case_id(pipeline: Pipeline) -> str:
    """A case posted to triage and routed, so both listings have something to show."""
    answer = httpx.post(
        f"{pipeline.triage.url}/v1/cases", json=CASE, headers=auth_headers("reporter"), timeout=30
    )
    assert answer.status_code == 201, answer.text
    case = str(answer.json()["id"])
    deadline = time.monotonic() + 60
    while True:  # routed: the router's read model has it
        seen = httpx.get(
            f"{pipeline.router.url}/v1/cases/{case}", headers=auth_headers("triager"), timeout=10
        )
        if seen.status_code == 200:
            return case
        assert time.monotonic() < deadline, f"case {case} never reached the router"
        time.sleep(0.2)


def _token(role: str, principal: str) -> str:
    claims = {"sub": principal, "roles": [role], "exp": int(time.time()) + 3600}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def _try_listing(page: Any, block_id: str) -> tuple[str, str]:
    """Execute the listing from its "Try it out" form; the status and body shown."""
    block = page.locator(f"#{block_id}")
    if not block.locator(".opblock-body").count():
        block.locator(".opblock-summary").first.click()
    try_out = block.locator("button.try-out__btn")
    if try_out.inner_text().strip() == "Try it out":
        try_out.click()
    block.locator("button.execute").click()
    status = block.locator(".live-responses-table .response .response-col_status").first
    status.wait_for()
    body = block.locator(".live-responses-table .response-col_description pre").first
    shown = status.inner_text().strip(), body.inner_text()
    block.locator("button.btn-clear").click()  # the next execution shows its own answer
    return shown


def _authorize(page: Any, scheme: str, value: str) -> None:
    """Fill `scheme`'s value in the Authorize dialog, authorize, close the dialog."""
    page.locator("button.authorize").first.click()
    dialog = page.locator(".dialog-ux .modal-ux")
    dialog.wait_for()
    section = dialog.locator(".auth-container", has=page.locator(f"h4:has-text('{scheme}')"))
    section.locator("input").fill(value)
    section.locator("button.authorize").click()
    section.locator("h6", has_text="Authorized").wait_for()  # the dialog took the value
    dialog.locator("button.btn-done").first.click()
    dialog.wait_for(state="detached")


@pytest.mark.parametrize("service", ["triage", "router"])
@pytest.mark.parametrize("scheme", ["apiKeyAuth", "bearerAuth"])
def test_authorize_button_lets_swagger_ui_call_a_protected_route(
    pipeline: Pipeline, browser: Any, case_id: str, service: str, scheme: str, tmp_path: Path
) -> None:
    base = getattr(pipeline, service).url
    value = TEST_KEYS["triager"] if scheme == "apiKeyAuth" else _token("triager", "lead@acme")
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        page.goto(f"{base}/docs")
        page.locator(f"#{LISTING[service]}").wait_for()

        status, body = _try_listing(page, LISTING[service])
        assert status == "401", body
        assert json.loads(body)["code"] == "unauthenticated"

        _authorize(page, scheme, value)
        status, body = _try_listing(page, LISTING[service])
        assert status == "200", body
        assert case_id in [item["id"] for item in json.loads(body)["items"]]

        page.reload()  # persistAuthorization: the dialog's value survives a reload
        page.locator(f"#{LISTING[service]}").wait_for()
        status, body = _try_listing(page, LISTING[service])
        assert status == "200", body
        page.screenshot(path=str(tmp_path / f"{service}-{scheme}.png"), full_page=False)
    finally:
        context.close()
    assert problems == []

"""A reporter reads and lists only the cases it submitted (another's is 404, as if it did not
exist: cases carry reporters' emails and customer ids); triagers read every case."""

from __future__ import annotations

import httpx

from devkit.testing import auth_headers
from servicekit.auth import hash_key
from triage.app import Container
from triage.entrypoints.http import create_app

OTHER_KEY = "another-support-form-key-000000"
CASE = {
    "title": "Checkout fails",
    "description": "The checkout page shows an error when I place order",
    "reporter": {"email": "ada@example.com", "customer_id": "C-1"},
}


async def test_a_reporter_sees_only_its_own_cases(container: Container) -> None:
    container.settings.api_keys = [
        {"name": "other-form", "roles": ["reporter"], "sha256": hash_key(OTHER_KEY)}
    ]
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://triage") as http:
        mine, other = auth_headers("reporter"), {"X-API-Key": OTHER_KEY}
        created = await http.post("/v1/cases", json=CASE, headers=mine)
        assert created.status_code == 201, created.text
        case_id = created.json()["id"]
        theirs = await http.post("/v1/cases", json={**CASE, "title": "Other"}, headers=other)
        their_id = theirs.json()["id"]

        own = await http.get(f"/v1/cases/{case_id}", headers=mine)
        assert own.status_code == 200
        assert own.json()["submission"]["reporter"]["email"] == "ada@example.com"
        hidden = await http.get(f"/v1/cases/{their_id}", headers=mine)
        assert hidden.status_code == 404 and hidden.json()["code"] == "case_not_found"
        listed = (await http.get("/v1/cases", headers=mine)).json()
        assert [c["id"] for c in listed["items"]] == [case_id]

        everything = (await http.get("/v1/cases", headers=auth_headers("triager"))).json()
        assert {c["id"] for c in everything["items"]} == {case_id, their_id}
        assert (
            await http.get(f"/v1/cases/{their_id}", headers=auth_headers("triager"))
        ).status_code == 200
    await container.committer.close()

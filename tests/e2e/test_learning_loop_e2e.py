"""The learning loop end to end, on the real processes and broker (`conftest.pipeline`).

Cases with a phrase the demo history never saw are routed; a triage lead moves each to
another squad through the router's API and resolves it; the corrections and resolutions
arrive in triage as labels over Kafka. A retrain holds the newest labels out, judges its
challenger not worse than the champion, refits and promotes it: the phrase now goes to the
lead's squad, here and on a second triage instance that was never restarted. A challenger
trained on label noise (imported, dated before the rest) is rejected and not served. A
rollback through the API restores the first model's routing on both instances.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from devkit.testing import auth_headers
from servicekit.db import make_engine
from triage.adapters.db import SqlCaseRepository
from triage.training import import_labels, read_label_csv

if TYPE_CHECKING:
    from conftest import Pipeline

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("pipeline-e2e")]

ROOT = Path(__file__).resolve().parents[2]
WAIT = 90.0
PHRASE = {
    "title": "Holographic wiper sticker peeling",
    "description": "The holographic wiper sticker on my windscreen is peeling, I need a "
    "new holographic wiper sticker",
}
CASES = 4


def until(what: str, probe: Callable[[], Any]) -> Any:
    """Poll `probe` until it returns something truthy (gives up after `WAIT` seconds)."""
    deadline = time.monotonic() + WAIT
    while True:
        got = probe()
        if got:
            return got
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.3)


def predicted(http: httpx.Client, base: str) -> tuple[str | None, str]:
    body = {"cases": [{**PHRASE, "reporter": {"name": "probe"}}]}
    resp = http.post(f"{base}/v1/predict", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()["results"][0]["squad"], resp.json()["model_version"]


def retrain(http: httpx.Client, base: str) -> dict[str, Any]:
    resp = http.post(f"{base}/v1/model/retrain")
    assert resp.status_code == 202, resp.text
    location = base + resp.headers["location"]

    def finished() -> dict[str, Any] | None:
        job = http.get(location).json()
        return job if job["status"] != "running" else None

    job = until("the retrain", finished)
    assert job["status"] == "succeeded", job
    return job


def serves(http: httpx.Client, base: str, version: str) -> Callable[[], bool]:
    return lambda: http.get(f"{base}/v1/model").json()["version"] == version


def write_noise(path: Path) -> None:
    """The first 1,500 demo history rows with their squads rotated, dated in 2024."""
    with (ROOT / "demo" / "history.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:1500]
    squads = sorted({r["squad"] for r in rows})
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["title", "description", "squad", "created_at"])
        for n, r in enumerate(rows):
            wrong = squads[(squads.index(r["squad"]) + 1) % len(squads)]
            writer.writerow(
                [r["title"], r["description"], wrong, f"2024-01-01T00:{n % 60:02d}:00Z"]
            )


def test_corrections_promote_a_challenger_noise_does_not_and_rollback_restores(
    pipeline: Pipeline,
) -> None:
    triage, router = pipeline.triage.url, pipeline.router.url
    replica = pipeline.start_triage_replica("triage-replica")
    with httpx.Client(timeout=30, headers=auth_headers()) as http:
        first, v0 = predicted(http, triage)
        target = next(s for s in sorted(pipeline.catalogue.owning_squads) if s != first)

        ids = []
        for n in range(CASES):
            body = {**PHRASE, "reporter": {"name": f"customer {n}"}, "priority": "P3"}
            resp = http.post(f"{triage}/v1/cases", json=body)
            assert resp.status_code == 201, resp.text
            ids.append(resp.json()["id"])
        for case_id in ids:
            until(
                f"router case {case_id}",
                lambda c=case_id: http.get(f"{router}/v1/cases/{c}").status_code == 200,
            )
            moved = http.post(
                f"{router}/v1/cases/{case_id}/assignment",
                json={"squad": target, "by": "lead@e2e.example", "note": "sticker stock"},
            )
            assert moved.status_code == 200, moved.text
            done = http.post(f"{router}/v1/cases/{case_id}/resolve", json={"by": "sam"})
            assert done.status_code == 200, done.text

        def labelled() -> bool:
            items = http.get(f"{triage}/v1/labels", params={"squad": target, "limit": 100})
            mine = [x for x in items.json()["items"] if x["case_id"] in ids]
            return {x["source"] for x in mine} >= {"resolution"} and len(mine) >= CASES

        until("the labels in triage", labelled)

        pipeline.wait_ready(replica)  # started on the first model, never restarted
        assert predicted(http, replica.url) == (first, v0)

        # 1. a retrain on corrections: judged not worse, refit, promoted, served everywhere
        job = retrain(http, triage)
        assert job["decision"] == "promoted", job
        v1 = job["new_version"]
        assert job["previous_version"] == v0 and v1 != v0
        evaluation = job["metrics"]["evaluation"]
        assert evaluation["holdout"] == 500 and evaluation["reasons"] == []
        assert predicted(http, triage) == (target, v1)
        until("the replica to serve the promoted model", serves(http, replica.url, v1))
        assert predicted(http, replica.url) == (target, v1)

        # 2. a challenger trained on label noise is judged worse: kept, never served
        noise = pipeline.tmp / "noise.csv"
        write_noise(noise)
        engine = make_engine(f"sqlite:///{pipeline.triage_db}")
        try:  # what `triage labels import` does, without starting another process
            added = import_labels(read_label_csv(noise), repo=SqlCaseRepository(engine))
        finally:
            engine.dispose()
        assert added == 1500
        worse = retrain(http, triage)
        assert worse["decision"] == "rejected", worse
        assert worse["metrics"]["evaluation"]["reasons"]
        shown = http.get(f"{triage}/v1/models/{worse['new_version']}").json()
        assert shown["status"] == "rejected"
        assert predicted(http, triage) == (target, v1)
        statuses = {
            m["version"]: m["status"] for m in http.get(f"{triage}/v1/models").json()["items"]
        }
        assert statuses[v0] == "retired" and statuses[v1] == "champion"

        # 3. rollback by one API call: the first model's routing, on both instances
        back = http.post(f"{triage}/v1/models/{v0}/promote")
        assert back.status_code == 200 and back.json()["status"] == "champion"
        assert predicted(http, triage) == (first, v0)
        until("the replica to roll back", serves(http, replica.url, v0))
        assert predicted(http, replica.url) == (first, v0)

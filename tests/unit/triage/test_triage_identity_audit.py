"""Triage's audit log names the admin who reloaded the model or the catalogue; the log
filters by time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from devkit.testing import auth_headers
from devkit.triage_fakes import FakeModelStore, KeywordClassifier
from servicekit.audit import Audited, AuditLog
from servicekit.db import make_engine
from triage.adapters.db import AUDIT, create_tables
from triage.bootstrap import build_container
from triage.config import Settings
from triage.entrypoints.http import create_app


async def test_reloads_are_audited_with_the_admin_who_asked(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    create_tables(engine)
    container = build_container(
        settings,
        store=FakeModelStore(lambda cat: KeywordClassifier(cat)),
        engine=engine,
        kafka=False,
    )
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://triage") as http:
        admin = auth_headers("admin")
        assert (await http.post("/v1/model/reload", headers=admin)).status_code == 200
        assert (await http.post("/v1/catalogue/reload", headers=admin)).status_code == 200
        refused = await http.post("/v1/model/reload", headers=auth_headers("triager"))
        assert refused.status_code == 403
        log = (await http.get("/v1/audit", headers=admin)).json()
    await container.committer.close()
    assert [(e["actor"], e["action"]) for e in log["items"]] == [
        ("admin", "catalogue.reload"),
        ("admin", "model.reload"),
    ]


def test_the_log_filters_by_time(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    create_tables(engine)
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    times = iter([at, at + timedelta(hours=1), at + timedelta(hours=2)])
    log = AuditLog(engine, AUDIT, now=lambda: next(times))
    for action in ("a", "b", "c"):
        log.record(Audited("admin", action))
    window = log.page(since=at + timedelta(hours=1), until=at + timedelta(hours=2))
    assert [e.action for e in window.items] == ["b"]
    assert window.items[0].at == at + timedelta(hours=1)
    engine.dispose()

"""Labels read back with their cases' text on SQLite and Postgres (`corrections`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from contracts import CaseSubmission
from contracts.catalogue import load_catalogue
from contracts.events import CaseReassigned
from devkit.triage_fakes import KeywordClassifier
from servicekit.db import make_engine
from triage import service
from triage.adapters.db import SqlCaseRepository
from triage.domain import Accepted, Intake, LabelFilter
from triage.ports import ModelState

DEMO = Path(__file__).resolve().parents[3] / "demo" / "catalogue"


@pytest.fixture(scope="module")
def repo(db_url: str):
    engine = make_engine(db_url)
    yield SqlCaseRepository(engine)
    engine.dispose()


def test_corrections_join_case_text_newest_first_and_filter(repo) -> None:
    cat = load_catalogue(DEMO)
    sub = CaseSubmission.model_validate(
        {
            "title": f"Promo {uuid4().hex[:6]}",
            "description": "code rejected",
            "reporter": {"name": "A"},
        }
    )
    (out,) = service.take_in(
        [Intake.of(sub)],
        repo=repo,
        state=ModelState(KeywordClassifier(cat), cat),
        options=service.TriageOptions(triaged_topic="triaged"),
    )
    assert isinstance(out, Accepted)
    squad = f"squad-{uuid4().hex[:6]}"  # unique, so rows of other tests do not interfere
    t0 = datetime.now(UTC).replace(microsecond=0)
    events = [
        CaseReassigned(
            case_id=cid,
            from_squad="checkout",
            to_squad=squad,
            predicted_squad=None,
            by=f"lead{i}",
            reassigned_at=t0 + timedelta(minutes=i),
        )
        for i, cid in enumerate([out.case.id, uuid4(), uuid4()])
    ]
    service.record_corrections([(str(uuid4()), e) for e in events], repo=repo)
    rows = repo.corrections(LabelFilter(squad=squad))
    assert [r.label.by for r in rows] == ["lead2", "lead1", "lead0"]
    oldest = rows[-1]
    assert (oldest.title, oldest.description) == (sub.title, "code rejected")
    assert oldest.case_squad == out.case.triage.squad and oldest.label.from_squad == "checkout"
    assert rows[0].title is None and rows[0].case_squad is None
    assert oldest.label.created_at == t0
    page = repo.corrections(LabelFilter(squad=squad), limit=1, before=rows[0].id)
    assert [r.id for r in page] == [rows[1].id]
    since = repo.corrections(LabelFilter(squad=squad, since=t0 + timedelta(minutes=1)))
    assert [r.label.by for r in since] == ["lead2", "lead1"]

"""`triage labels import` on a migrated SQLite database: line-numbered errors, idempotence,
time order; the imported labels are what a retrain reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from servicekit.db import make_engine
from triage.adapters.db import SqlCaseRepository
from triage.cli import _register_commands, app
from triage.migrations import upgrade

DEMO = Path(__file__).resolve().parents[3] / "demo" / "catalogue"


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    upgrade(url)
    _register_commands()
    return url


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())


def test_import_is_idempotent_and_keeps_the_time_order(db: str, tmp_path: Path) -> None:
    csv_file = tmp_path / "labels.csv"
    csv_file.write_text(
        "title,description,squad,created_at\n"
        "Card declined,twice at checkout,payments,2025-02-01T10:00:00Z\n"
        "Finance quote,APR looks wrong,financing,2025-01-01T10:00:00\n"
        '"Photos, missing",no photos on the listing,vehicle-inventory,2025-03-01T10:00:00+01:00\n',
        encoding="utf-8",
    )
    code, out = run(
        "labels", "import", str(csv_file), "--database-url", db, "--catalogue", str(DEMO)
    )
    assert code == 0, out
    assert "3 row(s), 3 new label(s), 0 already imported" in out
    code, out = run("labels", "import", str(csv_file), "--database-url", db)
    assert code == 0 and "0 new label(s), 3 already imported" in out, out
    engine = make_engine(db)
    try:
        stored = SqlCaseRepository(engine).corrections()
    finally:
        engine.dispose()
    assert len(stored) == 3
    by_time = sorted(stored, key=lambda c: c.label.created_at)
    assert [c.title for c in by_time] == ["Finance quote", "Card declined", "Photos, missing"]
    assert {c.label.source for c in stored} == {"import"}
    assert by_time[0].description == "APR looks wrong"


def test_a_bad_file_imports_nothing_and_names_every_bad_line(db: str, tmp_path: Path) -> None:
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text(
        "title,description,squad,time\n"
        "ok,fine,payments,2025-01-01T00:00:00Z\n"
        "no squad,here,,2025-01-01T00:00:00Z\n"
        ",,payments,2025-01-01T00:00:00Z\n"
        "bad time,here,payments,yesterday\n",
        encoding="utf-8",
    )
    code, out = run("labels", "import", str(csv_file), "--database-url", db)
    assert code == 2
    assert "nothing imported" in out
    assert "line 3: no squad" in out and "line 4: neither title nor description" in out
    assert "line 5: time 'yesterday' is not an ISO 8601 time" in out
    missing = tmp_path / "cols.csv"
    missing.write_text("title,body\nx,y\n", encoding="utf-8")
    code, out = run("labels", "import", str(missing), "--database-url", db)
    assert code == 2 and "missing column(s) description, squad" in out
    engine = make_engine(db)
    try:
        assert SqlCaseRepository(engine).corrections() == []
    finally:
        engine.dispose()

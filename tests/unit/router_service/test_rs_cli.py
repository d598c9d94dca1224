"""The `router` command: policy validation and database upgrade."""

from __future__ import annotations

from importlib import resources

from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from router.cli import app

runner = CliRunner()


def test_policy_validate_accepts_the_default_and_lists_problems(tmp_path):
    default = str(resources.files("router") / "default_policy.yaml")
    ok = runner.invoke(app, ["policy", "validate", default])
    assert ok.exit_code == 0 and "ok: policy 'default'" in ok.output

    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\nthresholds: {default: 3}\n")
    refused = runner.invoke(app, ["policy", "validate", str(bad)])
    assert refused.exit_code == 1
    assert "thresholds.default" in refused.output and "ack_deadlines" in refused.output


def test_db_upgrade_creates_the_router_tables(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = create_engine(url)
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"router_cases", "router_notifications", "router_outbox"} <= names
    assert "router_alembic_version" in names

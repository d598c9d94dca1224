"""`make run` and the state it keeps: another catalogue starts clean, nothing is deleted."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from pathlib import Path

import scripts.run_local
from scripts.run_local import MARKER, api_keys, prepare_state

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _state(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    (state / "model").mkdir(parents=True)
    (state / "model" / "manifest.json").write_text("{}")
    (state / "triage.db").write_text("cases")
    (state / "router.db").write_text("queue")
    (state / "broker.log").write_text("log")
    return state


def test_the_first_run_records_its_catalogue(tmp_path: Path) -> None:
    state = tmp_path / "fresh"
    assert prepare_state(state, Path("/cat/a"), "d1", own_databases=False) == ""
    assert json.loads((state / MARKER).read_text()) == {"path": "/cat/a", "digest": "d1"}


def test_the_same_catalogue_keeps_the_state_and_says_when_its_files_changed(
    tmp_path: Path,
) -> None:
    state = _state(tmp_path)
    prepare_state(state, Path("/cat/a"), "d1", own_databases=False)
    assert prepare_state(state, Path("/cat/a"), "d1", own_databases=False) == ""
    note = prepare_state(state, Path("/cat/a"), "d2", own_databases=False)
    assert "changed since the last run: keeping the cases" in note
    assert (state / "triage.db").read_text() == "cases"


def test_another_catalogue_starts_clean_and_moves_the_old_state_aside(tmp_path: Path) -> None:
    state = _state(tmp_path)
    prepare_state(state, Path("/cat/demo"), "d1", own_databases=False)

    note = prepare_state(state, Path("/cat/mine"), "d9", own_databases=False, now=NOW)

    aside = state / "previous" / "20260302T093000Z"
    assert "made with the catalogue /cat/demo: starting clean" in note and str(aside) in note
    assert not (state / "triage.db").exists() and not (state / "model").exists()
    assert (aside / "triage.db").read_text() == "cases"
    assert (aside / "router.db").read_text() == "queue"
    assert (aside / "model" / "manifest.json").exists()
    assert (state / "broker.log").exists()  # not state of the catalogue
    assert json.loads((state / MARKER).read_text())["path"] == "/cat/mine"


def test_databases_of_your_own_are_never_moved(tmp_path: Path) -> None:
    state = _state(tmp_path)
    prepare_state(state, Path("/cat/demo"), "d1", own_databases=True)
    note = prepare_state(state, Path("/cat/mine"), "d9", own_databases=True)
    assert "are yours, so their cases stay" in note
    assert (state / "triage.db").exists() and not (state / "previous").exists()


def test_a_state_from_before_the_marker_is_kept_with_a_note(tmp_path: Path) -> None:
    state = _state(tmp_path)
    note = prepare_state(state, Path("/cat/mine"), "d9", own_databases=False)
    assert "made before it recorded its catalogue" in note
    assert (state / "triage.db").exists()


def test_api_keys_are_generated_once_kept_private_and_overridden_by_the_environment(
    tmp_path: Path,
) -> None:
    first = api_keys(tmp_path, {})
    assert set(first) == {"ADMIN_API_KEY", "TRIAGER_API_KEY", "REPORTER_API_KEY"}
    assert len(set(first.values())) == 3 and all(len(v) >= 32 for v in first.values())
    kept = tmp_path / "api-keys.json"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert api_keys(tmp_path, {}) == first  # a restart keeps them
    mine = api_keys(tmp_path, {"ADMIN_API_KEY": "mine-mine-mine-mine"})
    assert mine == {**first, "ADMIN_API_KEY": "mine-mine-mine-mine"}
    assert json.loads(kept.read_text())["ADMIN_API_KEY"] == first["ADMIN_API_KEY"]


def test_every_child_of_the_runner_dies_with_it() -> None:
    """Each process the runner starts (steps and services) asks to die with it, so a runner
    killed with SIGKILL leaves nothing behind (`devkit.process.die_with_parent`)."""
    tree = ast.parse(Path(scripts.run_local.__file__).read_text())
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "subprocess"
        and node.func.attr in {"run", "Popen", "call", "check_call", "check_output"}
    ]
    assert len(calls) >= 4  # train, db upgrade, labels import, the services
    for call in calls:
        given = {k.arg: ast.unparse(k.value) for k in call.keywords}
        assert given.get("preexec_fn") == "die_with_parent()", f"line {call.lineno}"

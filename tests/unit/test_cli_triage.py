"""The `triage` CLI: train, predict, evaluate, and its error handling (exit 2)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from triage.classifier import LabelledCase
from triage.cli import app

runner = CliRunner()
History = Callable[..., list[LabelledCase]]


def _write_history(path: Path, cases: list[LabelledCase]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "description", "squad", "priority"])
        for i, c in enumerate(cases):
            writer.writerow([f"C{i}", c.title, c.description, c.squad, "P3"])
    return path


@pytest.fixture(scope="module")
def model_dir(
    tmp_path_factory: pytest.TempPathFactory, small_catalogue_dir: Path, history: History
) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    csv_path = _write_history(tmp / "history.csv", history(200))
    out = tmp / "model"
    result = runner.invoke(
        app,
        [
            "train",
            "--history",
            str(csv_path),
            "--catalogue",
            str(small_catalogue_dir),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output
    return out


def test_train_writes_an_artifact(model_dir: Path) -> None:
    assert (model_dir / "manifest.json").is_file()
    assert (model_dir / "model.joblib").is_file()


def test_cold_start_train_without_history(tmp_path: Path, small_catalogue_dir: Path) -> None:
    result = runner.invoke(
        app, ["train", "--catalogue", str(small_catalogue_dir), "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 0, result.output
    assert "cold start" in result.output
    assert (tmp_path / "m" / "manifest.json").is_file()


def test_predict_writes_the_output_csv(
    tmp_path: Path, model_dir: Path, small_catalogue_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "id,title,description\n"
        "a,Card problem,my card was declined twice\n"
        "b,,I need to reschedule delivery\n"
        'c,"Basket, again","items vanish from my basket"\n'
    )
    out = tmp_path / "out.csv"
    monkeypatch.setenv("CATALOGUE_PATH", str(small_catalogue_dir))
    result = runner.invoke(
        app, ["predict", "--model", str(model_dir), "--input", str(source), "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    assert [r["squad"] for r in rows] == ["payments", "delivery", "checkout"]
    assert list(rows[0]) == ["id", "squad", "confidence", "decision", "candidates"]
    for row in rows:
        pairs = [p.split(":") for p in row["candidates"].split(";")]
        assert pairs[0][0] == row["squad"]
        assert float(pairs[0][1]) == pytest.approx(float(row["confidence"]), abs=1e-4)
        assert row["decision"] in ("assign", "escalate")


def test_predict_threshold_from_environment(
    tmp_path: Path, model_dir: Path, small_catalogue_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,title,description\na,Card problem,my card was declined twice\n")
    out = tmp_path / "out.csv"
    monkeypatch.setenv("ASSIGN_THRESHOLD", "1.0")
    result = runner.invoke(
        app,
        [
            "predict",
            "--model",
            str(model_dir),
            "--catalogue",
            str(small_catalogue_dir),
            "--input",
            str(source),
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert next(csv.DictReader(out.read_text().splitlines()))["decision"] == "escalate"


def test_evaluate_prints_figures_and_writes_a_report(
    tmp_path: Path, model_dir: Path, small_catalogue_dir: Path, history: History
) -> None:
    csv_path = _write_history(tmp_path / "eval.csv", history(50, seed=11))
    report = tmp_path / "report"
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--model",
            str(model_dir),
            "--catalogue",
            str(small_catalogue_dir),
            "--history",
            str(csv_path),
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    for label in ("accuracy", "macro-F1", "top-3", "auto-assigned", "precision"):
        assert label in result.output
    page = (report / "index.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 3
    assert "Per squad" in page and "checkout" in page


def _assert_clean_error(result: object, *needles: str) -> None:
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert "Traceback" not in result.output  # type: ignore[attr-defined]
    assert result.exception is None or isinstance(result.exception, SystemExit)  # type: ignore[attr-defined]
    for needle in needles:
        assert needle in result.output  # type: ignore[attr-defined]


def test_bad_history_csv_exits_2(tmp_path: Path, small_catalogue_dir: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text,label\n1,hello,checkout\n")
    result = runner.invoke(
        app,
        [
            "train",
            "--history",
            str(bad),
            "--catalogue",
            str(small_catalogue_dir),
            "--out",
            str(tmp_path / "m"),
        ],
    )
    _assert_clean_error(result, "missing column", "title")


def test_bad_catalogue_exits_2(tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "x.yaml").write_text("kind: [oops\n")
    result = runner.invoke(
        app, ["train", "--catalogue", str(tmp_path / "cat"), "--out", str(tmp_path / "m")]
    )
    _assert_clean_error(result, "catalogue", "x.yaml")


def test_refused_model_exits_2(tmp_path: Path, small_catalogue_dir: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,title,description\na,b,c\n")
    result = runner.invoke(
        app,
        [
            "predict",
            "--model",
            str(tmp_path / "none"),
            "--catalogue",
            str(small_catalogue_dir),
            "--input",
            str(source),
            "--output",
            str(tmp_path / "o.csv"),
        ],
    )
    _assert_clean_error(result, "refused", "missing")


def test_predict_input_without_columns_exits_2(
    tmp_path: Path, model_dir: Path, small_catalogue_dir: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,text\na,b\n")
    result = runner.invoke(
        app,
        [
            "predict",
            "--model",
            str(model_dir),
            "--catalogue",
            str(small_catalogue_dir),
            "--input",
            str(source),
            "--output",
            str(tmp_path / "o.csv"),
        ],
    )
    _assert_clean_error(result, "title", "description")


def test_predict_decides_as_the_service_does(
    tmp_path: Path, model_dir: Path, small_catalogue_dir: Path, history: History
) -> None:
    from contracts import CaseSubmission
    from contracts.catalogue import load_catalogue
    from triage.adapters.model import DirModelStore

    cases = [
        *history(80, seed=21),
        LabelledCase("", "something about nothing in particular", "checkout"),
        LabelledCase("Slot booker", "payment gateway and slot booker fail", "delivery"),
    ]
    source = tmp_path / "in.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "description"])
        writer.writerows([f"c{i}", c.title, c.description] for i, c in enumerate(cases))
    out = tmp_path / "out.csv"
    args = ["predict", "--model", str(model_dir), "--catalogue", str(small_catalogue_dir)]
    result = runner.invoke(app, [*args, "--input", str(source), "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.read_text().splitlines()))
    catalogue = load_catalogue(small_catalogue_dir)
    served = DirModelStore(model_dir, target_precision=0.9).load(catalogue)
    submissions = [
        CaseSubmission(title=c.title or "(none)", description=c.description, reporter={"name": "a"})
        for c in cases
    ]
    answers = served.predict(submissions, threshold=None, margin=0.1)
    assert [r["decision"] for r in rows] == [a.decision.value for a in answers]
    assert [r["squad"] for r in rows] == [a.squad for a in answers]
    assert {r["decision"] for r in rows} == {"assign", "escalate"}

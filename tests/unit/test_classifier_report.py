"""The evaluation report: an HTML page that renders without errors in a real browser.

The browser test drives Debian's chromium (`/usr/bin/chromium`, installed by `.ci/run`)
through playwright's own protocol client; playwright's bundled browsers are never
downloaded. Without chromium it skips and says why (under CI, which installs it, it fails).
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import numpy as np

from tests.browser import headless_chromium
from triage.classifier import evaluate_model, write_report
from triage.classifier.report import OTHER, fold_confusion, render

from .conftest import make_history


def test_confusion_keeps_the_largest_squads_and_folds_the_rest() -> None:
    labels = ["a", "b", "c", "d"]
    matrix = np.array([[9, 1, 0, 0], [2, 5, 0, 1], [0, 0, 1, 0], [0, 1, 0, 2]])
    kept, folded = fold_confusion(labels, matrix, keep=2)
    assert kept == ["a", "b", OTHER]
    assert folded.sum() == matrix.sum()
    assert folded.tolist() == [[9, 1, 0], [2, 5, 1], [0, 1, 3]]


def test_squad_names_and_notes_are_escaped(trained) -> None:
    model, _ = trained
    report = evaluate_model(model, make_history(40, seed=8))
    report.notes.append("<script>alert(1)</script>")
    page = render(report, model, source="<b>cases.csv</b>")
    assert "<script>" not in page
    assert html.escape("<script>alert(1)</script>") in page
    assert "&lt;b&gt;cases.csv&lt;/b&gt;" in page


def test_report_renders_in_headless_chromium(trained, tmp_path: Path) -> None:
    model, _ = trained
    cases = make_history(120, seed=9)
    report = evaluate_model(model, cases)
    page_path = write_report(report, model, tmp_path / "report", source="cases.csv")
    assert page_path.name == "index.html"
    problems: list[str] = []
    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        page.goto(page_path.as_uri())
        svgs = page.locator("svg")
        assert svgs.count() == 3
        for i in range(3):
            box = svgs.nth(i).bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 200
        rows = page.locator("#squads tbody tr")
        assert rows.count() == len(model.squads)
        assert page.locator("#candidates tbody tr.chosen").count() == 1
        headline = page.locator("#headline").inner_text()
        assert "accuracy" in headline and "%" in headline
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert problems == []
    assert (tmp_path / "report.png").stat().st_size > 10_000
    shutil.rmtree(tmp_path / "report")

"""Fault-injection scenarios (`make test-faults`): collected only when `RUN_FAULTS=1`.

They start their own broker, sink and services, drive a few hundred cases each (`FAULT_CASES`,
default 300) and take a minute or two each, so `make test` leaves them out and CI runs them
as a step of their own. The figures of every scenario are printed at the end of the run and
written to `FAULTS_REPORT` when it names a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.load import Figures
from tests.faults.system import train_model

collect_ignore_glob = [] if os.environ.get("RUN_FAULTS") == "1" else ["test_*.py"]

FIGURES: list[Figures] = []


@pytest.fixture(scope="session")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained once on the demo catalogue and history."""
    return train_model(tmp_path_factory.mktemp("faults-model") / "model")


@pytest.fixture
def figures() -> Iterator[list[Figures]]:
    """Where a scenario puts its figures (printed at the end of the run)."""
    yield FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault scenarios")
    lines = [f.line() for f in FIGURES]
    for line in lines:
        terminalreporter.write_line(line)
    report = os.environ.get("FAULTS_REPORT")
    if report:
        Path(report).write_text("\n".join(lines) + "\n")

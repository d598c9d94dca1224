"""Tables `triage train` and `triage evaluate` print: the candidates and the thresholds."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from triage.classifier import OperatingPoint


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def print_selection(console: Console, info: dict[str, Any]) -> None:
    """The cross-validated candidates, the criterion and the choice (nothing without one)."""
    selection = info.get("selection")
    if not selection:
        return
    table = Table(
        title=f"Candidates ({selection['folds']}-fold cross-validation on "
        f"{selection['cases']} cases)"
    )
    for column in ("candidate", "accuracy", "macro-F1", "score", "seconds", ""):
        table.add_column(column, justify="left" if column == "candidate" else "right")
    for c in selection["candidates"]:
        table.add_row(
            c["name"],
            _pct(c["accuracy"]),
            _pct(c["macro_f1"]),
            _pct(c["score"]),
            f"{c['seconds']:.1f}",
            "chosen" if c["chosen"] else "",
        )
    console.print(table)
    console.print(f"criterion: {selection['criterion']}", highlight=False)


def print_operating_point(console: Console, op: OperatingPoint, *, limit: int = 40) -> None:
    """Per squad and overall: threshold, expected precision and coverage; rare squads."""
    table = Table(title=f"Thresholds for target precision {op.target:.0%} (expected, out-of-fold)")
    for column in ("squad", "history", "threshold", "from", "precision", "coverage"):
        table.add_column(column, justify="left" if column in ("squad", "from") else "right")
    ranked = sorted(op.squads.items(), key=lambda kv: (-kv[1].support, kv[0]))
    for name, p in ranked[:limit]:
        table.add_row(
            name,
            str(p.support),
            "never" if p.threshold is None else f"{p.threshold:.3f}",
            p.source,
            _pct(p.precision),
            _pct(p.coverage),
        )
    if len(ranked) > limit:
        table.add_row(f"... {len(ranked) - limit} more", "", "", "", "", "")
    glob = "never" if op.global_threshold is None else f"{op.global_threshold:.3f}"
    table.add_row(
        "[bold]overall[/]", str(op.n), glob, "global", _pct(op.precision), _pct(op.coverage)
    )
    console.print(table)
    if op.rare:
        console.print(
            f"rare squads (< {op.min_examples} history cases; assigned only when a case "
            f"names one of their components): {', '.join(op.rare)}",
            highlight=False,
        )

"""The `triage` command line: `train`, `predict`, `evaluate` (and more, registered later).

Other modules add commands to the same `app`: they define `@app.command()` functions
(importing `app` from here) and are listed in `COMMAND_MODULES`, which `main()` imports if
they exist. Errors (bad CSV, bad catalogue, refused model) print one paragraph and exit 2.
"""

from __future__ import annotations

import csv
import importlib
import os
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from contracts.catalogue import Catalogue, CatalogueError, load_catalogue
from triage.classifier import (
    DEFAULT_TARGET,
    MIN_EXAMPLES,
    CaseText,
    ClassifierError,
    EvaluationReport,
    TriageModel,
    evaluate_model,
    load_model,
    read_history_csv,
    save_model,
    train_model,
    write_report,
)
from triage.cli_tables import print_operating_point, print_selection

app = typer.Typer(
    name="triage",
    help="Predict the owning squad of support cases.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
#: Modules that register more commands on `app` (imported by `main()` when present).
COMMAND_MODULES = (
    "triage.cli_serve",
    "triage.cli_db",
    "triage.cli_retrain",
    "triage.cli_models",
)
EXIT_USAGE = 2
PREDICT_BATCH = 2000

console = Console()
errors = Console(stderr=True)

CatalogueOpt = Annotated[
    Path,
    typer.Option(
        "--catalogue",
        envvar="CATALOGUE_PATH",
        help="Backstage catalogue file or folder (env CATALOGUE_PATH).",
    ),
]
ModelOpt = Annotated[Path, typer.Option("--model", help="Model directory.")]
ThresholdOpt = Annotated[
    float | None,
    typer.Option(
        "--threshold",
        envvar="ASSIGN_THRESHOLD",
        min=0.0,
        max=1.0,
        help="One explicit confidence to assign for every squad, instead of the per-squad "
        "thresholds of the target precision (env ASSIGN_THRESHOLD).",
    ),
]
TargetOpt = Annotated[
    float,
    typer.Option(
        "--target-precision",
        envvar="TARGET_PRECISION",
        min=0.5,
        max=0.999,
        help="Precision the automatic assignments should reach; per-squad thresholds are "
        "derived for it (env TARGET_PRECISION).",
    ),
]


def fail(message: str) -> NoReturn:
    """Print `message` as one paragraph on stderr and exit with status 2."""
    errors.print(f"[bold red]error:[/] {message}", soft_wrap=True, markup=True, highlight=False)
    raise typer.Exit(EXIT_USAGE)


def cli_actor() -> str:
    """Who runs a command, for the audit log: `cli:` and the operating system's account on
    this host (a command has no API credential; the account is what the host vouches for)."""
    import getpass
    import socket

    return f"cli:{getpass.getuser()}@{socket.gethostname()}"


def _catalogue(path: Path) -> Catalogue:
    try:  # SERVICE_DELIVERY_GROUP as in the services: its group is never a training label
        return load_catalogue(path, service_delivery_group=os.environ.get("SERVICE_DELIVERY_GROUP"))
    except CatalogueError as exc:
        problems = "; ".join(str(i) for i in exc.issues)
        fail(f"the catalogue at {path} cannot be used ({len(exc.issues)} problem(s)): {problems}")


def print_report(report: EvaluationReport, title: str) -> None:
    """Print the headline figures of an evaluation as a table."""
    table = Table(title=title, show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    if report.n == 0:
        table.add_row("cases evaluated", "0")
    else:
        pct = lambda v: "-" if v is None else f"{100 * v:.1f}%"  # noqa: E731
        table.add_row("cases evaluated", str(report.n))
        table.add_row("accuracy", pct(report.accuracy))
        table.add_row("macro-F1", pct(report.macro_f1))
        table.add_row("top-3 accuracy", pct(report.top3_accuracy))
        at = (
            f"threshold {report.threshold}"
            if report.threshold is not None
            else f"target precision {report.target_precision}"
        )
        table.add_row(f"auto-assigned at {at}", pct(report.coverage))
        table.add_row("precision of auto-assigned", pct(report.precision))
        table.add_row("coverage at >= 90% precision", pct(report.coverage_at_90))
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}", highlight=False)


@app.command()
def train(
    catalogue: CatalogueOpt,
    out: Annotated[Path, typer.Option("--out", help="Directory to write the model to.")],
    history: Annotated[
        Path | None,
        typer.Option("--history", help="Labelled CSV (title,description,squad); optional."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    target: TargetOpt = DEFAULT_TARGET,
    min_examples: Annotated[
        int,
        typer.Option(
            "--min-examples",
            envvar="RETRAIN_MIN_EXAMPLES",
            min=1,
            help="History cases a squad needs to be assigned from history alone (env "
            "RETRAIN_MIN_EXAMPLES).",
        ),
    ] = MIN_EXAMPLES,
) -> None:
    """Train a model (catalogue-only cold start without --history) and print its evaluation.

    Candidates are cross-validated on the history and one is chosen; the report shows
    every candidate's scores, the out-of-fold evaluation, and per squad the threshold,
    expected precision and coverage for the target precision.
    """
    cat = _catalogue(catalogue)
    try:
        examples = read_history_csv(history) if history is not None else []
        model, report = train_model(
            examples, cat, progress=True, seed=seed, target=target, min_examples=min_examples
        )
        save_model(model, out)
    except ClassifierError as exc:
        fail(str(exc))
    print_selection(console, model.info)
    print_report(report, f"Out-of-fold evaluation of {model.version}")
    if model.operating is not None:
        print_operating_point(console, model.operating)
    console.print(
        f"model {model.version} ({len(model.squads)} squads, {model.scorer.kind}) trained in "
        f"{model.info.get('train_seconds')} s, written to {out}"
    )


@app.command()
def predict(
    model: ModelOpt,
    catalogue: CatalogueOpt,
    input: Annotated[Path, typer.Option("--input", help="CSV with id,title,description.")],
    output: Annotated[Path, typer.Option("--output", help="CSV to write predictions to.")],
    threshold: ThresholdOpt = None,
    target: TargetOpt = DEFAULT_TARGET,
    margin: Annotated[
        float,
        typer.Option(
            "--margin",
            envvar="SPAN_MARGIN",
            min=0.0,
            max=1.0,
            help="Top-2 gap under which a case spans squads (env SPAN_MARGIN).",
        ),
    ] = 0.1,
) -> None:
    """Predict squads for a CSV of cases; writes id,squad,confidence,decision,candidates.

    `decision` is what the service answers with the same settings (TARGET_PRECISION,
    ASSIGN_THRESHOLD, SPAN_MARGIN): per-squad thresholds for the target precision, or the
    explicit threshold.
    """
    loaded = _load(model, catalogue, target)
    rows = _read_cases(input)
    from rich.progress import track

    with output.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "squad", "confidence", "decision", "candidates"])
        starts = range(0, len(rows), PREDICT_BATCH)
        for start in track(starts, description="predicting", console=errors, transient=True):
            batch = rows[start : start + PREDICT_BATCH]
            cases = [CaseText(r[1], r[2], r[3]) for r in batch]
            results = loaded.predict(cases, threshold=threshold, margin=margin)
            for row, res in zip(batch, results, strict=True):
                writer.writerow(
                    [
                        row[0],
                        res.squad or "",
                        f"{res.confidence:.4f}",
                        res.decision.value,
                        ";".join(f"{c.squad}:{c.probability:.4f}" for c in res.candidates),
                    ]
                )
    console.print(f"{len(rows)} prediction(s) written to {output}")


@app.command()
def evaluate(
    model: ModelOpt,
    catalogue: CatalogueOpt,
    history: Annotated[Path, typer.Option("--history", help="Labelled CSV to evaluate on.")],
    threshold: ThresholdOpt = None,
    target: TargetOpt = DEFAULT_TARGET,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Directory to write an HTML report (index.html) to."),
    ] = None,
) -> None:
    """Evaluate a model on labelled cases; optionally write an HTML report with plots."""
    loaded = _load(model, catalogue, target)
    try:
        examples = read_history_csv(history)
    except ClassifierError as exc:
        fail(f"{exc}")
    result = evaluate_model(loaded, examples, threshold=threshold)
    print_report(result, f"Evaluation of {loaded.version} on {history}")
    if loaded.operating is not None:
        print_operating_point(console, loaded.operating)
    if report is not None:
        page = write_report(result, loaded, report, source=str(history))
        console.print(f"wrote {page}")


def _load(model: Path, catalogue: Path, target: float) -> TriageModel:
    cat = _catalogue(catalogue)
    try:
        return load_model(model, cat).use_target(target)
    except ClassifierError as exc:
        fail(f"the model at {model} was refused ({exc.code}): {exc}")


def _read_cases(path: Path) -> list[tuple[str, str, str, str | None]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            missing = [c for c in ("id", "title", "description") if c not in columns]
            if missing:
                fail(
                    f"{path}: missing column(s) {', '.join(missing)}; the input CSV needs a "
                    f"header with id,title,description (found: {', '.join(columns) or 'none'})"
                )
            return [
                (
                    row["id"] or "",
                    row["title"] or "",
                    row["description"] or "",
                    (row.get("component") or None),
                )
                for row in reader
            ]
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror or exc}")
    except (UnicodeDecodeError, csv.Error) as exc:
        fail(f"{path}: not a readable UTF-8 CSV: {exc}")


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    _register_commands()
    app()

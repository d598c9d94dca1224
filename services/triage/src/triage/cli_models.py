"""`triage labels import` and `triage models list|promote`: the learning loop's commands.

`labels import FILE.csv` stores a labelled history (columns `title,description,squad` and
an optional time column, see `training.read_label_csv`) as training labels: nothing is
imported when a row is bad (every problem is printed with its line number), and importing
the same rows again adds nothing. `models list` shows the registry; `models promote VERSION`
makes a version the champion (a rollback is promoting an earlier one); `models prune` applies
the retention rule (`MODEL_KEEP_VERSIONS`, see `training.prune`), `--dry-run` only lists.
Registered on `triage.cli.app` (listed in `cli.COMMAND_MODULES`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from triage.cli import _catalogue, app, cli_actor, console, fail

if TYPE_CHECKING:
    from sqlalchemy import Engine

labels_app = typer.Typer(help="Training labels.", no_args_is_help=True)
models_app = typer.Typer(help="The model registry.", no_args_is_help=True)
app.add_typer(labels_app, name="labels")
app.add_typer(models_app, name="models")

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="The triage database (default: env DATABASE_URL or the SQLite file).",
    ),
]


def _engine(database_url: str | None) -> Engine:
    from servicekit.db import make_engine
    from triage.config import Settings

    return make_engine(database_url or Settings().database_url)


@labels_app.command("import")
def import_labels(
    file: Annotated[Path, typer.Argument(help="CSV: title,description,squad[,created_at].")],
    database_url: DatabaseOpt = None,
    catalogue: Annotated[
        Path | None,
        typer.Option(
            "--catalogue",
            envvar="CATALOGUE_PATH",
            help="Warn about squads that are not owning squads of this catalogue.",
        ),
    ] = None,
) -> None:
    """Import a labelled CSV as training labels (idempotent)."""
    from sqlalchemy.exc import SQLAlchemyError

    from triage import training
    from triage.adapters.db import SqlCaseRepository

    try:
        labels = training.read_label_csv(file)
    except training.LabelFileError as exc:
        fail(str(exc))
    if catalogue is not None:
        unknown = training.squads_unknown(labels, _catalogue(catalogue))
        for squad, n in sorted(unknown.items()):
            console.print(
                f"warning: {n} row(s) of squad {squad!r}, not an owning squad of the "
                "catalogue: stored, but not trained on while the catalogue lacks it",
                highlight=False,
                soft_wrap=True,
            )
    engine = _engine(database_url)
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("importing labels", total=len(labels))
            added = training.import_labels(
                labels,
                repo=SqlCaseRepository(engine),
                advance=lambda n: progress.advance(task, n),
            )
    except SQLAlchemyError as exc:
        fail(f"cannot store the labels (is the database migrated? `triage db upgrade`): {exc}")
    finally:
        engine.dispose()
    console.print(
        f"{file}: {len(labels)} row(s), {added} new label(s), "
        f"{len(labels) - added} already imported",
        highlight=False,
        soft_wrap=True,
    )


@models_app.command("list")
def list_models(database_url: DatabaseOpt = None) -> None:
    """List the model versions, newest first, with their holdout comparison."""
    from sqlalchemy.exc import SQLAlchemyError

    from triage.adapters.registry import SqlModelRegistry

    engine = _engine(database_url)
    try:
        records = SqlModelRegistry(engine).versions()
    except SQLAlchemyError as exc:
        fail(f"cannot read the registry (is the database migrated? `triage db upgrade`): {exc}")
    finally:
        engine.dispose()
    table = Table(title="Model versions", show_header=True)
    for column in ("version", "status", "created", "holdout", "champion acc / F1", "own acc / F1"):
        table.add_column(column)
    for r in records:
        ev = r.evaluation
        theirs, mine = ev.get("champion") or {}, ev.get("challenger") or {}
        table.add_row(
            r.version,
            r.status,
            f"{r.created_at:%Y-%m-%d %H:%M}",
            str(ev.get("holdout", "-")),
            f"{theirs.get('accuracy', '-')} / {theirs.get('macro_f1', '-')}",
            f"{mine.get('accuracy', '-')} / {mine.get('macro_f1', '-')}",
        )
    console.print(table)


@models_app.command("promote")
def promote(
    version: Annotated[str, typer.Argument(help="The version to serve (e.g. to roll back).")],
    catalogue: Annotated[
        Path, typer.Option("--catalogue", envvar="CATALOGUE_PATH", help="The catalogue in force.")
    ],
    model_dir: Annotated[
        Path,
        typer.Option("--model-dir", envvar="MODEL_DIR", help="Model directory (env MODEL_DIR)."),
    ],
    database_url: DatabaseOpt = None,
) -> None:
    """Make a registered version the champion; running services follow within the poll delay."""
    from sqlalchemy.exc import SQLAlchemyError

    from servicekit.audit import Audited
    from triage import training
    from triage.adapters.model import DirModelStore
    from triage.adapters.registry import SqlModelRegistry
    from triage.errors import TriageError

    cat = _catalogue(catalogue)
    engine = _engine(database_url)
    try:
        registry = SqlModelRegistry(engine)
        champion = registry.champion()
        previous = {"previous_version": champion.version if champion else None}
        record, _ = training.promote(
            version,
            registry=registry,
            store=DirModelStore(model_dir),
            catalogue=cat,
            audit=Audited(cli_actor(), "model.promote", version, previous),
        )
    except TriageError as exc:
        fail(f"not promoted ({exc.code}): {exc.message}")
    except SQLAlchemyError as exc:
        fail(f"cannot read the registry (is the database migrated? `triage db upgrade`): {exc}")
    finally:
        engine.dispose()
    console.print(f"model {record.version} is the champion; services follow within the poll delay")


@models_app.command("prune")
def prune(
    model_dir: Annotated[
        Path,
        typer.Option("--model-dir", envvar="MODEL_DIR", help="Model directory (env MODEL_DIR)."),
    ] = Path(".state/model"),
    keep: Annotated[
        int | None,
        typer.Option(
            "--keep",
            min=1,
            help="Newest versions to keep besides the champion and the model in MODEL_DIR "
            "(default: env MODEL_KEEP_VERSIONS, 10).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be pruned.")
    ] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Delete the artifacts of old model versions; their registry records stay (`pruned`)."""
    from sqlalchemy.exc import SQLAlchemyError

    from triage import training
    from triage.adapters.model import DirModelStore
    from triage.adapters.registry import SqlModelRegistry
    from triage.config import Settings

    keep = keep or Settings().model_keep_versions
    if keep <= 0:
        console.print("MODEL_KEEP_VERSIONS=0: every version is kept", highlight=False)
        return
    engine = _engine(database_url)
    try:
        outcome = training.prune(
            registry=SqlModelRegistry(engine),
            store=DirModelStore(model_dir),
            keep=keep,
            dry_run=dry_run,
        )
    except SQLAlchemyError as exc:
        fail(f"cannot read the registry (is the database migrated? `triage db upgrade`): {exc}")
    finally:
        engine.dispose()
    verb = "would prune" if dry_run else "pruned"
    table = Table(title=f"Model versions {verb} (keeping the {keep} newest)", show_header=True)
    for column in ("version", "status", "created"):
        table.add_column(column)
    for r in outcome.versions:
        table.add_row(r.version, r.status, f"{r.created_at:%Y-%m-%d %H:%M}")
    console.print(table)
    for folder in outcome.folders:
        console.print(f"{'would delete' if dry_run else 'deleted'} {folder}", highlight=False)
    console.print(
        f"{verb} {len(outcome.versions)} version(s), {len(outcome.folders)} folder(s)"
        + (" (dry run: nothing changed)" if dry_run else ""),
        highlight=False,
    )

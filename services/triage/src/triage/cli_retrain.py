"""`triage retrain`: retrain offline from the history CSV and the corrections in the database.

The same training set and model layout as `POST /v1/model/retrain` (see `triage.training`
and `triage.adapters.model`): the new model is kept under `MODEL_DIR/versions/<version>/`
and installed in `MODEL_DIR`. A running service keeps its model until
`POST /v1/model/reload`. Registered on `triage.cli.app` (listed in `cli.COMMAND_MODULES`).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from triage.cli import CatalogueOpt, _catalogue, app, console, fail, print_report


@app.command()
def retrain(
    catalogue: CatalogueOpt,
    model_dir: Annotated[
        Path,
        typer.Option("--model-dir", envvar="MODEL_DIR", help="Model directory (env MODEL_DIR)."),
    ],
    history: Annotated[
        Path | None,
        typer.Option(
            "--history", help="Labelled CSV (title,description,squad); optional (env HISTORY_PATH)."
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Database holding the labels (default: env DATABASE_URL or the SQLite file).",
        ),
    ] = None,
) -> None:
    """Retrain on history plus stored corrections; print the counts and the evaluation."""
    from sqlalchemy.exc import SQLAlchemyError

    from servicekit.db import make_engine
    from triage import training
    from triage.adapters.db import SqlCaseRepository
    from triage.adapters.model import DirModelStore
    from triage.config import Settings
    from triage.errors import TriageError

    settings = Settings()
    cat = _catalogue(catalogue)
    engine = make_engine(database_url or settings.database_url)
    store = DirModelStore(
        model_dir,
        history_path=history or settings.history_path,
        target_precision=settings.target_precision,
    )
    try:
        result = training.retrain(
            repo=SqlCaseRepository(engine), store=store, catalogue=cat, progress=True
        )
    except TriageError as exc:
        fail(f"retraining failed ({exc.code}): {exc.message}")
    except SQLAlchemyError as exc:
        fail(f"cannot read the labels (is the database migrated? `triage db upgrade`): {exc}")
    finally:
        engine.dispose()
    table = Table(title="Training set", show_header=True)
    table.add_column("count")
    table.add_column("value", justify="right")
    for name, value in asdict(result.counts).items():
        table.add_row(name.replace("_", " "), str(value))
    console.print(table)
    if result.model.report is not None:
        print_report(result.model.report, f"Out-of-fold evaluation of {result.model.version}")
    console.print(f"model {result.model.version} written to {result.model.path} and installed")
    console.print(f"in {model_dir}; a running service picks it up on POST /v1/model/reload")

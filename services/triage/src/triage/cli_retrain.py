"""`triage retrain`: train a challenger offline and promote it only if it is not worse.

The same training set, holdout and promotion rule as `POST /v1/model/retrain` (see
`triage.training` and `triage.promotion`), run as a retrain job of `triage.jobs.RetrainJobs`
(the service's own: the same lease, job rows and recorded verdict) in the same registry: a
retrain running in a service makes this one stop with an error, and the other way round. A
promoted version is installed in `MODEL_DIR`; every running service follows the registry
within `MODEL_POLL_SECONDS`. Registered on `triage.cli.app` (listed in
`cli.COMMAND_MODULES`).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from triage.cli import CatalogueOpt, _catalogue, app, cli_actor, console, fail


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
            help="Database holding the labels and the registry (default: env DATABASE_URL or "
            "the SQLite file).",
        ),
    ] = None,
    min_examples: Annotated[
        int | None,
        typer.Option(
            "--min-examples",
            min=1,
            help="Cases a squad needs to be assigned from the text alone (default: env "
            "RETRAIN_MIN_EXAMPLES, 10).",
        ),
    ] = None,
) -> None:
    """Train a challenger on history plus stored labels; promote it if not worse."""
    from sqlalchemy.exc import SQLAlchemyError

    from servicekit.db import make_engine
    from triage import training
    from triage.adapters.db import SqlCaseRepository
    from triage.adapters.model import DirModelStore
    from triage.adapters.registry import SqlModelRegistry
    from triage.config import Settings
    from triage.errors import RetrainRunning, TriageError
    from triage.jobs import RetrainJobs

    settings = Settings()
    cat = _catalogue(catalogue)
    engine = make_engine(database_url or settings.database_url)
    store = DirModelStore(
        model_dir,
        history_path=history or settings.history_path,
        target_precision=settings.target_precision,
        min_examples=min_examples or settings.retrain_min_examples,
    )
    registry = SqlModelRegistry(engine)
    jobs = RetrainJobs(registry, lease_seconds=settings.retrain_lease_seconds)
    try:
        champion = training.adopt_champion(
            registry=registry, store=store, catalogue=cat, loaded=store.load(cat)
        )
        try:
            job = jobs.begin(champion.version, by=cli_actor())
        except RetrainRunning as exc:
            fail(f"retrain job {exc.job_id} is running; try again when it has finished")
        outcome = jobs.run(
            job,
            lambda: training.retrain(
                repo=SqlCaseRepository(engine),
                store=store,
                registry=registry,
                catalogue=cat,
                champion=champion,
                options=settings.retrain_options(),
                job_id=job.id,
                progress=True,
            ),
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
    for name, value in asdict(outcome.counts).items():
        table.add_row(name.replace("_", " "), str(value))
    console.print(table)
    print_evaluation(outcome.record.evaluation)
    if outcome.verdict.promote:
        console.print(f"model {outcome.record.version} promoted and installed in {model_dir}")
        console.print("running services switch to it within MODEL_POLL_SECONDS")
    else:
        console.print(f"model {outcome.record.version} rejected: the champion stays")
        for reason in outcome.verdict.reasons:
            console.print(f"  - {reason}", highlight=False)
    if outcome.pruned:
        console.print(
            f"pruned {len(outcome.pruned)} old version(s) (MODEL_KEEP_VERSIONS="
            f"{settings.model_keep_versions}): {', '.join(outcome.pruned)}",
            highlight=False,
            soft_wrap=True,
        )


def print_evaluation(evaluation: dict[str, object]) -> None:
    """The holdout comparison of champion and challenger as a table."""
    champion, challenger = evaluation.get("champion"), evaluation.get("challenger")
    if not isinstance(champion, dict) or not isinstance(challenger, dict):
        return
    table = Table(
        title=f"Holdout: the {evaluation.get('holdout')} most recent labelled cases",
        show_header=True,
    )
    table.add_column("figure")
    table.add_column(f"champion {evaluation.get('champion_version')}", justify="right")
    table.add_column("challenger", justify="right")
    for name in ("accuracy", "macro_f1", "assigned", "assign_precision"):
        table.add_row(name.replace("_", " "), str(champion.get(name)), str(challenger.get(name)))
    console.print(table)
    console.print(f"decision: {evaluation.get('decision')}", highlight=False)

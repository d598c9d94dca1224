"""`triage serve`: run the HTTP API, the outbox relay and the consumer in one process.

Registered on `triage.cli.app` (listed in `cli.COMMAND_MODULES`).
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from servicekit.logs import configure_logging
from triage.cli import app

log = logging.getLogger(__name__)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    consumer: Annotated[
        bool, typer.Option("--consumer/--no-consumer", help="Consume support.case.received.v1.")
    ] = True,
    migrate: Annotated[
        bool,
        typer.Option("--migrate/--no-migrate", help="Run the database migrations first."),
    ] = True,
) -> None:
    """Serve the triage API (configuration from the environment, see `triage.config`)."""
    import uvicorn

    from triage.bootstrap import build_container
    from triage.config import Settings
    from triage.entrypoints.http import create_app
    from triage.errors import TriageError
    from triage.migrations import upgrade

    settings = Settings()
    if not consumer:
        settings = settings.model_copy(update={"consumer_enabled": False})
    configure_logging(settings.log_level, settings.log_format)
    if migrate:
        upgrade(settings.database_url)
    try:
        container = build_container(settings)
    except TriageError as exc:
        from triage.cli import fail

        fail(f"cannot start: {exc.code}: {exc}")
    uvicorn.run(
        create_app(container),
        host=host,
        port=port,
        log_config=None,
        access_log=settings.access_log,
        timeout_graceful_shutdown=10,
    )

"""The `router` command: `serve`, `db upgrade`, `policy validate FILE`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="support-triage router: assign, notify, escalate.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
policy_app = typer.Typer(help="Routing policy.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(policy_app, name="policy")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
    migrate: Annotated[bool, typer.Option(help="Upgrade the database first.")] = True,
) -> None:
    """Serve the API and run the consumer, outbox relay, delivery worker and sweeper."""
    import uvicorn

    from router.bootstrap import build
    from router.config import Settings
    from router.entrypoints.http import create_app
    from servicekit.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    container = build(settings, migrate=migrate)
    # uvicorn handles SIGINT/SIGTERM: it stops accepting, then runs the lifespan shutdown,
    # which stops the consumer, relay, delivery worker and sweeper.
    uvicorn.run(create_app(container), host=host, port=port, log_config=None)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Upgrade the database named by DATABASE_URL."""
    from router.adapters.db import make_router_engine
    from router.adapters.migrate import upgrade
    from router.config import Settings

    engine = make_router_engine(Settings().database_url)
    try:
        upgrade(engine, revision)
    finally:
        engine.dispose()
    typer.echo(f"database at {revision}")


@policy_app.command("validate")
def policy_validate(
    file: Annotated[Path, typer.Argument(help="The policy YAML file.")],
    catalogue: Annotated[
        Path | None, typer.Option(help="Also check squad names against this catalogue.")
    ] = None,
) -> None:
    """Validate a routing policy file; exit 1 listing every problem."""
    from contracts.catalogue import CatalogueError, load_catalogue
    from router.domain.errors import PolicyError
    from router.domain.policy import load_policy

    try:
        policy = load_policy(file)
    except PolicyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    if catalogue is not None:
        try:
            unknown = policy.unknown_squads(load_catalogue(catalogue))
        except CatalogueError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from exc
        if unknown:
            typer.echo(
                f"thresholds or modes name squads the catalogue does not know: {unknown}",
                err=True,
            )
            raise typer.Exit(1)
    typer.echo(f"ok: policy {policy.name!r} (digest {policy.digest[:12]})")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()

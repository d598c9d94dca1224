"""`triage db upgrade` and `triage db revision`: the Alembic migrations of the triage tables.

Registered on `triage.cli.app` (listed in `cli.COMMAND_MODULES`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from triage.cli import app

db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")

UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help="Database URL (default: env DATABASE_URL or the SQLite file)."),
]


def _url(url: str | None) -> str:
    from triage.config import Settings

    return url or Settings().database_url


@db_app.command()
def upgrade(url: UrlOpt = None, revision: str = "head") -> None:
    """Migrate the database to the newest revision (or `--revision`)."""
    from triage.migrations import upgrade as run_upgrade

    run_upgrade(_url(url), revision)
    typer.echo(f"database at revision {revision}")


@db_app.command()
def revision(
    message: Annotated[str, typer.Option("-m", "--message", help="What the revision does.")],
    url: UrlOpt = None,
) -> None:
    """Autogenerate a revision against an up-to-date database; review it before committing."""
    from triage.migrations import revision as make_revision

    make_revision(_url(url), message)

"""Alembic migrations of the triage tables, packaged so they work when installed.

`upgrade(url)` brings a database to the newest revision (`triage db upgrade` calls it);
`revision(url, message)` autogenerates a new revision file to review. The version table is
`triage_alembic_version` and only `triage_*` tables are considered, so the router's tables
may live in the same database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

HERE = Path(__file__).resolve().parent
VERSION_TABLE = "triage_alembic_version"
PREFIX = "triage_"


def include_name(name: str | None, type_: str, _parent: Any) -> bool:
    """Only the triage tables count (the router's may share the database)."""
    if type_ == "table":
        return name is not None and name.startswith(PREFIX) and name != VERSION_TABLE
    return True


def alembic_config(url: str) -> Config:
    """A programmatic Alembic config for `url` (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision`."""
    command.upgrade(alembic_config(url), revision)


def revision(url: str, message: str) -> None:
    """Autogenerate a revision against the database at `url` (review it before committing)."""
    command.revision(alembic_config(url), message=message, autogenerate=True)


def schema_diff(url: str) -> list[Any]:
    """What autogenerate would change between the database at `url` and the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import triage.adapters.db  # noqa: F401  (registers the tables)
    from servicekit.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn,
                opts={
                    "include_name": include_name,
                    "compare_type": True,
                    "version_table": VERSION_TABLE,
                },
            )
            return list(compare_metadata(ctx, SQLModel.metadata))
    finally:
        engine.dispose()

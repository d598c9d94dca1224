"""Alembic environment for the triage tables (see `triage.migrations`)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlmodel import SQLModel

import triage.adapters.db  # noqa: F401  (registers the tables on SQLModel.metadata)
from servicekit.db import make_engine
from triage.migrations import VERSION_TABLE, include_name


def run() -> None:
    """Run the migrations online (the only mode this project uses)."""
    cfg = context.config
    connection = cfg.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = make_engine(cfg.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            _migrate(conn)
    finally:
        engine.dispose()


def _migrate(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        version_table=VERSION_TABLE,
        include_name=include_name,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.in_transaction():
        connection.commit()


run()

"""Alembic environment of the router (run programmatically by `router.adapters.migrate`)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from router.adapters.db import make_router_engine
from router.adapters.tables import metadata

VERSION_TABLE = "router_alembic_version"


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if _connection is not None:
    _run(_connection)
else:
    _engine = make_router_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with _engine.connect() as conn:
            _run(conn)
    finally:
        _engine.dispose()

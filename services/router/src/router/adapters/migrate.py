"""Database migrations of the router: Alembic, configured in code (no alembic.ini).

The scripts live in the `router/migrations` package; the version table is
`router_alembic_version`, so the router and triage can share one database.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("router") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind `engine` to `revision`."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


def revision(url: str, message: str) -> None:
    """Autogenerate a new migration from the table definitions (developers only)."""
    command.revision(alembic_config(url), message=message, autogenerate=True)

"""The audit log: who reloaded the model or the catalogue, or started a retrain, and when.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create `triage_audit_log` with its actor and action indexes."""
    op.create_table(
        "triage_audit_log",
        sa.Column("id", _PK, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
    )
    op.create_index("ix_triage_audit_log_actor_id", "triage_audit_log", ["actor", "id"])
    op.create_index("ix_triage_audit_log_action_id", "triage_audit_log", ["action", "id"])


def downgrade() -> None:
    """Drop the audit log."""
    op.drop_table("triage_audit_log")

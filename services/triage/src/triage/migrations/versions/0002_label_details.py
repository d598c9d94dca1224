"""Labels record who corrected a case, from which squad, and what triage had predicted.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the correction details (nullable: older labels lack them) and a squad index."""
    with op.batch_alter_table("triage_labels") as batch:
        batch.add_column(sa.Column("from_squad", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("predicted_squad", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("author", sa.String(length=200), nullable=True))
    op.create_index("ix_triage_labels_squad_id", "triage_labels", ["squad", "id"])


def downgrade() -> None:
    """Drop the correction details."""
    op.drop_index("ix_triage_labels_squad_id", table_name="triage_labels")
    with op.batch_alter_table("triage_labels") as batch:
        batch.drop_column("author")
        batch.drop_column("predicted_squad")
        batch.drop_column("from_squad")

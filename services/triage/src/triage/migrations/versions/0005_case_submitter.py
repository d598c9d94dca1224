"""Cases record who submitted them over HTTP, so a reporter reads only its own.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the submitting principal (null for Kafka intake and older cases) and its index."""
    with op.batch_alter_table("triage_cases") as batch:
        batch.add_column(sa.Column("submitted_by", sa.String(length=200), nullable=True))
    op.create_index("ix_triage_cases_submitted_by_id", "triage_cases", ["submitted_by", "id"])


def downgrade() -> None:
    """Drop the submitter."""
    op.drop_index("ix_triage_cases_submitted_by_id", table_name="triage_cases")
    with op.batch_alter_table("triage_cases") as batch:
        batch.drop_column("submitted_by")

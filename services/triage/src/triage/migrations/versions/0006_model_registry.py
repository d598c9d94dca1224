"""The learning loop: imported labels carry their text; model registry, retrain jobs, leases.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the label text and de-duplication key, and the registry's three tables."""
    with op.batch_alter_table("triage_labels") as batch:
        batch.add_column(sa.Column("title", sa.Text(), nullable=True))
        batch.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch.add_column(sa.Column("dedup_key", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_triage_labels_dedup_key", ["dedup_key"])
    op.create_table(
        "triage_models",
        sa.Column("version", sa.String(length=200), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("evaluation", sa.JSON(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("artifact", sa.LargeBinary(), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_triage_models_status", "triage_models", ["status"])
    op.create_table(
        "triage_retrain_jobs",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("previous_version", sa.String(length=200), nullable=False),
        sa.Column("new_version", sa.String(length=200), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
    )
    op.create_table(
        "triage_leases",
        sa.Column("name", sa.String(length=100), primary_key=True),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the registry and the label text."""
    op.drop_table("triage_leases")
    op.drop_table("triage_retrain_jobs")
    op.drop_index("ix_triage_models_status", table_name="triage_models")
    op.drop_table("triage_models")
    with op.batch_alter_table("triage_labels") as batch:
        batch.drop_constraint("uq_triage_labels_dedup_key", type_="unique")
        batch.drop_column("dedup_key")
        batch.drop_column("description")
        batch.drop_column("title")

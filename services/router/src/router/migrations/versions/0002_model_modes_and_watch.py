"""Model modes and the realised precision watch: the router's decision on each case (mode,
recommendation, suggested squad), automatic assignments and their corrections, squad modes
and their changes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("router_cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_mode", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("recommendation", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("suggested_squad", sa.String(length=200), nullable=True))
        batch_op.create_index(
            "ix_router_cases_model",
            ["predicted_squad", "model_mode", "received_at"],
            unique=False,
        )

    op.create_table(
        "router_auto_assignments",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("squad", sa.String(length=200), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("target_precision", sa.Float(), nullable=True),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("corrected_to", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["router_cases.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("router_auto_assignments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_router_auto_assignments_squad", ["squad", "assigned_at"], unique=False
        )

    op.create_table(
        "router_squad_modes",
        sa.Column("squad", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("squad"),
    )

    op.create_table(
        "router_squad_mode_changes",
        sa.Column("id", _PK, autoincrement=True, nullable=False),
        sa.Column("squad", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_mode", sa.String(length=10), nullable=False),
        sa.Column("to_mode", sa.String(length=10), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("router_squad_mode_changes", schema=None) as batch_op:
        batch_op.create_index("ix_router_squad_mode_changes_squad", ["squad", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("router_squad_mode_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_router_squad_mode_changes_squad")
    op.drop_table("router_squad_mode_changes")
    op.drop_table("router_squad_modes")
    with op.batch_alter_table("router_auto_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_router_auto_assignments_squad")
    op.drop_table("router_auto_assignments")
    with op.batch_alter_table("router_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_router_cases_model")
        batch_op.drop_column("suggested_squad")
        batch_op.drop_column("recommendation")
        batch_op.drop_column("model_mode")

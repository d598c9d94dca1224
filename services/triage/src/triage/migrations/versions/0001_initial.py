"""Initial schema: cases, processed event ids, labels, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the triage tables."""
    op.create_table(
        "triage_cases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("submission", sa.JSON(), nullable=False),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("squad", sa.String(length=200), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("external_ref", name="uq_triage_cases_external_ref"),
        sa.UniqueConstraint("idempotency_key", name="uq_triage_cases_idempotency_key"),
    )
    op.create_index("ix_triage_cases_squad_id", "triage_cases", ["squad", "id"])
    op.create_index("ix_triage_cases_decision_id", "triage_cases", ["decision", "id"])
    op.create_index("ix_triage_cases_source_id", "triage_cases", ["source", "id"])
    op.create_index("ix_triage_cases_priority_id", "triage_cases", ["priority", "id"])
    op.create_index("ix_triage_cases_received_at", "triage_cases", ["received_at"])
    op.create_table(
        "triage_processed_events",
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "triage_labels",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("squad", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_triage_labels_case_id", "triage_labels", ["case_id"])
    op.create_table(
        "triage_outbox",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=True),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    """Drop the triage tables."""
    op.drop_table("triage_outbox")
    op.drop_index("ix_triage_labels_case_id", table_name="triage_labels")
    op.drop_table("triage_labels")
    op.drop_table("triage_processed_events")
    for name in ("squad_id", "decision_id", "source_id", "priority_id", "received_at"):
        op.drop_index(f"ix_triage_cases_{name}", table_name="triage_cases")
    op.drop_table("triage_cases")

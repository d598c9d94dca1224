"""Router tables: cases read model, history, swarms, notifications, processed ids, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 18:10:34.407177
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "router_cases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(length=4), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("triaged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("predicted_squad", sa.String(length=200), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("matched_components", sa.JSON(), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("squad", sa.String(length=200), nullable=True),
        sa.Column("escalation_reason", sa.String(length=40), nullable=True),
        sa.Column("ack_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("moved_away_from", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("router_cases", schema=None) as batch_op:
        batch_op.create_index("ix_router_cases_ack", ["status", "ack_deadline"], unique=False)
        batch_op.create_index("ix_router_cases_priority", ["priority", "status"], unique=False)
        batch_op.create_index(
            "ix_router_cases_queue", ["status", "confidence", "received_at"], unique=False
        )
        batch_op.create_index(
            "ix_router_cases_reason", ["escalation_reason", "status"], unique=False
        )
        batch_op.create_index("ix_router_cases_received", ["received_at"], unique=False)
        batch_op.create_index("ix_router_cases_squad", ["squad", "status"], unique=False)

    op.create_table(
        "router_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=True),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "router_processed_events",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "router_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("from_squad", sa.String(length=200), nullable=True),
        sa.Column("to_squad", sa.String(length=200), nullable=True),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["router_cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("router_history", schema=None) as batch_op:
        batch_op.create_index("ix_router_history_at", ["at"], unique=False)
        batch_op.create_index("ix_router_history_case", ["case_id", "at"], unique=False)

    op.create_table(
        "router_notifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("squad", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("secret_env", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim_token", sa.String(length=36), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["router_cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "case_id", "kind", "squad", "channel", "event_key", name="uq_router_notifications_once"
        ),
    )
    with op.batch_alter_table("router_notifications", schema=None) as batch_op:
        batch_op.create_index("ix_router_notifications_case", ["case_id"], unique=False)
        batch_op.create_index(
            "ix_router_notifications_due", ["status", "next_attempt_at"], unique=False
        )

    op.create_table(
        "router_swarms",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("owner_squad", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["router_cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("router_swarms", schema=None) as batch_op:
        batch_op.create_index("ix_router_swarms_case", ["case_id"], unique=False)
        batch_op.create_index("ix_router_swarms_status", ["status", "opened_at"], unique=False)

    op.create_table(
        "router_swarm_members",
        sa.Column("swarm_id", sa.String(length=36), nullable=False),
        sa.Column("squad", sa.String(length=200), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invited_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["swarm_id"],
            ["router_swarms.id"],
        ),
        sa.PrimaryKeyConstraint("swarm_id", "squad"),
    )
    op.create_table(
        "router_swarm_notes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("swarm_id", sa.String(length=36), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["swarm_id"],
            ["router_swarms.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("router_swarm_notes", schema=None) as batch_op:
        batch_op.create_index("ix_router_swarm_notes_swarm", ["swarm_id", "at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("router_swarm_notes", schema=None) as batch_op:
        batch_op.drop_index("ix_router_swarm_notes_swarm")

    op.drop_table("router_swarm_notes")
    op.drop_table("router_swarm_members")
    with op.batch_alter_table("router_swarms", schema=None) as batch_op:
        batch_op.drop_index("ix_router_swarms_status")
        batch_op.drop_index("ix_router_swarms_case")

    op.drop_table("router_swarms")
    with op.batch_alter_table("router_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_router_notifications_due")
        batch_op.drop_index("ix_router_notifications_case")

    op.drop_table("router_notifications")
    with op.batch_alter_table("router_history", schema=None) as batch_op:
        batch_op.drop_index("ix_router_history_case")
        batch_op.drop_index("ix_router_history_at")

    op.drop_table("router_history")
    op.drop_table("router_processed_events")
    op.drop_table("router_outbox")
    with op.batch_alter_table("router_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_router_cases_squad")
        batch_op.drop_index("ix_router_cases_received")
        batch_op.drop_index("ix_router_cases_reason")
        batch_op.drop_index("ix_router_cases_queue")
        batch_op.drop_index("ix_router_cases_priority")
        batch_op.drop_index("ix_router_cases_ack")

    op.drop_table("router_cases")

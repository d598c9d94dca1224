"""Idempotency keys and external_refs are unique per submitter (`ref_scope`), not globally.

A Kafka submitter's scope is `kafka:<CloudEvent source>`, an HTTP client's `http:<client>`.
Cases stored before have the empty scope: their keys still de-duplicate among themselves,
never against a scoped submitter's.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add `ref_scope` and make the two unique keys per scope."""
    with op.batch_alter_table("triage_cases") as batch:
        batch.add_column(
            sa.Column("ref_scope", sa.String(length=300), nullable=False, server_default="")
        )
        batch.drop_constraint("uq_triage_cases_external_ref", type_="unique")
        batch.drop_constraint("uq_triage_cases_idempotency_key", type_="unique")
        batch.create_unique_constraint(
            "uq_triage_cases_scope_external_ref", ["ref_scope", "external_ref"]
        )
        batch.create_unique_constraint(
            "uq_triage_cases_scope_idempotency_key", ["ref_scope", "idempotency_key"]
        )


def downgrade() -> None:
    """Global keys again (fails if two scopes used the same key)."""
    with op.batch_alter_table("triage_cases") as batch:
        batch.drop_constraint("uq_triage_cases_scope_idempotency_key", type_="unique")
        batch.drop_constraint("uq_triage_cases_scope_external_ref", type_="unique")
        batch.create_unique_constraint("uq_triage_cases_idempotency_key", ["idempotency_key"])
        batch.create_unique_constraint("uq_triage_cases_external_ref", ["external_ref"])
        batch.drop_column("ref_scope")

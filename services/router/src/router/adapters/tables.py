"""The router's tables (all prefixed `router_`), on the router's own `MetaData`.

The router keeps its own `MetaData` rather than `SQLModel.metadata`: triage and router are
imported into one process by the end-to-end tests, and a shared metadata would mix their
tables. Migrations under `router/migrations/` create exactly these tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

from servicekit.audit import audit_table
from servicekit.outbox import outbox_table
from servicekit.utc import as_utc


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return as_utc(value)


metadata = MetaData()
_ID = String(36)
_PK = BigInteger().with_variant(Integer, "sqlite")

cases = Table(
    "router_cases",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("priority", String(4), nullable=False),
    Column("source", String(32), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("triaged_at", UTCDateTime),
    Column("predicted_squad", String(200)),
    Column("confidence", Float),
    Column("candidates", JSON, nullable=False),
    Column("matched_components", JSON, nullable=False),
    Column("model_version", String(200)),
    Column("status", String(20), nullable=False),
    Column("squad", String(200)),
    Column("escalation_reason", String(40)),
    Column("ack_deadline", UTCDateTime),
    Column("moved_away_from", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False, default=0),
    Column("model_mode", String(10)),
    Column("recommendation", JSON),
    Column("suggested_squad", String(200)),
    Index("ix_router_cases_queue", "status", "confidence", "received_at"),
    Index("ix_router_cases_squad", "squad", "status"),
    Index("ix_router_cases_reason", "escalation_reason", "status"),
    Index("ix_router_cases_priority", "priority", "status"),
    Index("ix_router_cases_received", "received_at"),
    Index("ix_router_cases_ack", "status", "ack_deadline"),
    Index("ix_router_cases_model", "predicted_squad", "model_mode", "received_at"),
)

history = Table(
    "router_history",
    metadata,
    Column("id", _PK, primary_key=True, autoincrement=True),
    Column("case_id", _ID, ForeignKey("router_cases.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("action", String(20), nullable=False),
    Column("from_squad", String(200)),
    Column("to_squad", String(200)),
    Column("by", String(200), nullable=False),
    Column("note", Text),
    Column("reason", String(40)),
    Index("ix_router_history_case", "case_id", "at"),
    Index("ix_router_history_at", "at"),
)

swarms = Table(
    "router_swarms",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("case_id", _ID, ForeignKey("router_cases.id"), nullable=False),
    Column("status", String(10), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("owner_squad", String(200)),
    Column("outcome", Text),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),
    Index("ix_router_swarms_case", "case_id"),
    Index("ix_router_swarms_status", "status", "opened_at"),
)

swarm_members = Table(
    "router_swarm_members",
    metadata,
    Column("swarm_id", _ID, ForeignKey("router_swarms.id"), primary_key=True),
    Column("squad", String(200), primary_key=True),
    Column("joined_at", UTCDateTime, nullable=False),
    Column("invited_by", String(200), nullable=False),
)

swarm_notes = Table(
    "router_swarm_notes",
    metadata,
    Column("id", _PK, primary_key=True, autoincrement=True),
    Column("swarm_id", _ID, ForeignKey("router_swarms.id"), nullable=False),
    Column("author", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_router_swarm_notes_swarm", "swarm_id", "at"),
)

notifications = Table(
    "router_notifications",
    metadata,
    Column("id", _ID, primary_key=True),
    Column("case_id", _ID, ForeignKey("router_cases.id"), nullable=False),
    Column("squad", String(200), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("address", Text, nullable=False),
    Column("secret_env", String(200)),
    Column("kind", String(20), nullable=False),
    Column("event_key", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claim_token", String(36)),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    UniqueConstraint(
        "case_id", "kind", "squad", "channel", "event_key", name="uq_router_notifications_once"
    ),
    Index("ix_router_notifications_due", "status", "next_attempt_at"),
    Index("ix_router_notifications_case", "case_id"),
)

processed_events = Table(
    "router_processed_events",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("processed_at", UTCDateTime, nullable=False),
)

auto_assignments = Table(
    "router_auto_assignments",
    metadata,
    Column("case_id", _ID, ForeignKey("router_cases.id"), primary_key=True),
    Column("squad", String(200), nullable=False),
    Column("assigned_at", UTCDateTime, nullable=False),
    Column("target_precision", Float),
    Column("corrected_at", UTCDateTime),
    Column("corrected_to", String(200)),
    Index("ix_router_auto_assignments_squad", "squad", "assigned_at"),
)

squad_modes = Table(
    "router_squad_modes",
    metadata,
    Column("squad", String(200), primary_key=True),
    Column("mode", String(10), nullable=False),
    Column("since", UTCDateTime),
    Column("reason", Text, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("changed_by", String(200), nullable=False),
)

squad_mode_changes = Table(
    "router_squad_mode_changes",
    metadata,
    Column("id", _PK, primary_key=True, autoincrement=True),
    Column("squad", String(200), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("from_mode", String(10), nullable=False),
    Column("to_mode", String(10), nullable=False),
    Column("by", String(200), nullable=False),
    Column("note", Text),
    Index("ix_router_squad_mode_changes_squad", "squad", "at"),
)

outbox = outbox_table(metadata, "router_outbox")
audit_log = audit_table(metadata, "router_audit_log")

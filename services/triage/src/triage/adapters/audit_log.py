"""Triage's audit log table (`servicekit.audit`), created by migration 0004.

Its own module so that both the case repository (`triage.adapters.db`) and the model
registry (`triage.adapters.registry`, whose promotions and retrain jobs write their entry in
their own transaction) use the one definition.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlmodel import SQLModel

from servicekit.audit import audit_table

AUDIT: Table = (
    SQLModel.metadata.tables["triage_audit_log"]
    if "triage_audit_log" in SQLModel.metadata.tables
    else audit_table(SQLModel.metadata, "triage_audit_log")
)

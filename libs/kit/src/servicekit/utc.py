"""Datetimes in UTC, whatever gave them: SQLite hands stored datetimes back naive (they were
written in UTC), a CSV may carry an ISO 8601 time without an offset (taken as UTC)."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime) -> datetime:
    """`value` as an aware datetime in UTC; a naive one is taken to be in UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


__all__ = ["as_utc"]

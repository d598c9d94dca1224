"""Test events written straight into an outbox table (what a use case's transaction does)."""

from __future__ import annotations

from sqlalchemy import Engine, Table, insert

from contracts.envelope import CloudEvent
from contracts.problems import FieldError
from servicekit.outbox import outbox_rows


def sample_events(first: int, n: int) -> list[CloudEvent]:
    """`n` small events, subjects `first`... (a `FieldError` as their data)."""
    return [
        CloudEvent.of(
            type="test.v1",
            source="/test",
            subject=str(i),
            data=FieldError(loc="a", message=str(i), type="t"),
        )
        for i in range(first, first + n)
    ]


def add_to_outbox(
    engine: Engine, table: Table, topic: str, first: int, n: int, *, keys: int
) -> list[str]:
    """Store `n` test events for `topic` in `table`, keyed over `keys` keys; their ids."""
    events = sample_events(first, n)
    with engine.begin() as conn:
        conn.execute(
            insert(table), outbox_rows((topic, e, f"k{i % keys}") for i, e in enumerate(events))
        )
    return [e.id for e in events]

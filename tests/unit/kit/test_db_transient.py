"""`is_transient`: which storage errors a consumer retries and which it dead-letters."""

from __future__ import annotations

from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from servicekit.db import is_transient


def test_data_errors_and_bugs_are_not_transient() -> None:
    assert not is_transient(DataError("INSERT", {}, ValueError("value too long")))
    assert not is_transient(IntegrityError("INSERT", {}, ValueError("duplicate key")))
    assert not is_transient(StatementError("bad value", "INSERT", {}, TypeError("naive")))
    assert not is_transient(ValueError("a bug"))


def test_an_unreachable_or_busy_database_is_transient() -> None:
    assert is_transient(OperationalError("SELECT", {}, ValueError("connection refused")))
    assert is_transient(ProgrammingError("SELECT", {}, ValueError("no such table")))
    assert is_transient(PoolTimeout("QueuePool limit reached"))
    assert is_transient(ConnectionRefusedError())

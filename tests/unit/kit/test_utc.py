"""`as_utc`: a naive datetime is taken as UTC, an aware one is converted to UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from servicekit.utc import as_utc


def test_a_naive_datetime_is_taken_as_utc() -> None:
    assert as_utc(datetime(2026, 3, 2, 9, 30)) == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert as_utc(datetime(2026, 3, 2, 9, 30)).tzinfo is UTC


def test_an_aware_datetime_is_converted_to_utc() -> None:
    paris = datetime(2026, 3, 2, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    converted = as_utc(paris)
    assert converted.tzinfo is UTC and converted.hour == 9 and converted == paris

"""Opaque keyset cursors: the one paging mechanism of both services.

A list endpoint sorts its rows by a key that ends in a unique column (e.g. `(opened_at, id)`)
and answers `limit` rows plus `next_cursor`, the key of the page's last row. The next page is
the rows strictly after that key in the sort order (keyset paging: rows inserted meanwhile
never shift or repeat a later page, and the database seeks instead of skipping an offset).

`encode_cursor(scope, *key)` makes the opaque cursor: URL-safe base64 (unpadded) of a JSON
array `[scope, *key]`; `scope` names the listing, so one endpoint's cursor is refused by
another. `decode_cursor(cursor, scope, *parsers)` gives the key back, each part checked by
its parser (`as_str`, `as_uuid`, `as_datetime`, `as_int`, `as_float`, `optional(...)`).
Anything else -- not base64, not JSON, another scope, wrong arity or types, longer than
`MAX_CURSOR_LENGTH` -- raises `InvalidCursor` (HTTP 422 `invalid_cursor` naming
`query.cursor`), never another exception. 422, not 400: the request is well-formed and one
query parameter's value is wrong, which is how FastAPI answers every other invalid query
parameter (422 `validation_error` with `query.<name>`), so a client meets one status for "a
parameter is wrong" in both services.

`IsoDateTime` is the type of a date-time query parameter of either service: ISO 8601 text
with an offset, never a bare number.

This module imports nothing beyond the standard library, pydantic and `contracts`, so service
layers may use it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, TypeVar
from uuid import UUID

from pydantic import AwareDatetime, BeforeValidator

from contracts.problems import FieldError

MAX_CURSOR_LENGTH = 512
CURSOR_LOC = "query.cursor"

_T = TypeVar("_T")
Parser = Callable[[object], Any]


class InvalidCursor(Exception):
    """A cursor that is not a `next_cursor` the endpoint gave out (HTTP 422)."""

    code: ClassVar[str] = "invalid_cursor"

    def __init__(self, message: str = "cursor must be a value returned as next_cursor") -> None:
        super().__init__(message)
        self.message = message

    def field_errors(self) -> list[FieldError]:
        """The problem body's `errors`: the cursor query parameter."""
        return [FieldError(loc=CURSOR_LOC, message=self.message, type=self.code)]


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if value is None or isinstance(value, str | int | float):
        return value
    raise TypeError(f"cannot put {type(value).__name__} in a cursor")


def encode_cursor(scope: str, *key: object) -> str:
    """The opaque cursor of a page's last row.

    Args:
        scope: Names the listing (e.g. `"swarms"`).
        *key: The row's sort key: str, int, float, None, timezone-aware datetime or UUID.
    """
    raw = json.dumps([scope, *map(_plain, key)], separators=(",", ":"), allow_nan=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, scope: str, *parsers: Parser) -> tuple[Any, ...]:
    """The sort key inside a cursor given out for `scope`.

    Args:
        cursor: The client's `cursor` query parameter.
        scope: The listing the cursor must belong to.
        *parsers: One per key part, e.g. `as_datetime, as_uuid`.

    Raises:
        InvalidCursor: The cursor is not one `encode_cursor(scope, ...)` made.
    """
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor()
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        data = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise InvalidCursor() from exc
    if not isinstance(data, list) or len(data) != len(parsers) + 1 or data[0] != scope:
        raise InvalidCursor()
    try:
        return tuple(parse(value) for parse, value in zip(parsers, data[1:], strict=True))
    except (TypeError, ValueError) as exc:
        raise InvalidCursor() from exc


def as_str(value: object) -> str:
    """A text value."""
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def as_uuid(value: object) -> UUID:
    """A UUID written as text."""
    if not isinstance(value, str):
        raise TypeError("not a string")
    return UUID(value)


def as_datetime(value: object) -> datetime:
    """A timezone-aware ISO 8601 datetime, in UTC."""
    if not isinstance(value, str):
        raise TypeError("not a string")
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise ValueError("naive datetime")
    try:
        return at.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00+14:00 is before year 1 in UTC
        raise ValueError("datetime out of range") from exc


def as_int(value: object) -> int:
    """An integer (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


def as_float(value: object) -> float:
    """A finite number (NaN and infinities are refused: they do not compare like keys)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def optional(parse: Callable[[object], _T]) -> Callable[[object], _T | None]:
    """`parse`, or None for a JSON null."""

    def parse_optional(value: object) -> _T | None:
        return None if value is None else parse(value)

    return parse_optional


def iso_datetime_text(value: object) -> object:
    """Refuse a query value that is not ISO 8601 text (pydantic would read `172` as seconds
    since 1970); pass everything else on to the datetime validation."""
    if not isinstance(value, str):
        return value
    try:
        float(value)
    except ValueError:
        return value
    raise ValueError("must be an ISO 8601 date-time with an offset, e.g. 2026-03-01T00:00:00Z")


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(iso_datetime_text)]
"""A query parameter's date-time: ISO 8601 text with an offset (never a number)."""

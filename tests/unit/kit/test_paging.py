"""servicekit.paging: the one opaque keyset cursor codec of both services."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from uuid import UUID

import pytest

from servicekit.paging import (
    MAX_CURSOR_LENGTH,
    InvalidCursor,
    as_datetime,
    as_float,
    as_int,
    as_uuid,
    decode_cursor,
    encode_cursor,
    optional,
)

AT = datetime(2026, 3, 2, 9, 30, 0, 123456, tzinfo=UTC)
ID = UUID("0190a1b2-0000-7000-8000-00000000abcd")


def _raw(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_a_key_comes_back_exactly() -> None:
    cursor = encode_cursor("queue", 0.1 + 0.2, AT, ID)
    assert decode_cursor(cursor, "queue", optional(as_float), as_datetime, as_uuid) == (
        0.1 + 0.2,
        AT,
        ID,
    )
    unsure = encode_cursor("queue", None, AT, ID)
    assert decode_cursor(unsure, "queue", optional(as_float), as_datetime, as_uuid)[0] is None
    assert decode_cursor(encode_cursor("labels", 42), "labels", as_int) == (42,)


def test_cursors_are_url_safe_and_opaque() -> None:
    cursor = encode_cursor("swarms", AT, ID)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert "swarms" not in cursor and str(ID) not in cursor


@pytest.mark.parametrize(
    "cursor",
    [
        "²",
        "9" * 10_000,
        "",
        "not base64!",
        "=" * 8,
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _raw("swarms"),
        _raw({"scope": "swarms"}),
        _raw(["labels", AT.isoformat(), str(ID)]),  # another listing's scope
        _raw(["swarms", AT.isoformat()]),  # too short
        _raw(["swarms", AT.isoformat(), str(ID), 1]),  # too long
        _raw(["swarms", "2026-03-02T09:30:00", str(ID)]),  # naive time
        _raw(["swarms", 5, str(ID)]),
        _raw(["swarms", AT.isoformat(), "not-a-uuid"]),
        _raw(["swarms", AT.isoformat(), None]),
        "W" * (MAX_CURSOR_LENGTH + 1),
        "[" * 400,
    ],
)
def test_anything_but_a_cursor_of_this_listing_is_invalid_cursor(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as caught:
        decode_cursor(cursor, "swarms", as_datetime, as_uuid)
    error = caught.value
    assert error.code == "invalid_cursor"
    assert [e.loc for e in error.field_errors()] == ["query.cursor"]


@pytest.mark.parametrize("value", [True, "3", 3.5, None])
def test_an_integer_part_must_be_an_integer(value: object) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(_raw(["labels", value]), "labels", as_int)


def test_a_number_part_refuses_booleans_and_text() -> None:
    assert decode_cursor(_raw(["queue", 1]), "queue", as_float) == (1.0,)
    for value in (True, "0.5"):
        with pytest.raises(InvalidCursor):
            decode_cursor(_raw(["queue", value]), "queue", as_float)


def test_only_plain_values_go_into_a_cursor() -> None:
    with pytest.raises(TypeError):
        encode_cursor("queue", object())
    with pytest.raises(ValueError):
        encode_cursor("queue", float("nan"))


@pytest.mark.parametrize("text", ["172", "5.7e-293", "nan", "-1", "2026-03-01T00:00:00"])
def test_a_query_date_time_is_iso_text_with_an_offset(text: str) -> None:
    from pydantic import TypeAdapter, ValidationError

    from servicekit.paging import IsoDateTime

    with pytest.raises(ValidationError):
        TypeAdapter(IsoDateTime).validate_python(text)
    at = TypeAdapter(IsoDateTime).validate_python("2026-03-01T00:00:00+01:00")
    assert at.utcoffset() is not None

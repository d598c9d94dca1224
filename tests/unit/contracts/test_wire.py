"""CloudEvents Kafka binding: binary encode, binary and structured decode, error codes."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest

from contracts import CaseSubmission, topics
from contracts.envelope import JSON, CloudEvent
from contracts.wire import Mode, WireError, dead_letter, decode, decode_record, encode, parse_data

SUBMISSION = {"title": "Checkout broken", "reporter": {"email": "a@b.example"}}


def test_binary_round_trip() -> None:
    case = CaseSubmission.model_validate(SUBMISSION)
    event = CloudEvent.of(type=topics.CASE_RECEIVED, source="/crm", subject="c1", data=case)
    record = encode(event, key="c1")
    headers = dict(record.headers)
    assert headers["ce_type"] == b"support.case.received.v1"
    assert headers["content-type"] == b"application/json"
    assert record.key == b"c1"
    back = decode(record.value, record.headers)
    assert back.id == event.id and back.time == event.time
    assert parse_data(back, topics.CASE_RECEIVED, CaseSubmission) == case


def test_structured_mode_is_accepted() -> None:
    body = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/chat",
        "type": topics.CASE_RECEIVED,
        "time": datetime.now(UTC).isoformat(),
        "data": SUBMISSION,
    }
    event = decode(
        json.dumps(body).encode(),
        [("content-type", b"application/cloudevents+json; charset=utf-8")],
    )
    assert event.source == "/chat"
    assert parse_data(event, topics.CASE_RECEIVED, CaseSubmission).title == "Checkout broken"


BINARY = [("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"/s"), ("ce_type", b"t")]


@pytest.mark.parametrize(
    ("value", "headers", "code"),
    [
        (b"", BINARY, "empty_value"),
        (None, BINARY, "empty_value"),
        (b"{not json", BINARY, "invalid_json"),
        (b"{}", [], "missing_attribute"),
        (b"{}", [h for h in BINARY if h[0] != "ce_id"], "missing_attribute"),
        (b"{}", [("ce_specversion", b"0.3"), *BINARY[1:]], "unsupported_specversion"),
        (b"{}", [*BINARY, ("content-type", b"text/plain")], "unsupported_content_type"),
        (b"[1]", [("content-type", b"application/cloudevents+json")], "invalid_json"),
        (b"{", [("content-type", b"application/cloudevents+json")], "invalid_json"),
        (b"{}", [("ce_specversion", b"\xff\xfe"), *BINARY[1:]], "invalid_header"),
    ],
)
def test_decode_errors(value: bytes | None, headers: list[tuple[str, bytes]], code: str) -> None:
    with pytest.raises(WireError) as info:
        decode(value, headers)
    assert info.value.code == code


def test_parse_data_errors() -> None:
    event = decode(json.dumps(SUBMISSION).encode(), BINARY)
    with pytest.raises(WireError) as wrong_type:
        parse_data(event, topics.CASE_RECEIVED, CaseSubmission)
    assert wrong_type.value.code == "unexpected_type"
    bad = decode(
        b'{"title": 3, "reporter": {}}', [*BINARY[:3], ("ce_type", topics.CASE_RECEIVED.encode())]
    )
    with pytest.raises(WireError) as invalid:
        parse_data(bad, topics.CASE_RECEIVED, CaseSubmission)
    assert invalid.value.code == "invalid_data"
    assert "title" in invalid.value.message


def test_dead_letter_keeps_original_bytes_and_headers() -> None:
    rec = dead_letter(
        key=b"k",
        value=b"\x00raw",
        headers=[("x", b"1"), ("y", None)],
        reason="invalid_json",
        error="boom",
        topic="in",
        partition=2,
        offset=41,
        service="triage",
        at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert rec.value == b"\x00raw" and rec.key == b"k"
    headers = dict(rec.headers)
    assert headers["x"] == b"1" and headers["y"] == b""
    assert headers["dlq_reason"] == b"invalid_json"
    assert (headers["dlq_partition"], headers["dlq_offset"]) == (b"2", b"41")


# --- what the CloudEvents Python SDK sends ------------------------------------------------


def _sdk_classic() -> tuple[object, object]:
    from cloudevents.v1.http import CloudEvent as ClassicEvent
    from cloudevents.v1.kafka import to_structured

    attrs = {"type": topics.CASE_RECEIVED, "source": "/crm", "datacontenttype": "application/json"}
    return ClassicEvent(attrs, SUBMISSION), to_structured


def _headers(message) -> list[tuple[str, bytes]]:
    return list(message.headers.items())


def test_the_sdks_classic_structured_form_is_read_as_structured() -> None:
    event, to_structured = _sdk_classic()
    message = to_structured(event)
    assert message.headers == {"content-type": b"application/json"}  # not cloudevents+json
    decoded = decode_record(message.value, _headers(message))
    assert decoded.mode is Mode.JSON_STRUCTURED
    assert decoded.event.id == event["id"] and decoded.event.source == "/crm"
    assert decoded.event.datacontenttype == "application/json"
    assert parse_data(decoded.event, topics.CASE_RECEIVED, CaseSubmission).title == (
        "Checkout broken"
    )


def test_the_sdks_binary_and_structured_forms_say_their_mode() -> None:
    from cloudevents.core.bindings import kafka
    from cloudevents.core.v1.event import CloudEvent as CoreEvent

    event = CoreEvent(
        attributes={"type": topics.CASE_RECEIVED, "source": "/crm", "datacontenttype": JSON},
        data=SUBMISSION,
    )
    binary = kafka.to_binary_event(event)
    structured = kafka.to_structured_event(event)
    assert decode_record(binary.value, _headers(binary)).mode is Mode.BINARY
    assert decode_record(structured.value, _headers(structured)).mode is Mode.STRUCTURED


def test_a_whole_event_without_any_content_type_and_with_data_base64_is_read() -> None:
    body = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "/chat",
        "type": topics.CASE_RECEIVED,
        "data_base64": base64.b64encode(json.dumps(SUBMISSION).encode()).decode(),
    }
    decoded = decode_record(json.dumps(body).encode(), [])
    assert decoded.mode is Mode.JSON_STRUCTURED
    assert decoded.event.data == SUBMISSION


@pytest.mark.parametrize("missing", ["specversion", "id", "source", "type"])
def test_a_json_value_short_of_a_whole_event_is_still_refused(missing: str) -> None:
    body = {"specversion": "1.0", "id": "e-1", "source": "/s", "type": "t", "data": {}}
    del body[missing]
    with pytest.raises(WireError) as info:
        decode_record(json.dumps(body).encode(), [("content-type", b"application/json")])
    assert info.value.code == "missing_attribute"
    assert "not a whole CloudEvent" in info.value.message

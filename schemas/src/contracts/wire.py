"""Kafka wire format: CloudEvents Kafka protocol binding.

Publishing uses *binary* mode: the CloudEvents attributes travel as `ce_*` headers, the value
is the JSON `data`, the key is the case id. Consuming accepts binary mode and *structured*
mode (`content-type: application/cloudevents+json`, the whole event as JSON in the value).

It also accepts a third form, liberally: a record with no `ce_*` headers and a JSON (or no)
content type whose value is itself a complete CloudEvent (`specversion`, `id`, `source` and
`type`) is read as structured mode. The CloudEvents Python SDK's classic
`cloudevents.kafka.to_structured` sends exactly that: it moves the event's `datacontenttype`
(`application/json`) into the `content-type` header instead of
`application/cloudevents+json`. Nothing else can be meant by such a record (binary mode
needs `ce_specversion`), so it is taken rather than dead-lettered; `decode_record` says
which form a record had (`Mode`), and the services count this one (metric
`*_json_structured_events_total`) so producers that rely on it can be found. In structured
forms a `data_base64` member holding JSON is read as `data`.

Errors are `WireError` with a stable `code` (the dead-letter reason):

    WireError
    ├── empty_value            no value at all
    ├── invalid_json           value (or data) is not JSON
    ├── missing_attribute      a required CloudEvents attribute is absent
    ├── unsupported_specversion
    ├── unsupported_content_type
    ├── unexpected_type        a valid event of a type this consumer does not take
    └── invalid_data           data does not validate against the type's contract
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

import pydantic_core
from pydantic import BaseModel, ValidationError

from contracts.envelope import JSON, SPEC_VERSION, STRUCTURED, CloudEvent

Headers = Sequence[tuple[str, bytes]]
M = TypeVar("M", bound=BaseModel)

_REQUIRED = ("id", "source", "type", "specversion")


class WireError(Exception):
    """A Kafka record that cannot be turned into the expected event."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """What a producer sends: key, value and headers."""

    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def encode(event: CloudEvent, key: str | None = None) -> KafkaRecord:
    """Encode an event in binary mode."""
    headers: list[tuple[str, bytes]] = [
        ("ce_specversion", event.specversion.encode()),
        ("ce_id", event.id.encode()),
        ("ce_source", event.source.encode()),
        ("ce_type", event.type.encode()),
        ("ce_time", event.time.isoformat().encode()),
        ("content-type", event.datacontenttype.encode()),
    ]
    if event.subject is not None:
        headers.append(("ce_subject", event.subject.encode()))
    for name, value in (event.model_extra or {}).items():
        headers.append((f"ce_{name}", str(value).encode()))
    return KafkaRecord(
        key=key.encode() if key is not None else None,
        value=pydantic_core.to_json(event.data),
        headers=headers,
    )


def _header_map(headers: Iterable[tuple[str, bytes | None]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, raw in headers or ():
        try:
            out[name.lower()] = (raw or b"").decode()
        except UnicodeDecodeError as exc:
            raise WireError("invalid_header", f"header {name!r} is not UTF-8") from exc
    return out


class Mode(StrEnum):
    """How a decoded record carried its event."""

    BINARY = "binary"
    STRUCTURED = "structured"
    JSON_STRUCTURED = "json_structured"  # a whole event under a JSON content type


class Decoded(NamedTuple):
    """A decoded event and the form its record had."""

    event: CloudEvent
    mode: Mode


def _json(value: bytes, what: str) -> Any:
    try:
        return pydantic_core.from_json(value)
    except ValueError as exc:
        raise WireError("invalid_json", f"{what} is not JSON: {exc}") from exc


def _structured(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise WireError("invalid_json", "structured event is not a JSON object")
    if "data_base64" in raw and "data" not in raw:
        attrs = dict(raw)
        try:
            payload = base64.b64decode(attrs.pop("data_base64"), validate=True)
        except (ValueError, TypeError) as exc:
            raise WireError("invalid_json", f"data_base64 is not base64: {exc}") from exc
        attrs["data"] = _json(payload, "data_base64")
        return attrs
    return raw


def _is_whole_event(raw: Any) -> bool:
    return isinstance(raw, dict) and all(isinstance(raw.get(a), str) for a in _REQUIRED)


def decode(value: bytes | None, headers: Iterable[tuple[str, bytes | None]] | None) -> CloudEvent:
    """Decode a record in binary or structured mode; raise `WireError` when it is not one."""
    return decode_record(value, headers).event


def decode_record(
    value: bytes | None, headers: Iterable[tuple[str, bytes | None]] | None
) -> Decoded:
    """Decode a record and say which form it had; raise `WireError` when it is not an event."""
    if not value:
        raise WireError("empty_value", "the record has no value")
    hdrs = _header_map(headers)
    content_type = hdrs.get("content-type", "")
    if content_type.startswith(STRUCTURED):
        attrs = _structured(_json(value, "structured event"))
        mode = Mode.STRUCTURED
    elif "ce_specversion" not in hdrs:
        if content_type and not content_type.startswith(JSON):
            raise WireError(
                "missing_attribute",
                "no ce_specversion header and content-type is not application/cloudevents+json",
            )
        raw = _json(value, "value")
        if not _is_whole_event(raw):
            raise WireError(
                "missing_attribute",
                "no ce_specversion header, content-type is not application/cloudevents+json "
                "and the value is not a whole CloudEvent (specversion, id, source, type)",
            )
        attrs = _structured(raw)
        if content_type:
            attrs.setdefault("datacontenttype", content_type)
        mode = Mode.JSON_STRUCTURED
    else:
        attrs = {k[3:]: v for k, v in hdrs.items() if k.startswith("ce_")}
        if content_type and not content_type.startswith(JSON):
            raise WireError("unsupported_content_type", f"content-type {content_type!r}")
        attrs["data"] = _json(value, "value")
        attrs["datacontenttype"] = content_type or JSON
        mode = Mode.BINARY
    missing = [a for a in _REQUIRED if not attrs.get(a)]
    if missing:
        raise WireError("missing_attribute", f"missing CloudEvents attribute(s): {missing}")
    if attrs["specversion"] != SPEC_VERSION:
        raise WireError("unsupported_specversion", f"specversion {attrs['specversion']!r}")
    try:
        return Decoded(CloudEvent.model_validate(attrs), mode)
    except ValidationError as exc:
        raise WireError("missing_attribute", _first_error(exc)) from exc


def parse_data(event: CloudEvent, expected_type: str, model: type[M]) -> M:
    """Check the event type and validate its data against the contract.

    A tolerant reader: fields the contract does not know (added by a newer producer) are
    ignored, at every level, instead of failing the record (see `contracts`).
    """
    if event.type != expected_type:
        raise WireError("unexpected_type", f"type {event.type!r}, expected {expected_type!r}")
    try:
        return model.model_validate(event.data, extra="ignore")
    except ValidationError as exc:
        raise WireError("invalid_data", _first_error(exc)) from exc


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in errors[:5]]
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def dead_letter(
    *,
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes | None]] | None,
    reason: str,
    error: str,
    topic: str,
    partition: int,
    offset: int,
    service: str,
    at: datetime,
) -> KafkaRecord:
    """Wrap a rejected record for the dead-letter topic: original key, bytes and headers,
    plus `dlq_*` headers with the reason code, error text and where it came from."""
    original = [(n, v or b"") for n, v in headers or ()]
    extra = [
        ("dlq_reason", reason.encode()),
        ("dlq_error", error[:4000].encode()),
        ("dlq_topic", topic.encode()),
        ("dlq_partition", str(partition).encode()),
        ("dlq_offset", str(offset).encode()),
        ("dlq_service", service.encode()),
        ("dlq_time", at.isoformat().encode()),
    ]
    return KafkaRecord(key=key, value=value or b"", headers=original + extra)

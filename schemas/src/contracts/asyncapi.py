"""The AsyncAPI 3.0 document of the project's topics (written by `contracts.generate`).

Every topic a service reads or writes has an operation: triage receives
`support.case.received.v1` and the reassignments on `support.case.lifecycle.v1` (training
labels), sends `support.case.triaged.v1` and dead letters; the router receives
`support.case.triaged.v1`, sends `support.case.lifecycle.v1` and dead letters. Messages are
CloudEvents 1.0 in Kafka binary mode (the `ce_*` headers) with the event's JSON Schema as
payload; a dead letter is the rejected record's own bytes and headers plus `dlq_*` headers.
"""

from __future__ import annotations

from typing import Any

from contracts import topics
from contracts.events import EVENT_TYPES

DLQ_HEADERS = {
    "dlq_reason": "Stable reason code (the wire error code, intake_failed, routing_failed, ...)",
    "dlq_error": "What was wrong, in words (at most 4,000 characters)",
    "dlq_topic": "Topic the record was read from",
    "dlq_partition": "Its partition",
    "dlq_offset": "Its offset",
    "dlq_service": "The service that refused it (triage, router)",
    "dlq_time": "When it was refused (ISO 8601)",
}


def _msg_id(ce_type: str) -> str:
    return ce_type.replace(".", "_")


def _event_message(ce_type: str, title: str, summary: str) -> dict[str, Any]:
    return {
        "name": ce_type,
        "title": title,
        "summary": summary,
        "contentType": "application/json",
        "bindings": {"kafka": {"key": {"type": "string", "description": "case id"}}},
        "headers": {
            "type": "object",
            "description": "CloudEvents binary mode attributes",
            "properties": {
                "ce_specversion": {"const": "1.0"},
                "ce_type": {"const": ce_type},
                "ce_id": {"type": "string", "minLength": 1},
                "ce_source": {"type": "string", "minLength": 1},
                "ce_time": {"type": "string", "format": "date-time"},
                "ce_subject": {"type": "string"},
                "content-type": {"const": "application/json"},
            },
            "required": ["ce_specversion", "ce_type", "ce_id", "ce_source"],
        },
        "payload": {"$ref": f"../jsonschema/{ce_type}.json"},
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "dead-letter",
        "title": "DeadLetter",
        "summary": "A record a consumer could not accept, kept as it came, with the reason.",
        "bindings": {"kafka": {"key": {"description": "the original record's key, unchanged"}}},
        "headers": {
            "type": "object",
            "description": "The original record's headers, unchanged, followed by these",
            "properties": {k: {"type": "string", "description": d} for k, d in DLQ_HEADERS.items()},
            "required": list(DLQ_HEADERS),
        },
        "payload": {"description": "The original record's value, byte for byte (any content)"},
    }


def _channel(address: str, description: str, message_ids: list[str]) -> dict[str, Any]:
    return {
        "address": address,
        "description": description,
        "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in message_ids},
    }


def _operation(
    action: str, channel: str, summary: str, message_ids: list[str] | None = None
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": summary,
    }
    if message_ids is not None:
        op["messages"] = [{"$ref": f"#/channels/{channel}/messages/{m}"} for m in message_ids]
    return op


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the project's topics."""
    t = topics.Topics()
    messages = {
        _msg_id(ce_type): _event_message(
            ce_type, model.__name__, (model.__doc__ or "").strip().splitlines()[0]
        )
        for ce_type, model in EVENT_TYPES.items()
    }
    messages["dead_letter"] = _dead_letter_message()
    lifecycle = [_msg_id(x) for x in topics.LIFECYCLE_TYPES]
    received, triaged = _msg_id(topics.CASE_RECEIVED), _msg_id(topics.CASE_TRIAGED)
    dlq = "dead_letter"
    return {
        "asyncapi": "3.0.0",
        "id": "urn:support-triage:events",
        "info": {
            "title": "support-triage events",
            "version": "1.0.0",
            "description": "CloudEvents 1.0 on Kafka, keyed by case id. Producers use binary "
            "mode; consumers also accept structured mode, and a whole CloudEvent sent as "
            "application/json. Rejected records go to the dead-letter topic with their "
            "original bytes and headers plus dlq_reason, dlq_error, dlq_topic, "
            "dlq_partition, dlq_offset, dlq_service and dlq_time.",
        },
        "defaultContentType": "application/json",
        "channels": {
            "received": _channel(t.received, "Cases from other systems", [received]),
            "triaged": _channel(t.triaged, "Cases with their prediction", [triaged]),
            "lifecycle": _channel(
                t.lifecycle, "Assignment, escalation and swarm events", lifecycle
            ),
            "deadletter": _channel(
                t.deadletter, "Records a consumer could not accept, with the reason", [dlq]
            ),
        },
        "operations": {
            "triageConsumesReceived": _operation(
                "receive", "received", "triage classifies and stores each case"
            ),
            "triagePublishesTriaged": _operation(
                "send", "triaged", "triage publishes each case with its prediction"
            ),
            "triageConsumesLifecycle": _operation(
                "receive",
                "lifecycle",
                "triage stores reassignments as training labels; skips the other types",
                [_msg_id(topics.CASE_REASSIGNED)],
            ),
            "triageSendsDeadLetters": _operation(
                "send", "deadletter", "triage dead-letters records it cannot accept"
            ),
            "routerConsumesTriaged": _operation(
                "receive", "triaged", "the router assigns or escalates each triaged case"
            ),
            "routerPublishesLifecycle": _operation(
                "send", "lifecycle", "the router publishes what happens to each case"
            ),
            "routerSendsDeadLetters": _operation(
                "send", "deadletter", "the router dead-letters records it cannot accept"
            ),
        },
        "components": {"messages": messages},
    }

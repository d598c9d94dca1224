"""Generate the committed JSON Schema and AsyncAPI files from the models.

contracts-generate            # write schemas/jsonschema/*.json and schemas/asyncapi/*.yaml
contracts-generate --check    # exit 1 when the committed files differ (what CI tests)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from contracts import topics
from contracts.cases import Case, CaseSubmission, TriageResult
from contracts.envelope import CloudEvent
from contracts.events import EVENT_TYPES
from contracts.problems import Problem

ROOT = Path(__file__).resolve().parents[2]

DOCUMENTS: dict[str, type[BaseModel]] = {
    "case-submission": CaseSubmission,
    "case": Case,
    "triage-result": TriageResult,
    "problem": Problem,
    "cloudevent": CloudEvent,
}


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name (without .json) -> JSON Schema, for API bodies and every event's data."""
    out = {name: model.model_json_schema() for name, model in DOCUMENTS.items()}
    for ce_type, model in EVENT_TYPES.items():
        schema = model.model_json_schema()
        schema["$comment"] = f"data of CloudEvents type {ce_type}"
        out[ce_type] = schema
    return out


def _channel(topic: str, description: str, types: list[str]) -> dict[str, Any]:
    return {
        "address": topic,
        "description": description,
        "messages": {
            t.replace(".", "_"): {"$ref": f"#/components/messages/{t.replace('.', '_')}"}
            for t in types
        },
    }


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the project's topics."""
    t = topics.Topics()
    messages = {
        ce_type.replace(".", "_"): {
            "name": ce_type,
            "title": model.__name__,
            "summary": (model.__doc__ or "").strip().splitlines()[0],
            "contentType": "application/json",
            "bindings": {"kafka": {"key": {"type": "string", "description": "case id"}}},
            "headers": {
                "type": "object",
                "description": "CloudEvents binary mode attributes",
                "properties": {
                    "ce_specversion": {"const": "1.0"},
                    "ce_type": {"const": ce_type},
                    "ce_id": {"type": "string"},
                    "ce_source": {"type": "string"},
                    "ce_time": {"type": "string", "format": "date-time"},
                    "ce_subject": {"type": "string"},
                },
                "required": ["ce_specversion", "ce_type", "ce_id", "ce_source"],
            },
            "payload": {"$ref": f"../jsonschema/{ce_type}.json"},
        }
        for ce_type, model in EVENT_TYPES.items()
    }
    lifecycle = list(topics.LIFECYCLE_TYPES)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "support-triage events",
            "version": "1.0.0",
            "description": "CloudEvents 1.0 on Kafka, keyed by case id. Consumers accept "
            "binary and structured mode; producers use binary mode. Rejected records go to "
            "the dead-letter topic with their original bytes and headers plus dlq_reason, "
            "dlq_error, dlq_topic, dlq_partition, dlq_offset, dlq_service and dlq_time.",
        },
        "channels": {
            "received": _channel(t.received, "Cases from other systems", [topics.CASE_RECEIVED]),
            "triaged": _channel(t.triaged, "Cases with their prediction", [topics.CASE_TRIAGED]),
            "lifecycle": _channel(
                t.lifecycle, "Assignment, escalation and swarm events", lifecycle
            ),
            "deadletter": {
                "address": t.deadletter,
                "description": "Records a consumer could not accept, with the reason",
            },
        },
        "operations": {
            "triageConsumesReceived": {
                "action": "receive",
                "channel": {"$ref": "#/channels/received"},
            },
            "triagePublishesTriaged": {"action": "send", "channel": {"$ref": "#/channels/triaged"}},
            "routerConsumesTriaged": {
                "action": "receive",
                "channel": {"$ref": "#/channels/triaged"},
            },
            "routerPublishesLifecycle": {
                "action": "send",
                "channel": {"$ref": "#/channels/lifecycle"},
            },
        },
        "components": {"messages": messages},
    }


def rendered() -> dict[Path, str]:
    """Every generated file and its content."""
    files = {
        ROOT / "jsonschema" / f"{name}.json": json.dumps(schema, indent=2, sort_keys=True) + "\n"
        for name, schema in json_schemas().items()
    }
    files[ROOT / "asyncapi" / "asyncapi.yaml"] = yaml.safe_dump(asyncapi(), sort_keys=False)
    return files


def main(argv: list[str] | None = None) -> int:
    """Write the files, or with --check report the ones that drifted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if committed files differ")
    args = parser.parse_args(argv)
    stale = []
    for path, content in rendered().items():
        if args.check:
            if not path.exists() or path.read_text() != content:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    if stale:
        print("out of date (run `make schemas`):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Generate the committed JSON Schema and AsyncAPI files from the models.

Every JSON Schema names its dialect (`$schema`, 2020-12) and its `$id`; the CloudEvents
envelope requires the four attributes CloudEvents 1.0 requires. The AsyncAPI document is
built in `contracts.asyncapi`.

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

from contracts.asyncapi import asyncapi
from contracts.cases import Case, CaseSubmission, TriageResult
from contracts.envelope import SPEC_VERSION, CloudEvent
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


SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://support-triage.example/schemas/"
# CloudEvents 1.0 REQUIRED context attributes (the model gives `id` and `specversion`
# defaults when it builds an event, but on the wire every event carries all four).
CLOUDEVENTS_REQUIRED = ("id", "source", "specversion", "type")


def _identified(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": SCHEMA_DIALECT, "$id": f"{ID_BASE}{name}.json", **schema}


def _cloudevent_schema() -> dict[str, Any]:
    schema = CloudEvent.model_json_schema()
    schema["required"] = sorted({*schema.get("required", []), *CLOUDEVENTS_REQUIRED})
    schema["properties"]["specversion"] = {
        **schema["properties"]["specversion"],
        "const": SPEC_VERSION,
    }
    return schema


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name (without .json) -> JSON Schema, for API bodies and every event's data."""
    out = {name: model.model_json_schema() for name, model in DOCUMENTS.items()}
    out["cloudevent"] = _cloudevent_schema()
    for ce_type, model in EVENT_TYPES.items():
        schema = model.model_json_schema()
        schema["$comment"] = f"data of CloudEvents type {ce_type}"
        out[ce_type] = schema
    return {name: _identified(name, schema) for name, schema in out.items()}


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

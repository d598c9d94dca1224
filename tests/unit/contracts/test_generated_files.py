"""The committed JSON Schema and AsyncAPI files match the models."""

from __future__ import annotations

import json

import jsonschema

from contracts import generate


def test_committed_files_are_current() -> None:
    stale = [
        str(path)
        for path, content in generate.rendered().items()
        if not path.exists() or path.read_text() != content
    ]
    assert stale == [], f"out of date, run `make schemas`: {stale}"


def test_json_schemas_are_valid_and_accept_the_examples() -> None:
    schema = json.loads((generate.ROOT / "jsonschema" / "case-submission.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    example = schema["example"]
    jsonschema.validate(example, schema)
    bad = {**example, "priority": "P9"}
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(bad))
    assert errors


def test_asyncapi_names_every_event_type() -> None:
    doc = generate.asyncapi()
    names = {m["name"] for m in doc["components"]["messages"].values()}
    assert "support.case.triaged.v1" in names
    assert "support.swarm.closed.v1" in names
    assert doc["channels"]["lifecycle"]["address"] == "support.case.lifecycle.v1"


def test_every_schema_names_its_dialect_and_id() -> None:
    files = sorted((generate.ROOT / "jsonschema").glob("*.json"))
    assert len(files) >= 15
    ids = set()
    for file in files:
        schema = json.loads(file.read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", file.name
        assert schema["$id"].endswith(f"/schemas/{file.name}"), file.name
        jsonschema.Draft202012Validator.check_schema(schema)
        ids.add(schema["$id"])
    assert len(ids) == len(files)


def test_the_envelope_schema_requires_what_cloudevents_requires() -> None:
    from cloudevents.core.formats.json import JSONFormat
    from cloudevents.core.v1.event import CloudEvent as SdkEvent

    schema = json.loads((generate.ROOT / "jsonschema" / "cloudevent.json").read_text())
    assert set(schema["required"]) >= {"id", "source", "specversion", "type"}
    event = SdkEvent(attributes={"type": "t.v1", "source": "/s"}, data={"a": 1})
    wire = json.loads(JSONFormat().write(event))
    jsonschema.validate(wire, schema)
    validator = jsonschema.Draft202012Validator(schema)
    for attribute in ("id", "specversion"):
        assert list(validator.iter_errors({k: v for k, v in wire.items() if k != attribute}))
    assert list(validator.iter_errors({**wire, "specversion": "0.3"}))

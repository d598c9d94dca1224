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

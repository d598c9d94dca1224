"""The routing policy: loading, validation errors, durations, reload and the JSON Schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
import yaml

from contracts.cases import Priority
from contracts.catalogue import Catalogue
from router.domain.errors import PolicyError
from router.domain.policy import (
    PolicyHolder,
    default_policy,
    format_duration,
    load_policy,
    parse_duration,
    parse_policy,
    policy_json_schema,
)

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_FILE = ROOT / "schemas" / "jsonschema" / "routing-policy.schema.json"
REGENERATE = "python -m router.domain.policy > schemas/jsonschema/routing-policy.schema.json"

VALID = """
version: 1
name: strict
thresholds: {default: 0.7, squads: {payments: 0.8}}
cross_squad_margin: 0.05
major_incident: {priorities: [P1, P2], keywords: [meltdown], tags: [sev1]}
ack_deadlines: {P1: 90s, P2: 1h30m, P3: 4h, P4: 2d}
swarm: {max_squads: 3}
"""


def _with(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


def test_valid_policy_loads_every_field(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(VALID)
    policy = load_policy(path)
    assert policy.version == 1
    assert policy.name == "strict"
    assert policy.thresholds.for_squad("payments") == 0.8
    assert policy.thresholds.for_squad("search") == 0.7
    assert policy.thresholds.for_squad(None) == 0.7
    assert policy.cross_squad_margin == 0.05
    assert policy.major_incident.priorities == [Priority.P1, Priority.P2]
    assert policy.major_incident.keywords == ["meltdown"]
    assert policy.major_incident.tags == ["sev1"]
    assert policy.ack_deadlines == {
        Priority.P1: timedelta(seconds=90),
        Priority.P2: timedelta(minutes=90),
        Priority.P3: timedelta(hours=4),
        Priority.P4: timedelta(days=2),
    }
    assert policy.swarm.max_squads == 3


def test_default_policy_is_shipped_and_sane() -> None:
    policy = default_policy()
    assert policy.version == 1
    assert policy.name == "default"
    # the model's own per-squad thresholds decide unless a policy sets explicit ones
    assert policy.thresholds.default is None and policy.thresholds.squads == {}
    assert policy.modes.default == "auto" and policy.modes.squads == {}
    assert policy.precision_watch.enabled and policy.precision_watch.target_precision is None
    assert Priority.P1 in policy.major_incident.priorities
    assert "outage" in policy.major_incident.keywords
    assert policy.ack_deadlines[Priority.P1] == timedelta(minutes=15)
    assert policy.ack_deadlines[Priority.P4] == timedelta(days=1)
    assert policy.swarm.max_squads == 4


def test_digest_is_stable_across_formatting_and_changes_with_content() -> None:
    reformatted = VALID.replace("{P1: 90s,", "{P1: 1m30s,").replace("name: strict", "name:  strict")
    assert parse_policy(VALID).digest == parse_policy(reformatted).digest
    changed = _with(VALID, "max_squads: 3", "max_squads: 2")
    assert parse_policy(VALID).digest != parse_policy(changed).digest
    assert len(parse_policy(VALID).digest) == 64


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ("version: 1", "version: 2", "version", "1"),
        ("version: 1\n", "", "version", "Field required"),
        ("P1: 90s", "P1: 15", "ack_deadlines.P1", "invalid duration"),
        ("P1: 90s", "P1: 15 minutes", "ack_deadlines.P1", "invalid duration"),
        ("P1: 90s", "P1: 1.5h", "ack_deadlines.P1", "invalid duration"),
        ("P1: 90s", "P1: -1h", "ack_deadlines.P1", "invalid duration"),
        ("P1: 90s", "P1: 0m", "ack_deadlines.P1", "positive"),
        ("P1: 90s", "P1: 30m1h", "ack_deadlines.P1", "invalid duration"),
        ("P1: 90s, ", "", "ack_deadlines", "misses priorities ['P1']"),
        ("P4: 2d", "P4: 2d, P5: 1w", "ack_deadlines.P5.[key]", "P1"),
        ("name: strict", "name: strict\ncolour: blue", "colour", "Extra inputs"),
        ("max_squads: 3", "max_squads: 3, size: 2", "swarm.size", "Extra inputs"),
        ("keywords: [meltdown]", "keyword: [meltdown]", "major_incident.keyword", "Extra"),
        ("default: 0.7", "default: 1.5", "thresholds.default", "less than or equal to 1"),
        ("payments: 0.8", "payments: -0.1", "thresholds.squads.payments", "greater than"),
        ("cross_squad_margin: 0.05", "cross_squad_margin: 2", "cross_squad_margin", "1"),
        ("priorities: [P1, P2]", "priorities: [P0]", "major_incident.priorities.0", "P1"),
        ("max_squads: 3", "max_squads: 0", "swarm.max_squads", "greater than"),
        ("name: strict", "name: ''", "name", "at least 1"),
    ],
)
def test_invalid_policy_names_the_field(old: str, new: str, field: str, words: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(_with(VALID, old, new), "policy.yaml")
    error = caught.value
    assert error.code == "invalid_policy"
    fields = {issue.field: issue.message for issue in error.issues}
    assert field in fields, fields
    assert words in fields[field]
    assert field in str(error)
    assert "policy.yaml" in str(error)


def test_every_problem_is_reported_at_once() -> None:
    text = _with(_with(VALID, "version: 1", "version: 3"), "max_squads: 3", "max_squads: -1")
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert {i.field for i in caught.value.issues} == {"version", "swarm.max_squads"}


@pytest.mark.parametrize(
    ("text", "words"),
    [("version: [1", "invalid YAML"), ("- 1\n- 2\n", "mapping"), ("", "mapping")],
)
def test_unparseable_documents_are_refused(text: str, words: str) -> None:
    with pytest.raises(PolicyError, match=words):
        parse_policy(text)


def test_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(minutes=90)),
        ("2d12h", timedelta(hours=60)),
        (" 4h ", timedelta(hours=4)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "m", "15", "1w", "1H", "1h 30m", "PT15M", "-5m", "0s"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=90), "1m30s"),
        (timedelta(minutes=15), "15m"),
        (timedelta(hours=26), "1d2h"),
        (timedelta(days=1), "1d"),
    ],
)
def test_format_duration(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value


def test_dump_writes_durations_as_text() -> None:
    dumped = parse_policy(VALID).model_dump(mode="json")
    assert dumped["ack_deadlines"] == {"P1": "1m30s", "P2": "1h30m", "P3": "4h", "P4": "2d"}
    assert parse_policy(yaml.safe_dump(dumped)) == parse_policy(VALID)


def test_ack_deadline_adds_the_priority_duration() -> None:
    now = datetime(2026, 1, 1, 23, 0, tzinfo=UTC)
    policy = parse_policy(VALID)
    assert policy.ack_deadline(Priority.P2, now) == datetime(2026, 1, 2, 0, 30, tzinfo=UTC)


def test_unknown_squads_lists_overrides_missing_from_catalogue(catalogue: Catalogue) -> None:
    text = _with(VALID, "{payments: 0.8}", "{payments: 0.8, ghosts: 0.9, aliens: 0.5}")
    assert parse_policy(text).unknown_squads(catalogue) == ["aliens", "ghosts"]
    modes = text + "modes: {squads: {payments: suggest, martians: off}}\n"
    assert parse_policy(modes).unknown_squads(catalogue) == ["aliens", "ghosts", "martians"]


def test_holder_swaps_only_a_valid_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(VALID)
    holder = PolicyHolder(load_policy(path), path)
    assert holder.reload() is False
    path.write_text(_with(VALID, "max_squads: 3", "max_squads: 2"))
    assert holder.reload() is True
    assert holder.current.swarm.max_squads == 2
    path.write_text(_with(VALID, "version: 1", "version: 9"))
    with pytest.raises(PolicyError):
        holder.reload()
    assert holder.current.swarm.max_squads == 2


def test_holder_without_path_never_changes() -> None:
    holder = PolicyHolder(default_policy())
    assert holder.reload() is False
    assert holder.current == default_policy()


def test_committed_json_schema_matches_the_model() -> None:
    assert SCHEMA_FILE.exists(), f"missing {SCHEMA_FILE}; generate it with: {REGENERATE}"
    committed = json.loads(SCHEMA_FILE.read_text())
    assert committed == policy_json_schema(), (
        f"{SCHEMA_FILE.name} drifted from router.domain.policy.Policy; regenerate it with: "
        f"{REGENERATE}"
    )


def test_json_schema_accepts_valid_and_refuses_invalid_documents() -> None:
    schema = policy_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors(yaml.safe_load(VALID))) == []
    shipped = (ROOT / "services/router/src/router/default_policy.yaml").read_text()
    assert list(validator.iter_errors(yaml.safe_load(shipped))) == []
    for bad in (
        _with(VALID, "P1: 90s", "P1: 15 minutes"),
        _with(VALID, "name: strict", "name: strict\ncolour: blue"),
        _with(VALID, "version: 1", "version: 2"),
    ):
        assert list(validator.iter_errors(yaml.safe_load(bad))), bad


def test_the_precision_watch_must_be_able_to_judge() -> None:
    base = "version: 1\nname: x\nack_deadlines: {P1: 15m, P2: 1h, P3: 4h, P4: 1d}\n"
    with pytest.raises(PolicyError) as refused:
        parse_policy(base + "precision_watch: {window_cases: 5, min_cases: 6}\n")
    assert any("no squad could ever be judged" in i.message for i in refused.value.issues)
    ok = parse_policy(base + "precision_watch: {window_cases: 5, min_cases: 5}\n")
    assert ok.precision_watch.min_cases == 5
    with pytest.raises(PolicyError):
        parse_policy(base + "modes: {default: sometimes}\n")
    # YAML reads an unquoted `off` as false; it means the mode
    off = parse_policy(base + "modes: {default: off, squads: {payments: 'off'}}\n")
    assert off.modes.default == "off" == off.modes.for_squad("payments")

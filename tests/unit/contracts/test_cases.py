"""Validation rules of the case as submitted."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts import CaseSubmission
from contracts.cases import DESCRIPTION_MAX, TITLE_MAX
from contracts.ids import new_id


def test_minimal_case_gets_defaults() -> None:
    case = CaseSubmission.model_validate({"description": "x", "reporter": {"name": "Al"}})
    assert (case.source, case.priority, case.tags) == ("web", "P3", [])
    assert case.text == "x"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"reporter": {"name": "a"}}, ()),
        ({"title": "  ", "description": "", "reporter": {"name": "a"}}, ()),
        ({"title": "x" * (TITLE_MAX + 1), "reporter": {"name": "a"}}, ("title",)),
        ({"description": "x" * (DESCRIPTION_MAX + 1), "reporter": {"name": "a"}}, ("description",)),
        ({"title": "t", "reporter": {}}, ("reporter",)),
        ({"title": "t", "reporter": {"email": "not-an-email"}}, ("reporter", "email")),
        ({"title": "t", "reporter": {"name": "a"}, "priority": "P0"}, ("priority",)),
        ({"title": "t", "reporter": {"name": "a"}, "tags": ["x"] * 21}, ("tags",)),
        ({"title": "t", "reporter": {"name": "a"}, "colour": "red"}, ("colour",)),
        ({"title": 5, "reporter": {"name": "a"}}, ("title",)),
    ],
)
def test_invalid_cases_name_the_field(body: dict, loc: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as info:
        CaseSubmission.model_validate(body)
    assert info.value.errors()[0]["loc"] == loc


def test_ids_are_time_ordered_uuid7() -> None:
    ids = [new_id() for _ in range(100)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)

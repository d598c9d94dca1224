"""Control characters are removed from customer text at intake (contracts.text)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts.cases import CaseSubmission
from contracts.text import multi_line, single_line


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Checkout\r\nBcc: all@example.com", "Checkout Bcc: all@example.com"),
        ("one\u2028two\u2029three\x85four", "one two three four"),
        ("nul\x00bell\x07esc\x1b[31m", "nul bell esc [31m"),
        ("\u202eevil\u202c text\ufeff", "evil text"),
        ("tab\there", "tab here"),
        ("family \U0001f468\u200d\U0001f469\u200d\U0001f467", "family 👨‍👩‍👧"),
        ("  spaced   out  ", "spaced out"),
    ],
)
def test_single_line(raw: str, clean: str) -> None:
    assert single_line(raw) == clean


def test_multi_line_keeps_line_breaks_and_tabs_only() -> None:
    assert multi_line("a\r\nb\rc\u2028d\u2029e\tf\x00g\u202eh") == "a\nb\nc\nd\ne\tf gh"


def test_a_submission_is_clean_at_intake() -> None:
    case = CaseSubmission.model_validate(
        {
            "title": "Payment failed\r\nBcc: everyone@example.com",
            "description": "line 1\r\nline 2\u2028line 3\x00",
            "reporter": {"name": "Ada\nLovelace", "customer_id": "c-1\r\n"},
            "tags": ["pay\nments"],
            "component": "checkout\u2028api",
            "external_ref": "crm\r\n42",
        }
    )
    assert case.title == "Payment failed Bcc: everyone@example.com"
    assert case.description == "line 1\nline 2\nline 3"
    assert case.reporter.name == "Ada Lovelace" and case.reporter.customer_id == "c-1"
    assert case.tags == ["pay ments"]
    assert case.component == "checkout api" and case.external_ref == "crm 42"


def test_text_made_only_of_controls_counts_as_empty() -> None:
    with pytest.raises(ValidationError) as info:
        CaseSubmission.model_validate(
            {"title": "\x00\r\n", "reporter": {"name": "\u202e"}, "tags": ["\x07"]}
        )
    locs = {tuple(e["loc"]) for e in info.value.errors()}
    assert ("reporter",) in locs and ("tags", 0) in locs

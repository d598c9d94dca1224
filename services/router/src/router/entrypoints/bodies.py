"""Request bodies of the router API (with the examples Swagger UI shows)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


def _example(**example: Any) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


class AssignmentBody(BaseModel):
    """Assign or reassign a case."""

    model_config = _example(squad="payments", by="sam.lead", note="card declines are payments")
    squad: Text
    by: Text
    note: LongText | None = None


class AcknowledgeBody(BaseModel):
    """The assigned squad takes the case."""

    model_config = _example(squad="payments", by="pat.oncall")
    squad: Text
    by: Text


class ResolveBody(BaseModel):
    """Resolve a case."""

    model_config = _example(by="pat.oncall", resolution="refunded the double charge")
    by: Text
    resolution: LongText | None = None


class MemberBody(BaseModel):
    """Invite a squad into a swarm."""

    model_config = _example(squad="logistics", by="sd.lead")
    squad: Text
    by: Text


class NoteBody(BaseModel):
    """A note in a swarm."""

    model_config = _example(author="sd.lead", text="payments sees no errors on their side")
    author: Text
    text: LongText


class CloseBody(BaseModel):
    """Close a swarm: the owner squad takes the case."""

    model_config = _example(owner_squad="payments", outcome="PSP misconfiguration", by="sd.lead")
    owner_squad: Text
    outcome: LongText
    by: Text


class SquadModeBody(BaseModel):
    """Restore a squad to automatic assignment, or set it to take suggestions only."""

    model_config = _example(mode="auto", by="sd.lead", note="retrained on last month's labels")
    mode: Literal["auto", "suggest"]
    by: Text
    note: LongText | None = None

"""Request bodies of the router API (with the examples Swagger UI shows).

Who acted comes from the caller's credential, never from the body: the `by` and `author`
fields of earlier clients are still accepted (the contract is add-only) and ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Ignored = Annotated[
    Text | None,
    Field(
        deprecated=True,
        description="Ignored: who acted is the authenticated caller. Accepted for older clients.",
    ),
]


def _example(**example: Any) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


class AssignmentBody(BaseModel):
    """Assign or reassign a case."""

    model_config = _example(squad="payments", note="card declines are payments")
    squad: Text
    by: Ignored = None
    note: LongText | None = None


class AcknowledgeBody(BaseModel):
    """The assigned squad takes the case."""

    model_config = _example(squad="payments")
    squad: Text
    by: Ignored = None


class ResolveBody(BaseModel):
    """Resolve a case."""

    model_config = _example(resolution="refunded the double charge")
    by: Ignored = None
    resolution: LongText | None = None


class MemberBody(BaseModel):
    """Invite a squad into a swarm."""

    model_config = _example(squad="logistics")
    squad: Text
    by: Ignored = None


class NoteBody(BaseModel):
    """A note in a swarm."""

    model_config = _example(text="payments sees no errors on their side")
    author: Ignored = None
    text: LongText


class CloseBody(BaseModel):
    """Close a swarm: the owner squad takes the case."""

    model_config = _example(owner_squad="payments", outcome="PSP misconfiguration")
    owner_squad: Text
    outcome: LongText
    by: Ignored = None


class SquadModeBody(BaseModel):
    """Restore a squad to automatic assignment, or set it to take suggestions only."""

    model_config = _example(mode="auto", note="retrained on last month's labels")
    mode: Literal["auto", "suggest"]
    by: Ignored = None
    note: LongText | None = None

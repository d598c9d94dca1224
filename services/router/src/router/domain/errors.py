"""Errors of the router domain, each with a stable `code`.

```
DomainError                      code "domain_error"
├── PolicyError                  code "invalid_policy"      (issues: list[PolicyIssue])
├── InvalidTransition            code "invalid_transition"  (current, attempted)
└── SwarmError                   code "swarm_error"
    ├── SwarmAlreadyClosed       code "swarm_closed"
    ├── UnknownSquad             code "unknown_squad"
    └── InvalidSwarmInput        code "invalid_swarm_input"
```

Each code's HTTP status and title are registered once, in `contracts.problems.PROBLEMS`:
`InvalidTransition` and `SwarmAlreadyClosed` are 409, `UnknownSquad`, `InvalidSwarmInput` and
`PolicyError` 422 (the policy's issues become the problem's field errors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from contracts.problems import FieldError


class DomainError(Exception):
    """Base of every router domain error."""

    code: ClassVar[str] = "domain_error"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class PolicyIssue:
    """One problem of a routing policy: the dotted field path and what is wrong."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class PolicyError(DomainError):
    """The routing policy cannot be used; `issues` lists every reason."""

    code: ClassVar[str] = "invalid_policy"

    def __init__(self, issues: list[PolicyIssue], source: str = "") -> None:
        self.issues = issues
        self.source = source
        lines = "\n".join(f"  - {i}" for i in issues)
        where = f" {source}" if source else ""
        super().__init__(f"invalid routing policy{where} ({len(issues)} problem(s)):\n{lines}")

    def field_errors(self) -> list[FieldError]:
        """One field error per issue (the problem body's `errors`)."""
        return [FieldError(loc=i.field, message=i.message, type="invalid") for i in self.issues]


class InvalidTransition(DomainError):
    """An action is not allowed in the case's current status (HTTP 409)."""

    code: ClassVar[str] = "invalid_transition"

    def __init__(self, current: str, attempted: str, message: str = "") -> None:
        self.current = current
        self.attempted = attempted
        super().__init__(message or f"cannot {attempted} a case that is {current}")


class SwarmError(DomainError):
    """A swarm operation was refused."""

    code: ClassVar[str] = "swarm_error"


class SwarmAlreadyClosed(SwarmError):
    """The swarm is already closed (HTTP 409)."""

    code: ClassVar[str] = "swarm_closed"


class UnknownSquad(SwarmError):
    """The squad is neither a swarm member nor a catalogue squad (HTTP 422)."""

    code: ClassVar[str] = "unknown_squad"


class InvalidSwarmInput(SwarmError):
    """Empty author, note text or outcome (HTTP 422)."""

    code: ClassVar[str] = "invalid_swarm_input"

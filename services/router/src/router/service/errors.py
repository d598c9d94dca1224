"""Errors of the router service layer, each with a stable `code`.

```
RouterError                  code "router_error"
├── NotFound                 code "not_found"           404
│   ├── CaseNotFound         code "case_not_found"      404 (as in triage)
│   └── SwarmNotFound        code "swarm_not_found"     404
├── ConcurrentUpdate         code "concurrent_update"   409 (someone changed it first; retry)
└── UnknownSquadError        code "unknown_squad"       422 (names the field)
```

The HTTP status and title of each code are registered in `contracts.problems.PROBLEMS`. A
cursor that is not a `next_cursor` is servicekit's `InvalidCursor` (422 `invalid_cursor`).
Domain errors (`router.domain.errors`) pass through unchanged: `InvalidTransition` and
`SwarmAlreadyClosed` are 409, `UnknownSquad` and `InvalidSwarmInput` 422.
"""

from __future__ import annotations

from typing import ClassVar

from contracts.problems import FieldError


class RouterError(Exception):
    """Base of the service errors."""

    code: ClassVar[str] = "router_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def field_errors(self) -> list[FieldError] | None:
        """The field the error is about, if any (the problem body's `errors`)."""
        if self.field is None:
            return None
        return [FieldError(loc=self.field, message=self.message, type=self.code)]


class NotFound(RouterError):
    """No such case or swarm."""

    code: ClassVar[str] = "not_found"


class CaseNotFound(NotFound):
    """No case has this id."""

    code: ClassVar[str] = "case_not_found"


class SwarmNotFound(NotFound):
    """No swarm has this id."""

    code: ClassVar[str] = "swarm_not_found"


class ConcurrentUpdate(RouterError):
    """The case changed between reading and writing it."""

    code: ClassVar[str] = "concurrent_update"


class UnknownSquadError(RouterError):
    """The squad is not a catalogue squad that can own cases."""

    code: ClassVar[str] = "unknown_squad"

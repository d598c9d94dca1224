"""Errors of the router service layer, each with a stable `code` and an HTTP status.

```
RouterError                  code "router_error"
├── NotFound                 code "not_found"           404
├── ConcurrentUpdate         code "concurrent_update"   409 (someone changed it first; retry)
├── UnknownSquadError        code "unknown_squad"       422 (names the field)
└── InvalidCursor            code "invalid_cursor"      422 (a cursor not given out as next_cursor)
```

Domain errors (`router.domain.errors`) pass through unchanged: `InvalidTransition` and
`SwarmAlreadyClosed` are 409, `UnknownSquad` and `InvalidSwarmInput` 422.
"""

from __future__ import annotations

from typing import ClassVar


class RouterError(Exception):
    """Base of the service errors."""

    code: ClassVar[str] = "router_error"
    status: ClassVar[int] = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(RouterError):
    """No such case or swarm."""

    code: ClassVar[str] = "not_found"
    status: ClassVar[int] = 404


class ConcurrentUpdate(RouterError):
    """The case changed between reading and writing it."""

    code: ClassVar[str] = "concurrent_update"
    status: ClassVar[int] = 409


class UnknownSquadError(RouterError):
    """The squad is not a catalogue squad that can own cases."""

    code: ClassVar[str] = "unknown_squad"
    status: ClassVar[int] = 422


class InvalidCursor(RouterError):
    """The pagination cursor is not one the endpoint gave out."""

    code: ClassVar[str] = "invalid_cursor"
    status: ClassVar[int] = 422

    def __init__(self) -> None:
        super().__init__("cursor must be a value returned as next_cursor", field="cursor")

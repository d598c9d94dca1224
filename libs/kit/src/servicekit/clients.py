"""Who is calling, as far as input handling needs to know: a name for de-duplication scopes
and a key for rate limits.

Authentication, when installed, leaves the proven caller on `request.state.identity` (an
object with a `principal`). Without it every HTTP caller is `anonymous`: they share one
scope, and rate limits fall back to the client's address.
"""

from __future__ import annotations

from starlette.requests import Request

ANONYMOUS = "anonymous"


def principal(request: Request) -> str | None:
    """The authenticated caller's name, or None."""
    identity = getattr(request.state, "identity", None)
    name = getattr(identity, "principal", None)
    return name if isinstance(name, str) and name else None


def client_name(request: Request) -> str:
    """The caller's name for scoping its keys: its principal, else `anonymous`."""
    return principal(request) or ANONYMOUS


def client_key(request: Request) -> str:
    """What a per-client limit counts by: `principal:<name>`, else `ip:<address>`."""
    name = principal(request)
    if name:
        return f"principal:{name}"
    host = request.client.host if request.client else "unknown"
    return f"ip:{host}"

"""Identifiers.

Case, swarm and event ids are UUIDv7 (RFC 9562): time-ordered, so primary-key indexes stay
append-mostly and ids sort by creation time.
"""

from __future__ import annotations

import uuid

import uuid6


def new_id() -> uuid.UUID:
    """Return a new time-ordered UUID (version 7)."""
    return uuid.UUID(int=uuid6.uuid7().int)


def new_event_id() -> str:
    """Return a new CloudEvents `id` attribute."""
    return str(new_id())

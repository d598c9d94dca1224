"""Swarms: Service Delivery brings the plausible squads together on one escalated case.

A `Swarm` is immutable; every operation returns a new record:

- `Swarm.open(case_id=..., squads=..., reason=..., now=...)` -- squads de-duplicated, in order.
- `swarm.join(squad)` -- adds a member (joining twice changes nothing).
- `swarm.note(author, text, now=...)` -- appends a note.
- `swarm.close(owner_squad, outcome, now=..., catalogue=...)` -- closes it, once. The owner is
  None (e.g. resolved without an owner) or a member, or a squad the catalogue knows.

Nothing may change a closed swarm (`SwarmAlreadyClosed`). `opened_event()` and
`closed_event()` build the
contract events to publish.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Self
from uuid import UUID

from contracts.catalogue import Catalogue
from contracts.events import EscalationReason, SwarmClosed, SwarmOpened
from contracts.ids import new_id
from router.domain import errors


@dataclass(frozen=True, slots=True)
class SwarmNote:
    """A note left in a swarm."""

    author: str
    text: str
    at: datetime


def _required(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise errors.InvalidSwarmInput(f"{what} must not be empty")
    return value


@dataclass(frozen=True, slots=True)
class Swarm:
    """One swarm on one case."""

    id: UUID
    case_id: UUID
    reason: EscalationReason
    squads: tuple[str, ...]
    opened_at: datetime
    notes: tuple[SwarmNote, ...] = ()
    closed_at: datetime | None = None
    owner_squad: str | None = None
    outcome: str | None = None

    @classmethod
    def open(
        cls,
        *,
        case_id: UUID,
        squads: Iterable[str],
        reason: EscalationReason,
        now: datetime,
        swarm_id: UUID | None = None,
    ) -> Self:
        """Open a swarm with the squads involved (may be empty: members can join later).

        Raises:
            InvalidSwarmInput: A squad name is empty.
        """
        names = tuple(dict.fromkeys(_required(s, "squad") for s in squads))
        return cls(
            id=swarm_id or new_id(),
            case_id=case_id,
            reason=reason,
            squads=names,
            opened_at=now,
        )

    @property
    def is_open(self) -> bool:
        """Whether the swarm is still open."""
        return self.closed_at is None

    def _ensure_open(self) -> None:
        if not self.is_open:
            raise errors.SwarmAlreadyClosed(f"swarm {self.id} closed at {self.closed_at}")

    def join(self, squad: str, *, catalogue: Catalogue | None = None) -> Self:
        """Add `squad` to the swarm; a member joining again changes nothing.

        Args:
            squad: The squad joining.
            catalogue: When given, the squad must be one of its squads.

        Raises:
            SwarmAlreadyClosed: The swarm is closed.
            UnknownSquad: `catalogue` is given and does not know `squad`.
            InvalidSwarmInput: The squad name is empty.
        """
        self._ensure_open()
        squad = _required(squad, "squad")
        if catalogue is not None and squad not in catalogue.squads:
            raise errors.UnknownSquad(f"squad {squad!r} is not in the catalogue")
        if squad in self.squads:
            return self
        return replace(self, squads=(*self.squads, squad))

    def note(self, author: str, text: str, *, now: datetime) -> Self:
        """Append a note.

        Raises:
            SwarmAlreadyClosed: The swarm is closed.
            InvalidSwarmInput: Empty author or text.
        """
        self._ensure_open()
        entry = SwarmNote(_required(author, "author"), _required(text, "note text"), now)
        return replace(self, notes=(*self.notes, entry))

    def close(
        self,
        owner_squad: str | None,
        outcome: str,
        *,
        now: datetime,
        catalogue: Catalogue | None = None,
    ) -> Self:
        """Close the swarm, with the squad that takes ownership (or None) and an outcome.

        Args:
            owner_squad: A member, or a catalogue squad, or None.
            outcome: What was decided, e.g. "assigned" or "resolved".
            now: When it closed.
            catalogue: Lets a non-member squad of the catalogue take ownership.

        Raises:
            SwarmAlreadyClosed: The swarm is already closed.
            UnknownSquad: The owner is neither a member nor a catalogue squad.
            InvalidSwarmInput: Empty outcome.
        """
        self._ensure_open()
        outcome = _required(outcome, "outcome")
        if (
            owner_squad is not None
            and owner_squad not in self.squads
            and (catalogue is None or owner_squad not in catalogue.squads)
        ):
            raise errors.UnknownSquad(
                f"owner {owner_squad!r} is neither a swarm member nor a catalogue squad"
            )
        return replace(self, closed_at=now, owner_squad=owner_squad, outcome=outcome)

    def opened_event(self) -> SwarmOpened:
        """The `support.swarm.opened.v1` payload."""
        return SwarmOpened(
            swarm_id=self.id,
            case_id=self.case_id,
            squads=list(self.squads),
            reason=self.reason,
            opened_at=self.opened_at,
        )

    def closed_event(self) -> SwarmClosed:
        """The `support.swarm.closed.v1` payload.

        Raises:
            SwarmError: The swarm is still open.
        """
        if self.closed_at is None or self.outcome is None:
            raise errors.SwarmError(f"swarm {self.id} is still open")
        return SwarmClosed(
            swarm_id=self.id,
            case_id=self.case_id,
            owner_squad=self.owner_squad,
            outcome=self.outcome,
            closed_at=self.closed_at,
        )

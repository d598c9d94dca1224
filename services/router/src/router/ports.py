"""Ports of the router service: small protocols the service depends on, with fakes beside them.

The store is three roles: `RouterTransaction` (what a use case reads and writes in one
transaction), `ReadQueries` and `DeliveryQueue`; `RouterStore` is all three. The real store
is `router.adapters.db.SqlStore` (SQLite or Postgres); unit tests use it on a SQLite file.
`ManualClock` is the fake clock tests move forward.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID

from contracts.cases import Recommendation
from contracts.envelope import OutboundEvent
from router.domain.policy import ModelMode
from router.records import (
    AutoAssignment,
    CaseFilter,
    CaseRecord,
    DeliveryStatus,
    HistoryEntry,
    NotificationRecord,
    SquadModeChange,
    SquadModeState,
    SwarmMember,
    SwarmNoteRecord,
    SwarmRecord,
    SwarmStatus,
)
from servicekit.audit import Audited


class Clock(Protocol):
    """Where the service reads the time."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """`datetime.now(UTC)`."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        """The set time."""
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Move forward by `delta`."""
        self._now += delta


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """The outcome of one delivery attempt, to record on its notification.

    `attempts` is the count to store. `claimed` is the count the claim left on the row
    (`NotificationRecord.attempts` as claimed; None: the same as `attempts`): the outcome is
    recorded only while the row still has it, so a late outcome after an expired lease (the
    row has been claimed again since) is dropped. `next_attempt_at` None keeps the stored
    value (a sent or finally failed row).
    """

    notification_id: UUID
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None
    claimed: int | None = None


class RouterTransaction(Protocol):
    """Reads and writes inside one database transaction."""

    def processed(self, event_ids: Sequence[str]) -> set[str]:
        """Which of these event ids were processed before."""
        ...

    def mark_processed(self, event_ids: Sequence[str], at: datetime) -> None:
        """Record event ids as processed."""
        ...

    def get_case(self, case_id: UUID) -> CaseRecord | None:
        """One case."""
        ...

    def get_cases(self, case_ids: Sequence[UUID]) -> dict[UUID, CaseRecord]:
        """Several cases by id."""
        ...

    def insert_cases(self, cases: Sequence[CaseRecord]) -> None:
        """Store new cases (one statement for all)."""
        ...

    def update_case(self, case: CaseRecord, *, expect: CaseRecord) -> bool:
        """Write `case` if the stored row is still at `expect.version` and `expect.status`;
        bump the version. Return whether the row was written (False: someone else won)."""
        ...

    def add_history(self, entries: Sequence[HistoryEntry]) -> None:
        """Append routing history."""
        ...

    def case_history(self, case_id: UUID) -> list[HistoryEntry]:
        """The routing history of a case, oldest first."""
        ...

    def recent_messages(
        self, case_ids: Sequence[UUID], kinds: Sequence[str], since: datetime
    ) -> dict[UUID, int]:
        """Messages of `kinds` queued per case since `since` (a message is one kind, squad and
        event, whatever its channels)."""
        ...

    def queue_notifications(self, rows: Sequence[NotificationRecord]) -> int:
        """Queue notifications, skipping any whose dedupe key (case, kind, squad, channel,
        event) already exists or repeats one earlier in `rows`; return how many were queued."""
        ...

    def add_events(self, events: Sequence[OutboundEvent]) -> None:
        """Write events to the outbox."""
        ...

    def insert_swarms(self, swarms: Sequence[SwarmRecord]) -> None:
        """Store new swarms with their members and notes (one statement per table)."""
        ...

    def get_swarm(self, swarm_id: UUID) -> SwarmRecord | None:
        """One swarm with members and notes."""
        ...

    def open_swarm_for(self, case_id: UUID) -> SwarmRecord | None:
        """The open swarm of a case, if any."""
        ...

    def add_member(self, swarm_id: UUID, member: SwarmMember) -> None:
        """Add a squad to a swarm."""
        ...

    def add_note(self, swarm_id: UUID, note: SwarmNoteRecord) -> None:
        """Append a note to a swarm."""
        ...

    def close_swarm(self, swarm: SwarmRecord) -> bool:
        """Mark an open swarm closed; return False when it was already closed."""
        ...

    def record_auto_assignments(self, rows: Sequence[AutoAssignment]) -> None:
        """Store automatic assignments (one per case), to watch them for corrections."""
        ...

    def correct_auto_assignments(
        self, moves: Sequence[tuple[UUID, str]], at: datetime
    ) -> dict[str, list[UUID]]:
        """Mark the automatic assignments of these cases (case id, squad a person moved it
        to) corrected when they went to another squad and were not corrected yet; return the
        squads whose assignments were corrected, with the cases."""
        ...

    def auto_assignment_window(
        self, squad: str, *, since: datetime, limit: int
    ) -> list[AutoAssignment]:
        """The squad's latest automatic assignments made at or after `since`, newest first."""
        ...

    def squad_modes(self) -> dict[str, SquadModeState]:
        """The modes set by the precision watch or by people, by squad."""
        ...

    def save_squad_mode(self, state: SquadModeState, *, expect: ModelMode | None) -> bool:
        """Write a squad's mode if its stored mode is still `expect` (None: the squad has
        no stored mode yet); return whether it was written (False: someone else won)."""
        ...

    def add_mode_change(self, change: SquadModeChange) -> None:
        """Append to the squads' mode history."""
        ...

    def mode_changes(self, squad: str) -> list[SquadModeChange]:
        """A squad's mode history, oldest first."""
        ...

    def shadow_cases(
        self, squad: str, *, since: datetime, limit: int
    ) -> list[tuple[str | None, Recommendation | None]]:
        """The latest cases predicted as `squad` and routed in `shadow` mode, received at or
        after `since`, newest first: the squad a person gave each (None: none yet) and what
        the model recommended."""
        ...

    def watched_squads(self) -> list[str]:
        """Squads with automatic assignments, sorted."""
        ...

    def audit(self, entry: Audited, at: datetime) -> None:
        """Append to the audit log, in this transaction: the entry of the action it runs."""
        ...


class ReadQueries(Protocol):
    """The read side of the router's database."""

    def get_case(self, case_id: UUID) -> CaseRecord | None:
        """One case."""
        ...

    def overdue_cases(self, now: datetime, limit: int) -> list[CaseRecord]:
        """Assigned cases whose acknowledgement deadline has passed, oldest deadline first."""
        ...

    def list_cases(
        self,
        filters: CaseFilter,
        *,
        after: tuple[float | None, datetime, UUID] | None = None,
        limit: int,
    ) -> list[CaseRecord]:
        """Cases matching `filters`, least confident (no confidence first), then oldest, then
        by id; with `after`, only those after that (confidence, received_at, id) position in
        this order."""
        ...

    def history(self, case_id: UUID) -> list[HistoryEntry]:
        """The routing history of a case, oldest first."""
        ...

    def history_since(self, since: datetime | None) -> list[HistoryEntry]:
        """Every history entry at or after `since` (all when None), oldest first."""
        ...

    def cases_received_since(self, since: datetime | None) -> list[CaseRecord]:
        """Cases received at or after `since` (all when None)."""
        ...

    def notifications_for(self, case_id: UUID) -> list[NotificationRecord]:
        """The notifications of a case, oldest first."""
        ...

    def swarms(
        self,
        status: SwarmStatus | None,
        *,
        limit: int,
        before: tuple[datetime, UUID] | None = None,
    ) -> list[SwarmRecord]:
        """Swarms, newest first (by opening time, then id); with `before`, only those after
        that (opened_at, id) position in this order."""
        ...

    def get_swarm(self, swarm_id: UUID) -> SwarmRecord | None:
        """One swarm with members and notes."""
        ...

    def swarm_of_case(self, case_id: UUID) -> SwarmRecord | None:
        """The latest swarm of a case."""
        ...

    def count_open_swarms(self) -> int:
        """How many swarms are open."""
        ...

    def ping(self) -> None:
        """Raise when the database cannot be reached."""
        ...


class DeliveryQueue(Protocol):
    """The durable notification queue (notifications are queued inside a transaction,
    `RouterTransaction.queue_notifications`)."""

    def claim_notifications(
        self,
        now: datetime,
        *,
        limit: int,
        lease: timedelta,
        per_receiver: int | None = None,
        busy: Collection[str] = (),
    ) -> list[NotificationRecord]:
        """Claim due notifications (queued, or sending with an expired lease) for delivery,
        in one statement; oldest first. The claim counts the attempt: each returned row's
        `attempts` is already incremented, so a send whose process dies still counts.

        At most `per_receiver` rows of one receiver (address) per claim, and none of the
        receivers in `busy` (those with as many in flight already)."""
        ...

    def finish_notifications(self, outcomes: Sequence[DeliveryOutcome]) -> None:
        """Record the outcomes of several delivery attempts in one transaction."""
        ...

    def count_failed_notifications(self) -> int:
        """How many notifications finally failed."""
        ...


class RouterStore(ReadQueries, DeliveryQueue, Protocol):
    """The router's database: transactions (the unit of work), reads and the delivery queue."""

    def transaction(self) -> AbstractContextManager[RouterTransaction]:
        """A transaction: committed when the block ends, rolled back on an exception."""
        ...

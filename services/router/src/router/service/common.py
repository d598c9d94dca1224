"""Shared pieces of the service functions: where events go (`Publishing`), the catalogue
holder, and conversions between stored swarms and domain swarms."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from pydantic import BaseModel

from contracts.catalogue import Catalogue, load_catalogue
from contracts.envelope import CloudEvent, OutboundEvent
from router.domain.notifications import Channel
from router.domain.swarm import Swarm, SwarmNote
from router.records import (
    SwarmMember,
    SwarmNoteRecord,
    SwarmRecord,
    SwarmStatus,
)

log = logging.getLogger(__name__)

SOURCE = "/support-triage/router"


@dataclass(frozen=True)
class NotificationThrottle:
    """At most `max_per_case` assignment messages (assigned, reassigned) per case within
    `window`; escalations and swarm invitations are never held back."""

    max_per_case: int
    window: timedelta


@dataclass(frozen=True)
class Publishing:
    """Where lifecycle events go, how messages link back to the router, and the channels
    squads are notified on (`router.adapters.notifications.channels.CHANNELS` in service;
    none: no notification is queued)."""

    lifecycle_topic: str = "support.case.lifecycle.v1"
    public_base_url: str = "http://127.0.0.1:8001"
    source: str = SOURCE
    channels: tuple[Channel, ...] = ()
    throttle: NotificationThrottle | None = None

    def case_url(self, case_id: UUID) -> str:
        """The API address of a case (Swagger UI users open it from a message)."""
        return f"{self.public_base_url.rstrip('/')}/v1/cases/{case_id}"

    def event(self, type_: str, case_id: UUID, data: BaseModel) -> OutboundEvent:
        """A lifecycle event keyed (and with subject) by its case id."""
        event = CloudEvent.of(type=type_, source=self.source, subject=str(case_id), data=data)
        return OutboundEvent(self.lifecycle_topic, event, str(case_id))


class CatalogueHolder:
    """The catalogue in force; `reload()` swaps it only when the new one validates."""

    def __init__(
        self,
        catalogue: Catalogue,
        path: str | Path | None = None,
        *,
        service_delivery_group: str | None = None,
    ) -> None:
        self._catalogue = catalogue
        self._path = Path(path) if path is not None else None
        self._service_delivery_group = service_delivery_group
        self._lock = threading.Lock()
        catalogue.report.log_to(log)

    @property
    def current(self) -> Catalogue:
        """The catalogue in force."""
        return self._catalogue

    def reload(self) -> bool:
        """Re-read the catalogue; return whether it changed.

        Raises:
            CatalogueError: The files are invalid; the current catalogue stays in force.
        """
        if self._path is None:
            return False
        new = load_catalogue(self._path, service_delivery_group=self._service_delivery_group)
        new.report.log_to(log)
        with self._lock:
            changed = new.digest != self._catalogue.digest
            self._catalogue = new
        return changed


def to_domain(record: SwarmRecord) -> Swarm:
    """The domain swarm of a stored one."""
    return Swarm(
        id=record.id,
        case_id=record.case_id,
        reason=record.reason,
        squads=tuple(m.squad for m in record.members),
        opened_at=record.opened_at,
        notes=tuple(SwarmNote(n.author, n.text, n.at) for n in record.notes),
        closed_at=record.closed_at,
        owner_squad=record.owner_squad,
        outcome=record.outcome,
    )


def to_record(swarm: Swarm, *, invited_by: str, members: Sequence[SwarmMember] = ()) -> SwarmRecord:
    """A stored swarm of a domain one; new members are recorded as joining at open time."""
    known = {m.squad: m for m in members}
    return SwarmRecord(
        id=swarm.id,
        case_id=swarm.case_id,
        status=SwarmStatus.OPEN if swarm.is_open else SwarmStatus.CLOSED,
        reason=swarm.reason,
        owner_squad=swarm.owner_squad,
        outcome=swarm.outcome,
        opened_at=swarm.opened_at,
        closed_at=swarm.closed_at,
        members=[
            known.get(s) or SwarmMember(squad=s, joined_at=swarm.opened_at, invited_by=invited_by)
            for s in swarm.squads
        ],
        notes=[SwarmNoteRecord(author=n.author, text=n.text, at=n.at) for n in swarm.notes],
    )

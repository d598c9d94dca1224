"""The notifications queued for one recipient squad: one row of the delivery queue per
channel the squad configured in the catalogue, all carrying the same channel-agnostic
`Notification` (each with its own id, the delivery's idempotency key)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from contracts.catalogue import Catalogue
from contracts.events import EscalationReason
from contracts.ids import new_id
from router.domain.notifications import Notification, NotificationKind, excerpt, targets_for
from router.records import CaseRecord, DeliveryStatus, NotificationRecord
from router.service.common import Publishing


def notifications_for(
    *,
    case: CaseRecord,
    kind: NotificationKind,
    squad: str,
    catalogue: Catalogue,
    pub: Publishing,
    event_key: str,
    now: datetime,
    reason: EscalationReason | None = None,
    squads_involved: Sequence[str] = (),
    swarm_id: UUID | None = None,
    unreachable_squad: str | None = None,
    catalogue_problem: str | None = None,
    suggested_squad: str | None = None,
    about_squad: str | None = None,
    detail: str | None = None,
) -> list[NotificationRecord]:
    """One queued notification per channel the squad configured (none for an unknown squad).

    Args:
        case: The case the message is about.
        kind: What happened.
        squad: The recipient squad.
        catalogue: Where the squad's channels are configured.
        pub: Links back to the router and the channels in service.
        event_key: The event that caused the message: one message per event, squad, channel.
        now: Queue time (the first attempt is due at once).
        reason: The escalation reason, if any.
        squads_involved: The plausible squads of an escalation or swarm.
        swarm_id: The swarm, if any.
        unreachable_squad: For `unreachable_squad`: the squad nobody can notify.
        catalogue_problem: For `unreachable_squad`: why, in words.
        suggested_squad: The model's suggestion to Service Delivery (mode `suggest`).
        about_squad: The squad a message about a squad is about (`model_demoted`).
        detail: The figures of such a message.
    """
    entry = catalogue.squads.get(squad)
    if entry is None:
        return []
    first_id = new_id()
    message = Notification(
        id=first_id,
        kind=kind,
        case_id=case.id,
        title=case.title,
        description_excerpt=excerpt(case.description),
        priority=case.priority,
        squad=squad,
        squad_title=entry.title,
        predicted_squad=case.predicted_squad,
        confidence=case.confidence,
        matched_components=case.matched_components,
        reason=reason,
        squads_involved=list(squads_involved),
        case_url=pub.case_url(case.id),
        swarm_id=swarm_id,
        unreachable_squad=unreachable_squad,
        catalogue_problem=catalogue_problem,
        suggested_squad=suggested_squad,
        about_squad=about_squad,
        detail=detail,
        created_at=now,
    )
    payload = message.model_dump(mode="json")  # once; each target only changes the id
    rows = []
    for i, target in enumerate(targets_for(entry, pub.channels)):
        one_id = first_id if i == 0 else new_id()
        rows.append(
            NotificationRecord(
                id=one_id,
                case_id=case.id,
                squad=squad,
                channel=target.channel,
                address=target.address,
                secret_env=target.secret_env,
                kind=str(kind),
                event_key=event_key,
                payload={**payload, "id": str(one_id)},
                status=DeliveryStatus.QUEUED,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return rows

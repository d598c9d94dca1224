"""Read side: the queue, case detail, swarms, and the Service Delivery figures.

`summarize()` is pure: it computes the figures from cases and their history, so tests can
feed it a known history.

Definitions (cases received at or after `since`):

- routed: cases the router received.
- auto-assign rate: cases whose first routing step was an automatic assignment / routed.
- escalation rate by reason: cases escalated at least once for the reason / routed
  (ack-timeout escalations count too); `escalation_rate` counts cases escalated at routing.
- misroute rate: cases reassigned at least once / cases assigned at least once.
- time to owner: from receipt to the assignment to the squad that still owns the case (the
  first assignment that was not later reassigned); for cases currently assigned,
  acknowledged or resolved with a squad. Nearest-rank p50 and p90, in seconds.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from pydantic import BaseModel, Field

from router.domain.lifecycle import ROUTER, LifecycleStatus
from router.ports import Clock, ReadQueries
from router.records import (
    ASSIGNING,
    CaseDetail,
    CaseFilter,
    CasePage,
    CaseRecord,
    HistoryAction,
    HistoryEntry,
    NotificationView,
    SwarmPage,
    SwarmRecord,
    SwarmStatus,
)
from router.service.errors import CaseNotFound, SwarmNotFound
from servicekit.paging import (
    as_datetime,
    as_float,
    as_uuid,
    decode_cursor,
    encode_cursor,
    optional,
)

QUEUE_CURSOR = "queue"
SWARMS_CURSOR = "swarms"


def list_cases(
    filters: CaseFilter,
    *,
    older_than_minutes: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
    store: ReadQueries,
    clock: Clock,
) -> CasePage:
    """A page of the queue, least confident then oldest first (keyset on confidence, receipt
    time and id: cases routed while a client pages through never shift a later page).

    Raises:
        InvalidCursor: The cursor is not a `next_cursor` of this listing.
    """
    after: tuple[float | None, datetime, UUID] | None = None
    if cursor:
        confidence, received_at, case_id = decode_cursor(
            cursor, QUEUE_CURSOR, optional(as_float), as_datetime, as_uuid
        )
        after = (confidence, received_at, case_id)
    if older_than_minutes is not None:
        filters = filters.model_copy(
            update={"received_before": clock.now() - timedelta(minutes=older_than_minutes)}
        )
    rows = store.list_cases(filters, after=after, limit=limit + 1)
    page, next_cursor = rows[:limit], None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor(QUEUE_CURSOR, last.confidence, last.received_at, last.id)
    return CasePage(items=page, next_cursor=next_cursor)


def list_swarms(
    status: SwarmStatus | None,
    *,
    limit: int = 50,
    cursor: str | None = None,
    store: ReadQueries,
) -> SwarmPage:
    """A page of swarms, newest first (by opening time, then id).

    The cursor is opaque to callers: it encodes the position of the page's last swarm, so
    swarms opened while a client pages through do not shift or repeat later pages.

    Args:
        status: Only swarms with this status (`open` or `closed`); all when None.
        limit: Page size.
        cursor: The `next_cursor` of the previous page; None for the first page.
        store: The database.

    Raises:
        InvalidCursor: The cursor is not a `next_cursor` of this listing.
    """
    before: tuple[datetime, UUID] | None = None
    if cursor:
        opened_at, swarm_id = decode_cursor(cursor, SWARMS_CURSOR, as_datetime, as_uuid)
        before = (opened_at, swarm_id)
    rows = store.swarms(status, limit=limit + 1, before=before)
    page, next_cursor = rows[:limit], None
    if len(rows) > limit:
        next_cursor = encode_cursor(SWARMS_CURSOR, page[-1].opened_at, page[-1].id)
    return SwarmPage(items=page, next_cursor=next_cursor)


def case_detail(case_id: UUID, *, store: ReadQueries) -> CaseDetail:
    """Everything about one case.

    Raises:
        CaseNotFound: No such case.
    """
    case = store.get_case(case_id)
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    return CaseDetail(
        case=case,
        history=store.history(case_id),
        notifications=[NotificationView.of(n) for n in store.notifications_for(case_id)],
        swarm=store.swarm_of_case(case_id),
    )


def get_swarm(swarm_id: UUID, *, store: ReadQueries) -> SwarmRecord:
    """One swarm.

    Raises:
        SwarmNotFound: No such swarm.
    """
    swarm = store.get_swarm(swarm_id)
    if swarm is None:
        raise SwarmNotFound(f"no swarm {swarm_id}")
    return swarm


class Summary(BaseModel):
    """Service Delivery figures over a window (definitions in the module docstring)."""

    since: datetime | None
    cases_routed: int
    auto_assigned: int
    auto_assign_rate: float | None
    escalated: int
    escalation_rate: float | None
    escalation_rate_by_reason: dict[str, float] = Field(default_factory=dict)
    escalations_by_reason: dict[str, int] = Field(default_factory=dict)
    reassigned: int
    misroute_rate: float | None
    time_to_owner_p50_seconds: float | None
    time_to_owner_p90_seconds: float | None
    open_swarms: int


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (`p` in 0..1) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p * len(ordered)))
    return ordered[rank - 1]


_OWNED = (LifecycleStatus.ASSIGNED, LifecycleStatus.ACKNOWLEDGED, LifecycleStatus.RESOLVED)
_NOT_ROUTING = (HistoryAction.RETRIAGED, HistoryAction.UNREACHABLE)
"""Entries that record something about a routing step rather than being one."""


def summarize(
    cases: Sequence[CaseRecord],
    history: Sequence[HistoryEntry],
    *,
    open_swarms: int,
    since: datetime | None,
) -> Summary:
    """Compute the figures from cases and their history (any order)."""
    by_case: dict[UUID, list[HistoryEntry]] = defaultdict(list)
    for h in sorted(history, key=lambda h: h.at):
        by_case[h.case_id].append(h)
    routed = len(cases)
    auto = escalated_at_routing = reassigned = ever_assigned = 0
    reasons: dict[str, int] = defaultdict(int)
    to_owner: list[float] = []
    for case in cases:
        steps = by_case.get(case.id, [])
        routing = [h for h in steps if h.action not in _NOT_ROUTING]
        first = routing[0] if routing else None
        if first is not None and first.action is HistoryAction.ASSIGNED and first.by == ROUTER:
            auto += 1
        if first is not None and first.action is HistoryAction.ESCALATED:
            escalated_at_routing += 1
        for reason in {h.reason for h in steps if h.action is HistoryAction.ESCALATED}:
            reasons[reason or "unknown"] += 1
        if any(h.action is HistoryAction.REASSIGNED for h in steps):
            reassigned += 1
        if any(h.action in ASSIGNING for h in steps):
            ever_assigned += 1
        if case.status in _OWNED and case.squad is not None:
            owner_steps = [h for h in steps if h.action in ASSIGNING and h.to_squad == case.squad]
            if owner_steps:
                seconds = (owner_steps[-1].at - case.received_at).total_seconds()
                to_owner.append(max(0.0, seconds))
    return Summary(
        since=since,
        cases_routed=routed,
        auto_assigned=auto,
        auto_assign_rate=_rate(auto, routed),
        escalated=escalated_at_routing,
        escalation_rate=_rate(escalated_at_routing, routed),
        escalation_rate_by_reason={r: _rate(n, routed) or 0.0 for r, n in sorted(reasons.items())},
        escalations_by_reason=dict(sorted(reasons.items())),
        reassigned=reassigned,
        misroute_rate=_rate(reassigned, ever_assigned),
        time_to_owner_p50_seconds=percentile(to_owner, 0.5),
        time_to_owner_p90_seconds=percentile(to_owner, 0.9),
        open_swarms=open_swarms,
    )


def metrics_summary(since: datetime | None, *, store: ReadQueries) -> Summary:
    """The figures for cases received at or after `since` (all cases when None)."""
    cases = store.cases_received_since(since)
    ids = {c.id for c in cases}
    history = [h for h in store.history_since(since) if h.case_id in ids]
    return summarize(cases, history, open_swarms=store.count_open_swarms(), since=since)

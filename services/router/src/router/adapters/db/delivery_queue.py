"""The durable notification delivery queue in the router's database.

`queue_rows` queues notifications inside the caller's transaction (the routing or desk
transaction that caused them), skipping any whose de-duplication key exists. Delivery then
works on the queue outside any use case: `claim_notifications` takes due rows in one
statement (a claim token and a lease, counting the attempt), `finish_notifications` records
outcomes, but only while the claim that took a row still holds it. A row claimed again while
still `sending` (its lease expired: the attempt's process died or stalled before recording an
outcome, so the receiver may have it already) gets `LEASE_EXPIRED` as its `last_error`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, bindparam, case, func, select, update

from contracts.ids import new_id
from router.adapters import tables as t
from router.adapters.db.rows import insert_ignoring_conflicts, notification_from, notification_row
from router.ports import DeliveryOutcome
from router.records import DeliveryStatus, NotificationRecord

LEASE_EXPIRED = "lease expired: an attempt never reported its outcome (it may have been delivered)"


def queue_rows(conn: Connection, notifications: Sequence[NotificationRecord]) -> int:
    """Insert notifications, skipping known de-duplication keys; how many were queued."""
    if not notifications:
        return 0
    # One executemany for all rows; ON CONFLICT DO NOTHING skips keys already stored and
    # repeats within `notifications` (the first wins). SQLite reports the rows inserted in the
    # rowcount of an executemany; psycopg does not, so Postgres counts RETURNING rows.
    values = [notification_row(n) for n in notifications]
    stmt = insert_ignoring_conflicts(conn, t.notifications)
    if conn.dialect.name == "sqlite":
        return int(conn.execute(stmt, values).rowcount)
    result = conn.execute(stmt.returning(t.notifications.c.id), values)
    return len(result.all())


class SqlDeliveryQueue:
    """`DeliveryQueue` over a SQLAlchemy engine."""

    engine: Engine

    def claim_notifications(
        self,
        now: datetime,
        *,
        limit: int,
        lease: timedelta,
        per_receiver: int | None = None,
        busy: Collection[str] = (),
    ) -> list[NotificationRecord]:
        n = t.notifications.c
        due = and_(
            n.status.in_([DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value]),
            n.next_attempt_at <= now,
        )
        eligible = and_(due, n.address.not_in(list(busy))) if busy else due
        if per_receiver is not None:
            # The oldest `per_receiver` due rows of each receiver; the window is ranked in a
            # subquery so the locking select below has none (Postgres refuses FOR UPDATE
            # next to a window function).
            rank = func.row_number().over(
                partition_by=n.address, order_by=(n.next_attempt_at, n.id)
            )
            ranked = select(n.id, rank.label("rn")).where(eligible).subquery()
            eligible = and_(
                eligible, n.id.in_(select(ranked.c.id).where(ranked.c.rn <= per_receiver))
            )
        pick = select(n.id).where(eligible).order_by(n.next_attempt_at).limit(limit)
        if self.engine.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        claim = (
            update(t.notifications)
            .where(n.id.in_(pick.scalar_subquery()), due)
            .values(
                status=DeliveryStatus.SENDING.value,
                claim_token=str(new_id()),
                next_attempt_at=now + lease,
                attempts=n.attempts + 1,  # counted now, so a crashed send still counts
                last_error=case(
                    (n.status == DeliveryStatus.SENDING.value, LEASE_EXPIRED),
                    else_=n.last_error,
                ),
            )
            .returning(*t.notifications.c)
        )
        with self.engine.begin() as conn:
            claimed = [notification_from(r) for r in conn.execute(claim).mappings()]
        return sorted(claimed, key=lambda r: (r.created_at, str(r.id)))

    def finish_notifications(self, outcomes: Sequence[DeliveryOutcome]) -> None:
        if not outcomes:
            return
        n = t.notifications.c
        # Only the claim that took the row may record its outcome: every claim increments
        # `attempts`, so when a lease expired and another worker claimed the row meanwhile,
        # `attempts` has moved on and the late outcome is dropped instead of overwriting the
        # newer one.
        stmt = (
            update(t.notifications)
            .where(n.id == bindparam("b_id"), n.attempts == bindparam("b_claimed"))
            .values(
                status=bindparam("b_status"),
                attempts=bindparam("b_attempts"),
                last_error=bindparam("b_error"),
                sent_at=bindparam("b_sent", type_=t.UTCDateTime()),
                next_attempt_at=func.coalesce(
                    bindparam("b_next", type_=t.UTCDateTime()), n.next_attempt_at
                ),
                claim_token=None,
            )
        )
        rows = [
            {
                "b_id": str(o.notification_id),
                "b_claimed": o.attempts if o.claimed is None else o.claimed,
                "b_status": o.status.value,
                "b_attempts": o.attempts,
                "b_error": o.last_error,
                "b_sent": o.sent_at,
                "b_next": o.next_attempt_at,
            }
            for o in outcomes
        ]
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)

    def count_failed_notifications(self) -> int:
        n = t.notifications.c
        stmt = (
            select(func.count())
            .select_from(t.notifications)
            .where(n.status == DeliveryStatus.FAILED.value)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

"""Database engines and group commit.

`make_engine(url)` gives SQLite (WAL, `synchronous=NORMAL`, busy timeout, foreign keys) or
Postgres (pre-ping pool, bounded connect and pool waits) engines. `GroupCommitter` is the
lever PERFORMANCE.md measured: one writer task per process takes the rows that requests
queued, writes them in one transaction, and answers each request after the commit (5-6x the
throughput of a commit per request, at a lower p99). Its queue is bounded: when `max_pending`
requests already wait (the database is slow or down), `submit` raises `Overloaded` at once
instead of holding more requests in memory; the HTTP edge answers 503 with `Retry-After`.

`is_unavailable(exc)` says whether an error means the database cannot be reached or used right
now (connection refused or lost, pool timeout, SQLite file locked or unreadable): the HTTP
edge answers those 503 `database_unavailable` with `Retry-After` rather than 500, and
consumers retry them (`is_transient`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

RETRY_AFTER_UNAVAILABLE = 5  # seconds a client should wait when the database is unavailable
RETRY_AFTER_OVERLOADED = 1  # seconds a client should wait when the intake queue is full
CONNECT_TIMEOUT = 5  # seconds to open a Postgres connection
POOL_TIMEOUT = 10  # seconds to wait for a pooled connection


class Overloaded(Exception):
    """The group commit queue is full: the caller should retry later (HTTP 503)."""

    code = "overloaded"

    def __init__(self, pending: int) -> None:
        self.message = f"{pending} requests are already waiting to be stored; retry later"
        self.headers = {"Retry-After": str(RETRY_AFTER_OVERLOADED)}
        super().__init__(self.message)


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or an error it was raised from) means the database cannot be reached or
    used right now: a connection refused, lost or timed out, a pool timeout, SQLite's file
    locked or unreadable. Retrying later may succeed; the request itself is not at fault."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PoolTimeout | DisconnectionError | OperationalError):
            return True
        if isinstance(current, DBAPIError) and (
            current.connection_invalidated or isinstance(current, InterfaceError)
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; for a SQLite file, create its folder and tune it for WAL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_timeout=POOL_TIMEOUT,
        connect_args=connect_args,
    )


def is_transient(exc: BaseException) -> bool:
    """Whether writing the same rows again later may succeed.

    A data error (a constraint violation, a value the column refuses, a value that cannot be
    bound) fails again the same way, and so does any error that is not about the database or
    the network (a bug, a refused value in the service). Every other database error
    (connection lost, pool timeout, lock or serialization failure, a table missing during a
    deployment) and OS-level errors pass: consumers retry those rather than dead-letter the
    record.
    """
    if isinstance(exc, IntegrityError | DataError):
        return False
    if isinstance(exc, DBAPIError):
        return True
    if isinstance(exc, StatementError):  # raised before the driver saw it: a bad value
        return False
    return isinstance(exc, SQLAlchemyError | OSError | TimeoutError)


def is_sqlite(engine: Engine) -> bool:
    """Whether the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


class GroupCommitter(Generic[T, R]):
    """Batch queued items into one blocking `write(items) -> results` call in a thread.

    `write` must return one result per item, in order, or raise. When a batch of several
    items fails, each item is written again on its own so one bad item does not fail the
    others; the bad item's caller gets its exception. When the database is unavailable
    (`is_unavailable`) the whole batch fails with that error instead: writing each item on
    its own would only fail the same way, slower.

    At most `max_pending` items wait in the queue (not counting the batch being written);
    `submit` raises `Overloaded` beyond that.
    """

    def __init__(
        self,
        write: Callable[[Sequence[T]], Sequence[R]],
        *,
        max_batch: int = 256,
        max_pending: int = 1024,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] = asyncio.Queue(max_pending)
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """How many items wait for the writer."""
        return self._queue.qsize()

    async def submit(self, item: T) -> R:
        """Queue `item` and wait until it is committed.

        Raises:
            Overloaded: `max_pending` items already wait.
        """
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="group-commit")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait((item, future))
        except asyncio.QueueFull:
            raise Overloaded(self._queue.qsize()) from None
        return await future

    async def close(self) -> None:
        """Stop the writer task (queued items still waiting are cancelled)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            _, fut = self._queue.get_nowait()
            fut.cancel()

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._flush(batch)

    async def _flush(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        try:
            results = await asyncio.to_thread(self._write, items)
        except Exception as exc:
            if len(batch) == 1 or is_unavailable(exc):
                for _, fut in batch:
                    _settle(fut, exc=exc)
                return
            log.warning("group commit of %d failed (%s); writing one by one", len(batch), exc)
            for item, fut in batch:
                try:
                    (result,) = await asyncio.to_thread(self._write, [item])
                except Exception as one_exc:
                    _settle(fut, exc=one_exc)
                else:
                    _settle(fut, result=result)
            return
        for (_, fut), result in zip(batch, results, strict=True):
            _settle(fut, result=result)


def _settle(
    fut: asyncio.Future[Any], *, result: Any = None, exc: BaseException | None = None
) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)

"""The router's database adapter: `SqlStore` on SQLite (embedded default) or Postgres, in
three roles, one module each:

- `unit_of_work`: `SqlTransaction`, what a use case reads and writes in one transaction
  (`SqlStore.transaction()`);
- `queries`: the read side (queue, detail, history, swarms, figures);
- `delivery_queue`: the durable notification queue (queue, claim, finish);

with `rows` mapping rows to records. On SQLite every transaction starts with
`BEGIN IMMEDIATE` so two writers never deadlock on a lock upgrade (the second waits for the
first, up to the busy timeout); on Postgres the usual read-committed transactions plus
conditional updates do the same job.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event

from router.adapters.db.delivery_queue import SqlDeliveryQueue
from router.adapters.db.queries import SqlReadQueries
from router.adapters.db.unit_of_work import SqlTransaction
from servicekit.db import make_engine


def make_router_engine(url: str) -> Engine:
    """`servicekit.db.make_engine`, plus `BEGIN IMMEDIATE` transactions on SQLite."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _autocommit_driver(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class SqlStore(SqlReadQueries, SqlDeliveryQueue):
    """`RouterStore` over a SQLAlchemy engine: transactions, read queries, delivery queue."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        """One transaction: commit at the end of the block, roll back on an exception."""
        with self.engine.begin() as conn:
            yield SqlTransaction(conn)


__all__ = ["SqlStore", "SqlTransaction", "make_router_engine"]

"""The router's audit entries are part of the actions they record, on SQLite and Postgres:
a committed desk action always has its entry (who, from `by`; what; on what), and one whose
transaction does not commit leaves neither its change nor an entry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from contracts.cases import Candidate, MatchedComponent
from router.adapters import tables
from router.adapters.db import SqlStore, SqlTransaction
from router.app import Container
from router.domain.policy import ModelMode
from router.records import LifecycleStatus
from router.service import desk, squads

from .test_router_repository_backends import database_url, make, triaged

__all__ = ["database_url", "make"]  # fixtures, shared with the repository tests


class CommitFails(RuntimeError):
    """The database refused the commit."""


class FailingCommitStore(SqlStore):
    """The real store, except that every transaction fails at its end (rolled back), after
    the action wrote everything it writes."""

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        with super().transaction() as tx:
            yield tx
            raise CommitFails("commit refused")


def audit_rows(c: Container) -> list[dict[str, Any]]:
    t = tables.audit_log
    with c.engine.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.id)).mappings().all()
    return [{k: r[k] for k in ("actor", "action", "target", "detail")} for r in rows]


def deps(c: Container, clock: Any, store: SqlStore | None = None) -> dict[str, Any]:
    return {
        "store": store or c.store,
        "catalogue": c.catalogue.current,
        "clock": clock,
        "pub": c.pub,
    }


def _routed(c: Container, squad: str, confidence: float = 0.9) -> UUID:
    event = triaged(squad, confidence)
    c.route([event])
    return event[1].case_id


def _actions(c: Container, clock: Any) -> list[tuple[str, Callable[[SqlStore], Any], dict]]:
    """(name, action on a store, its expected entry) for each audited desk action, in an
    order where each can run after the previous ones committed."""
    case = _routed(c, "payments")
    policy = c.policy.current

    def assign(store: SqlStore) -> Any:
        return desk.assign_case(
            case, squad="checkout", by="sam", note="basket", policy=policy, **deps(c, clock, store)
        )

    def acknowledge(store: SqlStore) -> Any:
        d = deps(c, clock, store)
        d.pop("catalogue")
        return desk.acknowledge_case(case, squad="checkout", by="pat", **d)

    def resolve(store: SqlStore) -> Any:
        return desk.resolve_case(case, by="pat", resolution="fixed", **deps(c, clock, store))

    def mode(store: SqlStore) -> Any:
        d = deps(c, clock, store)
        d.pop("pub")
        return squads.set_squad_mode(
            "payments", mode=ModelMode.SUGGEST, by="admin", policy=policy, **d
        )

    target = str(case)
    return [
        ("assign", assign, {"actor": "sam", "action": "case.reassign", "target": target}),
        ("acknowledge", acknowledge, {"actor": "pat", "action": "case.acknowledge"}),
        ("resolve", resolve, {"actor": "pat", "action": "case.resolve", "target": target}),
        ("mode", mode, {"actor": "admin", "action": "squad.mode", "target": "payments"}),
    ]


def test_each_desk_action_and_its_audit_entry_commit_together(make) -> None:
    build_one, clock = make
    c = build_one()
    failing = FailingCommitStore(c.engine)
    for name, action, expected in _actions(c, clock):
        before = audit_rows(c)
        with pytest.raises(CommitFails):
            action(failing)
        assert audit_rows(c) == before, f"{name}: an entry without its action"

        action(c.store)
        after = audit_rows(c)
        assert len(after) == len(before) + 1, name
        assert expected.items() <= after[-1].items(), (name, after[-1])


def test_a_reassignment_says_from_whom_and_a_refused_action_leaves_no_entry(make) -> None:
    build_one, clock = make
    c = build_one()
    case = _routed(c, "payments")
    policy = c.policy.current
    d = deps(c, clock)

    done = desk.assign_case(case, squad="checkout", by="sam", policy=policy, **d)
    assert (done.reassigned, done.from_squad, done.case.squad) == (True, "payments", "checkout")
    with pytest.raises(Exception, match="only 'checkout'"):  # the wrong squad acknowledges
        d.pop("catalogue")
        desk.acknowledge_case(case, squad="payments", by="pat", **d)

    entries = audit_rows(c)
    assert entries == [
        {
            "actor": "sam",
            "action": "case.reassign",
            "target": str(case),
            "detail": {"squad": "checkout", "from_squad": "payments"},
        }
    ]
    assert c.store.get_case(case).status is LifecycleStatus.ASSIGNED


def test_swarm_actions_are_audited_in_their_transactions(make) -> None:
    build_one, clock = make
    c = build_one()
    event_id, cross = triaged("payments", 0.5)
    result = cross.result.model_copy(
        update={
            "candidates": [
                Candidate(squad="payments", probability=0.5),
                Candidate(squad="checkout", probability=0.45),
            ],
            "matched_components": [
                MatchedComponent(component="payment-gateway", owner="payments"),
                MatchedComponent(component="checkout-api", owner="checkout"),
            ],
            "spans_squads": True,
        }
    )
    c.route([(event_id, cross.model_copy(update={"result": result}))])
    swarm = c.store.swarm_of_case(cross.case_id)
    assert swarm is not None, "a case spanning two squads opens a swarm"
    failing = FailingCommitStore(c.engine)
    d = deps(c, clock)
    with pytest.raises(CommitFails):
        desk.add_swarm_note(swarm.id, author="sd", text="looking", store=failing, clock=clock)
    assert audit_rows(c) == []
    desk.add_swarm_note(swarm.id, author="sd", text="looking", store=c.store, clock=clock)
    desk.add_swarm_member(swarm.id, squad="search-listings", by="sd", **d)
    desk.close_swarm(
        swarm.id, owner_squad="payments", outcome="theirs", by="sd", policy=c.policy.current, **d
    )
    assert [(e["actor"], e["action"]) for e in audit_rows(c)] == [
        ("sd", "swarm.note"),
        ("sd", "swarm.invite"),
        ("sd", "swarm.close"),
    ]

"""The manual triage desk: what people do to cases and swarms in Swagger UI.

Each function runs one transaction: it loads the case (or swarm), asks the domain whether the
action is allowed (`InvalidTransition` / `SwarmAlreadyClosed` otherwise), writes the new state
with an optimistic version check (`ConcurrentUpdate` when someone else changed it first), and
writes what the domain events cause (`router.service.effects`: history, notifications and
lifecycle events) in the same transaction; the metrics are counted after the commit.

A manual assignment to a squad other than the current one (or, when there is none, other
than the predicted one) is a correction: it emits `support.case.reassigned.v1`, the training
label for triage, and the domain records the old squad in `moved_away_from`. It also
corrects the case's automatic assignment, if it had one, for the realised precision watch
(`router.service.watch`): a squad whose precision fell is demoted in the same transaction.

Every action also writes its audit entry (`servicekit.audit`: who, from `by`, did what) in
the action's transaction: an action that fails or never commits leaves none, a committed one
always has one. `assign_case` says whether it was a reassignment, and from which squad.

The steps inside a transaction live in `router.service.desk_steps`.
"""

from __future__ import annotations

from uuid import UUID

from contracts.catalogue import Catalogue
from router import metrics
from router.domain.errors import SwarmAlreadyClosed
from router.domain.events import SwarmJoined
from router.domain.lifecycle import Acknowledge, Resolve
from router.domain.policy import Policy
from router.domain.swarm import Swarm
from router.ports import Clock, RouterStore
from router.records import (
    ASSIGNING,
    CaseRecord,
    SwarmMember,
    SwarmNoteRecord,
    SwarmRecord,
    SwarmStatus,
)
from router.service.common import Publishing, to_domain
from router.service.desk_steps import (
    Assignment,
    apply_action,
    assign_in_tx,
    check_owning_squad,
    close_open_swarm,
    load_case,
    load_swarm,
)
from router.service.effects import Effects
from servicekit.audit import Audited

__all__ = [
    "Assignment",
    "acknowledge_case",
    "add_swarm_member",
    "add_swarm_note",
    "assign_case",
    "close_swarm",
    "resolve_case",
]


def assign_case(
    case_id: UUID,
    *,
    squad: str,
    by: str,
    note: str | None = None,
    store: RouterStore,
    catalogue: Catalogue,
    policy: Policy,
    clock: Clock,
    pub: Publishing,
) -> Assignment:
    """Assign or reassign a case by hand; the case, and whether it was a reassignment.

    Raises:
        UnknownSquadError: `squad` is not an owning squad of the catalogue.
        CaseNotFound: No such case.
        InvalidTransition: The case cannot be assigned now (e.g. resolved, same squad).
        ConcurrentUpdate: The case changed meanwhile.
    """
    check_owning_squad(squad, catalogue, "body.squad")
    effects = Effects(catalogue=catalogue, pub=pub, now=clock.now(), policy=policy)
    with store.transaction() as tx:
        case = load_case(tx, case_id)
        done = assign_in_tx(tx, case, squad=squad, by=by, note=note, policy=policy, effects=effects)
        effects.write(tx)
        detail = {"squad": squad, "from_squad": done.from_squad}
        tx.audit(Audited(by, done.audit_action, str(case_id), detail), effects.now)
    effects.count()
    return done


def acknowledge_case(
    case_id: UUID, *, squad: str, by: str, store: RouterStore, clock: Clock, pub: Publishing
) -> CaseRecord:
    """The assigned squad acknowledges the case.

    Raises:
        CaseNotFound: No such case.
        InvalidTransition: Not assigned, or assigned to another squad.
        ConcurrentUpdate: The case changed meanwhile.
    """
    effects = Effects(catalogue=None, pub=pub, now=clock.now())
    with store.transaction() as tx:
        case = load_case(tx, case_id)
        new, happened = apply_action(tx, case, Acknowledge(squad=squad, by=by), effects.now)
        effects.add(new, happened)
        effects.write(tx)
        tx.audit(Audited(by, "case.acknowledge", str(case_id), {"squad": squad}), effects.now)
        owner_at = max(
            (
                h.at
                for h in tx.case_history(case.id)
                if h.action in ASSIGNING and h.to_squad == squad
            ),
            default=None,
        )
    effects.count()
    if owner_at is not None:  # from the history: not a fact of the acknowledgement itself
        metrics.TIME_TO_OWNER.observe(max(0.0, (owner_at - case.received_at).total_seconds()))
    return new


def resolve_case(
    case_id: UUID,
    *,
    by: str,
    resolution: str | None = None,
    store: RouterStore,
    catalogue: Catalogue,
    clock: Clock,
    pub: Publishing,
) -> CaseRecord:
    """Resolve a case (an open swarm on it closes with the resolution).

    Raises:
        CaseNotFound: No such case.
        InvalidTransition: Not in a status that can be resolved.
        ConcurrentUpdate: The case changed meanwhile.
    """
    effects = Effects(catalogue=catalogue, pub=pub, now=clock.now())
    with store.transaction() as tx:
        case = load_case(tx, case_id)
        resolve = Resolve(by=by, resolution=resolution)
        new, happened = apply_action(tx, case, resolve, effects.now)
        closed = close_open_swarm(
            tx,
            case.id,
            owner=None,
            outcome=f"resolved: {resolution}" if resolution else "resolved",
            by=by,
            now=effects.now,
            catalogue=catalogue,
        )
        effects.add(new, [*closed, *happened])
        effects.write(tx)
        tx.audit(Audited(by, "case.resolve", str(case_id)), effects.now)
    effects.count()
    return new


def add_swarm_member(
    swarm_id: UUID,
    *,
    squad: str,
    by: str,
    store: RouterStore,
    catalogue: Catalogue,
    clock: Clock,
    pub: Publishing,
) -> SwarmRecord:
    """Invite a squad into a swarm (notified like the first members).

    Raises:
        SwarmNotFound: No such swarm.
        SwarmAlreadyClosed: The swarm is closed.
        UnknownSquad / UnknownSquadError: Not an owning squad of the catalogue.
    """
    check_owning_squad(squad, catalogue, "body.squad")
    effects = Effects(catalogue=catalogue, pub=pub, now=clock.now())
    with store.transaction() as tx:
        swarm = load_swarm(tx, swarm_id)
        domain = to_domain(swarm)
        joined = domain.join(squad, catalogue=catalogue)
        tx.audit(Audited(by, "swarm.invite", str(swarm_id), {"squad": squad}), effects.now)
        if joined is domain:
            return swarm  # a member already: nothing else to write
        tx.add_member(swarm.id, SwarmMember(squad=squad, joined_at=effects.now, invited_by=by))
        case = load_case(tx, swarm.case_id)
        effects.add(case, [SwarmJoined(swarm=joined, squad=squad, by=by)])
        effects.write(tx)
        return load_swarm(tx, swarm_id)


def add_swarm_note(
    swarm_id: UUID, *, author: str, text: str, store: RouterStore, clock: Clock
) -> SwarmRecord:
    """Append a note to an open swarm.

    Raises:
        SwarmNotFound: No such swarm.
        SwarmAlreadyClosed: The swarm is closed.
        InvalidSwarmInput: Empty author or text.
    """
    now = clock.now()
    with store.transaction() as tx:
        swarm = load_swarm(tx, swarm_id)
        noted: Swarm = to_domain(swarm).note(author, text, now=now)
        last = noted.notes[-1]
        tx.add_note(swarm.id, SwarmNoteRecord(author=last.author, text=last.text, at=last.at))
        tx.audit(Audited(author, "swarm.note", str(swarm_id)), now)
        return load_swarm(tx, swarm_id)


def close_swarm(
    swarm_id: UUID,
    *,
    owner_squad: str,
    outcome: str,
    by: str,
    store: RouterStore,
    catalogue: Catalogue,
    policy: Policy,
    clock: Clock,
    pub: Publishing,
) -> SwarmRecord:
    """Close a swarm: the owner squad takes the case (assigned, swarm.closed + assigned).

    Raises:
        SwarmNotFound: No such swarm.
        SwarmAlreadyClosed: The swarm is closed.
        UnknownSquadError: The owner is not an owning squad of the catalogue.
        InvalidSwarmInput: Empty outcome.
        InvalidTransition: The case cannot be assigned now.
    """
    check_owning_squad(owner_squad, catalogue, "body.owner_squad")
    effects = Effects(catalogue=catalogue, pub=pub, now=clock.now(), policy=policy)
    with store.transaction() as tx:
        swarm = load_swarm(tx, swarm_id)
        if swarm.status is SwarmStatus.CLOSED:
            raise SwarmAlreadyClosed(f"swarm {swarm.id} closed at {swarm.closed_at}")
        to_domain(swarm).close(owner_squad, outcome, now=effects.now, catalogue=catalogue)
        case = load_case(tx, swarm.case_id)
        assign_in_tx(
            tx,
            case,
            squad=owner_squad,
            by=by,
            note=f"swarm outcome: {outcome.strip()}",
            policy=policy,
            effects=effects,
            swarm_outcome=outcome,
        )
        effects.write(tx)
        detail = {"owner_squad": owner_squad}
        tx.audit(Audited(by, "swarm.close", str(swarm_id), detail), effects.now)
        closed = load_swarm(tx, swarm_id)
    effects.count()
    return closed

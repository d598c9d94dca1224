"""Swarm records: open, join, note, close, and what a closed swarm refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from contracts.catalogue import Catalogue
from contracts.events import EscalationReason as R
from router.domain.errors import (
    InvalidSwarmInput,
    SwarmAlreadyClosed,
    SwarmError,
    UnknownSquad,
)
from router.domain.swarm import Swarm, SwarmNote

OPENED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LATER = OPENED + timedelta(minutes=20)
CASE = UUID("0190a1b2-0000-7000-8000-0000000000aa")
SWARM = UUID("0190a1b2-0000-7000-8000-0000000000bb")


@pytest.fixture
def swarm() -> Swarm:
    return Swarm.open(
        case_id=CASE,
        squads=["payments", "identity", "payments"],
        reason=R.CROSS_SQUAD,
        now=OPENED,
        swarm_id=SWARM,
    )


def test_open_deduplicates_squads_in_order(swarm: Swarm) -> None:
    assert swarm.squads == ("payments", "identity")
    assert swarm.id == SWARM
    assert swarm.case_id == CASE
    assert swarm.reason == R.CROSS_SQUAD
    assert swarm.is_open
    assert swarm.notes == ()


def test_open_without_id_makes_a_fresh_one() -> None:
    first = Swarm.open(case_id=CASE, squads=[], reason=R.UNOWNED, now=OPENED)
    second = Swarm.open(case_id=CASE, squads=[], reason=R.UNOWNED, now=OPENED)
    assert first.id != second.id
    assert first.squads == ()


def test_open_refuses_an_empty_squad_name() -> None:
    with pytest.raises(InvalidSwarmInput):
        Swarm.open(case_id=CASE, squads=["payments", " "], reason=R.CROSS_SQUAD, now=OPENED)


def test_join_adds_a_member_once(swarm: Swarm, catalogue: Catalogue) -> None:
    joined = swarm.join("search", catalogue=catalogue)
    assert joined.squads == ("payments", "identity", "search")
    assert joined.join("search") == joined
    assert swarm.squads == ("payments", "identity")  # the original is unchanged


def test_join_refuses_a_squad_the_catalogue_does_not_know(
    swarm: Swarm, catalogue: Catalogue
) -> None:
    with pytest.raises(UnknownSquad) as caught:
        swarm.join("ghosts", catalogue=catalogue)
    assert caught.value.code == "unknown_squad"


def test_notes_are_appended_in_order(swarm: Swarm) -> None:
    noted = swarm.note("ann", "looking at card-vault", now=OPENED)
    noted = noted.note("bob", "  me too ", now=LATER)
    assert noted.notes == (
        SwarmNote("ann", "looking at card-vault", OPENED),
        SwarmNote("bob", "me too", LATER),
    )


@pytest.mark.parametrize(("author", "text"), [("", "x"), ("ann", ""), ("ann", "   ")])
def test_empty_notes_are_refused(swarm: Swarm, author: str, text: str) -> None:
    with pytest.raises(InvalidSwarmInput) as caught:
        swarm.note(author, text, now=LATER)
    assert caught.value.code == "invalid_swarm_input"


def test_close_with_a_member_as_owner(swarm: Swarm) -> None:
    closed = swarm.close("identity", "assigned", now=LATER)
    assert not closed.is_open
    assert (closed.owner_squad, closed.outcome, closed.closed_at) == ("identity", "assigned", LATER)
    assert swarm.is_open


def test_close_with_a_catalogue_squad_that_never_joined(swarm: Swarm, catalogue: Catalogue) -> None:
    assert swarm.close("platform", "assigned", now=LATER, catalogue=catalogue).owner_squad == (
        "platform"
    )


def test_close_without_owner(swarm: Swarm) -> None:
    closed = swarm.close(None, "resolved", now=LATER)
    assert closed.owner_squad is None
    assert closed.outcome == "resolved"


@pytest.mark.parametrize("with_catalogue", [False, True])
def test_close_refuses_an_unknown_owner(
    swarm: Swarm, catalogue: Catalogue, with_catalogue: bool
) -> None:
    with pytest.raises(UnknownSquad):
        swarm.close(
            "ghosts", "assigned", now=LATER, catalogue=catalogue if with_catalogue else None
        )


def test_close_refuses_a_non_member_without_catalogue(swarm: Swarm) -> None:
    with pytest.raises(UnknownSquad):
        swarm.close("platform", "assigned", now=LATER)


def test_close_refuses_an_empty_outcome(swarm: Swarm) -> None:
    with pytest.raises(InvalidSwarmInput):
        swarm.close("payments", " ", now=LATER)


def test_a_closed_swarm_refuses_every_change(swarm: Swarm, catalogue: Catalogue) -> None:
    closed = swarm.close("payments", "assigned", now=LATER)
    attempts = [
        lambda: closed.close("identity", "assigned", now=LATER),
        lambda: closed.close(None, "resolved", now=LATER),
        lambda: closed.join("search", catalogue=catalogue),
        lambda: closed.note("ann", "late", now=LATER),
    ]
    for attempt in attempts:
        with pytest.raises(SwarmAlreadyClosed) as caught:
            attempt()
        assert caught.value.code == "swarm_closed"


def test_events(swarm: Swarm) -> None:
    opened = swarm.opened_event()
    assert (opened.swarm_id, opened.case_id) == (SWARM, CASE)
    assert opened.squads == ["payments", "identity"]
    assert (opened.reason, opened.opened_at) == (R.CROSS_SQUAD, OPENED)
    with pytest.raises(SwarmError):
        swarm.closed_event()
    closed = swarm.close("identity", "assigned", now=LATER).closed_event()
    assert (closed.swarm_id, closed.case_id) == (SWARM, CASE)
    assert (closed.owner_squad, closed.outcome, closed.closed_at) == ("identity", "assigned", LATER)

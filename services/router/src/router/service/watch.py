"""The realised precision watch in the service: review squads, list them, change a mode.

`review(tx, squads, policy, now)` runs inside the transaction that recorded automatic
assignments or corrections (`router.service.effects` calls it): for each squad touched it
assesses the window (`router.domain.watch`) and, when the realised precision fell below
`target - margin`, demotes the squad to `suggest` with a conditional write (`write_mode`,
which people's changes use too), so however many cases or router instances see the fall,
the squad is demoted -- and Service Delivery notified -- once. The policy's mode wins over
the watch's: a squad the policy does not run `auto` is never demoted (it assigns nothing
automatically).

What people see and change of it is `router.service.squads`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from router.domain.policy import ModelMode, Policy
from router.domain.watch import Assessment, Watched, assess, window_start
from router.ports import RouterTransaction
from router.records import SquadModeChange, SquadModeState

WATCH = "precision-watch"
"""Who demotes a squad (`by` in its mode history)."""


@dataclass(frozen=True, slots=True)
class Demotion:
    """A squad the watch just demoted to `suggest`, and why."""

    squad: str
    reason: str


def demoted_squads(modes: dict[str, SquadModeState]) -> dict[str, str]:
    """Squads set to `suggest` by the watch or a person, with why (for `decide`)."""
    return {
        s: f"mode suggest (set by {m.changed_by} at {m.changed_at:%Y-%m-%d %H:%M}Z: {m.reason})"
        for s, m in modes.items()
        if m.mode is ModelMode.SUGGEST
    }


def assess_squad(
    tx: RouterTransaction, squad: str, state: SquadModeState | None, policy: Policy, now: datetime
) -> tuple[Assessment, datetime]:
    """The squad's figures over its window, and where the window starts."""
    rules = policy.precision_watch
    start = window_start(rules, now, state.since if state is not None else None)
    window = tx.auto_assignment_window(squad, since=start, limit=rules.window_cases)
    facts = [Watched(a.corrected_at is not None, a.target_precision) for a in window]
    return assess(facts, rules), start


def write_mode(
    tx: RouterTransaction,
    squad: str,
    state: SquadModeState | None,
    *,
    mode: ModelMode,
    by: str,
    reason: str,
    note: str | None,
    now: datetime,
) -> SquadModeState | None:
    """Change `squad`'s mode from `state` (what the writer read; None: never set, `auto`) to
    `mode`, and record the change in its mode history. A change to `auto` starts the watch
    window afresh; any other keeps where it started.

    Returns:
        The new state, or None when another writer changed the mode since `state` was read
        (nothing written).
    """
    new = SquadModeState(
        squad=squad,
        mode=mode,
        since=now if mode is ModelMode.AUTO else (state.since if state is not None else None),
        reason=reason,
        changed_at=now,
        changed_by=by,
    )
    if not tx.save_squad_mode(new, expect=state.mode if state is not None else None):
        return None
    tx.add_mode_change(
        SquadModeChange(
            squad=squad,
            at=now,
            from_mode=state.mode if state is not None else ModelMode.AUTO,
            to_mode=mode,
            by=by,
            note=note,
        )
    )
    return new


def review(
    tx: RouterTransaction,
    squads: Iterable[str],
    *,
    policy: Policy,
    now: datetime,
    modes: Mapping[str, SquadModeState] | None = None,
) -> tuple[list[Demotion], dict[str, float]]:
    """Assess `squads` and demote those whose realised precision fell (module docstring).

    `modes` are the squads' modes the transaction already read (`tx.squad_modes()`), read
    here when not given. Every demotion is written over the mode read, so one read early in
    the transaction demotes no squad twice either.

    Returns:
        The squads demoted now, and the realised precision of each squad assessed.
    """
    rules = policy.precision_watch
    wanted = sorted(set(squads))
    if not rules.enabled or not wanted:
        return [], {}
    if modes is None:
        modes = tx.squad_modes()
    demotions: list[Demotion] = []
    realised: dict[str, float] = {}
    for squad in wanted:
        state = modes.get(squad)
        figures, _ = assess_squad(tx, squad, state, policy, now)
        if figures.realised_precision is not None:
            realised[squad] = figures.realised_precision
        already = state is not None and state.mode is ModelMode.SUGGEST
        if already or not figures.below or policy.modes.for_squad(squad) is not ModelMode.AUTO:
            continue
        reason = figures.describe()
        demoted = write_mode(
            tx, squad, state, mode=ModelMode.SUGGEST, by=WATCH, reason=reason, note=reason, now=now
        )
        if demoted is not None:  # else another transaction demoted it first
            demotions.append(Demotion(squad=squad, reason=reason))
    return demotions, realised

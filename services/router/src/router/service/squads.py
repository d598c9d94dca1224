"""The squads' side of the desk: realised precision per squad, and changing a squad's mode.

`squad_precision` lists, per squad, the watch window, the figures, the target, the mode in
force and why; `set_squad_mode` lets a person restore `auto` (the window starts afresh) or
set a squad to `suggest` by hand, recorded in the squad's mode history
(`squad_mode_history`). The watch itself is `router.service.watch`.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from contracts.catalogue import Catalogue
from router import metrics
from router.domain.decision import mode_of
from router.domain.policy import ModelMode, Policy
from router.ports import Clock, RouterStore, RouterTransaction
from router.records import SquadModeChange, SquadModeState
from router.service.desk_steps import check_owning_squad
from router.service.errors import ConcurrentUpdate
from router.service.watch import assess_squad, demoted_squads, write_mode
from servicekit.audit import Audited


class WatchWindow(BaseModel):
    """The assignments a squad's realised precision is computed on."""

    cases: int = Field(description="At most this many of the latest automatic assignments.")
    days: int = Field(description="Made in this many days.")
    since: datetime = Field(description="Made at or after this time (days, or last restore).")


class ShadowFigures(BaseModel):
    """What the model would have done for a squad in `shadow` mode (same window), against
    what people did."""

    cases: int = Field(description="Cases predicted as the squad, routed in shadow mode.")
    would_assign: int = Field(description="... whose recommendation met its threshold.")
    decided: int = Field(description="... of those, assigned to a squad by a person since.")
    agreed: int = Field(description="... of those, to the squad the model recommended.")
    precision: float | None = Field(
        description="agreed / decided: the precision automatic assignment would have had."
    )


class SquadPrecision(BaseModel):
    """A squad's realised precision of automatic assignments, and its mode."""

    squad: str
    mode: ModelMode = Field(description="The mode in force.")
    configured_mode: ModelMode = Field(description="The routing policy's mode for the squad.")
    why: str = Field(description="Why the squad is in this mode.")
    window: WatchWindow
    auto_assigned: int
    corrected: int
    realised_precision: float | None
    target_precision: float
    demote_below: float = Field(description="Target minus the policy's margin.")
    min_cases: int = Field(description="Fewest assignments in the window for a verdict.")
    changed_at: datetime | None = Field(
        default=None, description="When the watch or a person last set the mode."
    )
    changed_by: str | None = None
    shadow: ShadowFigures | None = Field(
        default=None, description="For a squad in shadow mode: what the model would have done."
    )


def _shadow(tx: RouterTransaction, squad: str, *, since: datetime, limit: int) -> ShadowFigures:
    cases = tx.shadow_cases(squad, since=since, limit=limit)
    would = [owner for owner, rec in cases if rec is not None and rec.meets_threshold]
    decided = [owner for owner in would if owner is not None]
    agreed = sum(1 for owner in decided if owner == squad)
    return ShadowFigures(
        cases=len(cases),
        would_assign=len(would),
        decided=len(decided),
        agreed=agreed,
        precision=agreed / len(decided) if decided else None,
    )


class SquadModeHistory(BaseModel):
    """A squad's figures with every change of its mode, oldest first."""

    squad: SquadPrecision
    history: list[SquadModeChange]


class SquadPrecisionList(BaseModel):
    """Every owning squad of the catalogue, and any other with automatic assignments."""

    watch_enabled: bool
    items: list[SquadPrecision]


def _view(
    tx: RouterTransaction,
    squad: str,
    state: SquadModeState | None,
    *,
    policy: Policy,
    now: datetime,
) -> SquadPrecision:
    figures, start = assess_squad(tx, squad, state, policy, now)
    configured = policy.modes.for_squad(squad)
    # the mode routing decides with, and the same words
    mode, why = mode_of(squad, policy, demoted_squads({squad: state} if state is not None else {}))
    if mode is ModelMode.AUTO and state is not None:
        why += f", restored by {state.changed_by}: {state.reason}"
    if figures.realised_precision is not None:
        metrics.REALISED_PRECISION.labels(squad).set(figures.realised_precision)
    rules = policy.precision_watch
    return SquadPrecision(
        squad=squad,
        mode=mode,
        configured_mode=configured,
        why=why,
        window=WatchWindow(cases=rules.window_cases, days=rules.window_days, since=start),
        auto_assigned=figures.auto_assigned,
        corrected=figures.corrected,
        realised_precision=figures.realised_precision,
        target_precision=figures.target_precision,
        demote_below=figures.floor,
        min_cases=figures.min_cases,
        changed_at=state.changed_at if state is not None else None,
        changed_by=state.changed_by if state is not None else None,
        shadow=_shadow(tx, squad, since=start, limit=rules.window_cases)
        if configured is ModelMode.SHADOW
        else None,
    )


def squad_precision(
    *, store: RouterStore, catalogue: Catalogue, policy: Policy, clock: Clock
) -> SquadPrecisionList:
    """Per squad: window, automatic assignments, corrected, realised precision, target, mode
    and why (owning squads of the catalogue, then any other with automatic assignments)."""
    now = clock.now()
    owning = sorted(s for s, e in catalogue.squads.items() if not e.service_delivery)
    with store.transaction() as tx:
        modes = tx.squad_modes()
        others = sorted(set(tx.watched_squads()) - set(owning))
        items = [_view(tx, s, modes.get(s), policy=policy, now=now) for s in [*owning, *others]]
    return SquadPrecisionList(watch_enabled=policy.precision_watch.enabled, items=items)


def squad_mode_history(
    squad: str, *, store: RouterStore, catalogue: Catalogue, policy: Policy, clock: Clock
) -> SquadModeHistory:
    """One squad's figures and mode history.

    Raises:
        UnknownSquadError: Not an owning squad of the catalogue.
    """
    check_owning_squad(squad, catalogue, "path.squad")
    now = clock.now()
    with store.transaction() as tx:
        view = _view(tx, squad, tx.squad_modes().get(squad), policy=policy, now=now)
        return SquadModeHistory(squad=view, history=tx.mode_changes(squad))


def set_squad_mode(
    squad: str,
    *,
    mode: ModelMode,
    by: str,
    note: str | None = None,
    store: RouterStore,
    catalogue: Catalogue,
    policy: Policy,
    clock: Clock,
) -> SquadModeHistory:
    """Restore a squad to `auto` (its window starts afresh) or set it to `suggest` by hand.

    Setting the mode it already has changes nothing and adds nothing to the mode history;
    either way the request is in the audit log (`squad.mode`), written in this transaction.

    Raises:
        UnknownSquadError: Not an owning squad of the catalogue.
        ConcurrentUpdate: The watch or a person changed the mode meanwhile.
    """
    check_owning_squad(squad, catalogue, "path.squad")
    if mode not in (ModelMode.AUTO, ModelMode.SUGGEST):  # pragma: no cover - the body refuses
        raise ValueError(f"mode {mode} is set in the routing policy")
    now = clock.now()
    with store.transaction() as tx:
        state = tx.squad_modes().get(squad)
        current = state.mode if state is not None else ModelMode.AUTO
        if current is not mode:
            reason = note or ("restored" if mode is ModelMode.AUTO else "set by hand")
            new = write_mode(tx, squad, state, mode=mode, by=by, reason=reason, note=note, now=now)
            if new is None:
                raise ConcurrentUpdate(f"the mode of {squad} changed meanwhile; try again")
            state = new
        tx.audit(Audited(by, "squad.mode", squad, {"mode": mode.value, "note": note}), now)
        view = _view(tx, squad, state, policy=policy, now=now)
        return SquadModeHistory(squad=view, history=tx.mode_changes(squad))

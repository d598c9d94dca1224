"""The realised precision watch: are a squad's automatic assignments as right as promised?

An automatic assignment is *corrected* when a person later assigns the case to another squad.
Over a squad's window -- its last `window_cases` automatic assignments made in the last
`window_days` days, and after the squad was last restored to `auto` -- the realised precision
is the share not corrected. The target is the policy's `precision_watch.target_precision`,
else the target the model's thresholds were derived for (the newest recommendation in the
window that says), else `DEFAULT_TARGET`. With at least `min_cases` assignments in the window
and a realised precision below `target - margin`, the squad is demoted to `suggest`.

Nothing here does I/O: `assess` works on the window's facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from router.domain.policy import PrecisionWatch

DEFAULT_TARGET = 0.9
"""The target when neither the policy nor the recommendations name one (triage's default)."""


@dataclass(frozen=True, slots=True)
class Watched:
    """One automatic assignment in the window: whether it was corrected, and the target
    precision its recommendation was made for (None: not reported)."""

    corrected: bool
    target_precision: float | None = None


@dataclass(frozen=True, slots=True)
class Assessment:
    """A squad's realised precision over its window and the verdict."""

    auto_assigned: int
    corrected: int
    realised_precision: float | None
    target_precision: float
    floor: float
    min_cases: int

    @property
    def judged(self) -> bool:
        """Enough assignments in the window for a verdict."""
        return self.auto_assigned >= self.min_cases

    @property
    def below(self) -> bool:
        """Judged, and the realised precision is below `target - margin`: demote."""
        return (
            self.judged
            and self.realised_precision is not None
            and self.realised_precision < self.floor
        )

    def describe(self) -> str:
        """The figures in words."""
        if self.realised_precision is None:
            return "no automatic assignments in the window"
        return (
            f"realised precision {self.realised_precision:.2f} ({self.corrected} of "
            f"{self.auto_assigned} automatic assignments corrected), target "
            f"{self.target_precision:.2f}, demoted below {self.floor:.2f}"
        )


def window_start(rules: PrecisionWatch, now: datetime, since: datetime | None) -> datetime:
    """The oldest assignment time the window takes: `window_days` ago, or the last restore
    to `auto` when later."""
    start = now - timedelta(days=rules.window_days)
    return max(start, since) if since is not None else start


def assess(window: Sequence[Watched], rules: PrecisionWatch) -> Assessment:
    """Realised precision of a squad's window (newest assignment first) under `rules`."""
    n = len(window)
    corrected = sum(1 for w in window if w.corrected)
    target = rules.target_precision
    if target is None:
        target = next(
            (w.target_precision for w in window if w.target_precision is not None),
            DEFAULT_TARGET,
        )
    return Assessment(
        auto_assigned=n,
        corrected=corrected,
        realised_precision=(n - corrected) / n if n else None,
        target_precision=target,
        floor=max(0.0, target - rules.margin),
        min_cases=rules.min_cases,
    )

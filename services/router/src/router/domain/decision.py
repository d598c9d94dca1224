"""The routing decision: assign a triaged case to a squad, or escalate it.

`decide()` applies these rules in this order; the first that holds wins:

1. **major_incident** -- the case priority is one of `policy.major_incident.priorities`, or a
   policy keyword appears (whole words, case-insensitive) in the title or description, or a
   case tag is one of the policy tags.
2. **unowned** -- triage predicted no squad, or a squad the catalogue does not know, or the
   Service Delivery group; or a component the case names has no owner (the catalogue's owner
   wins over the one triage recorded, so a fixed catalogue takes effect at once).
   Only *named* matches (`MatchedComponent.named`: name, title, alias or hint) count as
   ownership evidence here and in the next rule; keyword-only matches do not.
3. **cross_squad** -- triage says the case spans squads, or matched components are owned by
   different squads, or two squads' candidates are within `policy.cross_squad_margin` of the
   top probability (inclusive).
4. **reassigned_loop** -- the predicted squad is one a person already moved this case away
   from (`moved_away_from`); auto-routing it back would ping-pong, so a person decides.
   It comes before low confidence because it is the more specific reason.
5. **rules_only** -- the predicted squad's mode is `shadow` or `off`: the model does not
   route its cases. In `shadow` what the model would have done is kept on the decision
   (`recommendation`), never offered as a suggestion; in `off` the model is ignored (the
   squads involved are only the owners of named components).
6. **low_confidence** -- the model's recommendation does not meet the threshold: the model's
   own threshold for the squad (derived for its target precision; a rare squad the case
   does not name has none), unless the policy sets an explicit one (`thresholds`).
7. **suggest_mode** -- the squad's mode is `suggest`, set by the policy (`modes`) or by the
   precision watch (`demoted`): the case escalates with the recommendation attached
   (`suggestion`) for a person to confirm.
8. otherwise **assign** to the predicted squad, with an acknowledgement deadline of
   `now + policy.ack_deadlines[priority]`.

This is the one place that decides: triage predicts and recommends
(`TriageResult.recommendation`), the router's policy decides, and the case carries this
decision and its reasons (its status, escalation reason and history note).

`squads_involved` lists the plausible squads, most plausible first: the predicted squad, then
candidates within the margin (by probability), then owners of matched components (in the
order triage matched them); unknown squads and Service Delivery are left out and the list is
capped at `policy.swarm.max_squads`. `open_swarm` is true for an escalation with more than
one plausible squad.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from contracts.cases import Decision, Recommendation, ThresholdSource, TriageResult
from contracts.catalogue import Catalogue
from contracts.events import CaseTriaged, EscalationReason
from router.domain.policy import ModelMode, Policy

_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """What to do with a triaged case.

    Attributes:
        action: `Decision.ASSIGN` or `Decision.ESCALATE` (a `StrEnum`: equals "assign"/...).
        squad: The squad to assign to (None when escalating).
        reason: Why the case is escalated (None when assigning).
        squads_involved: Plausible squads, most plausible first.
        open_swarm: Escalated with more than one plausible squad.
        ack_deadline: For an assignment, when the squad must acknowledge.
        detail: A human explanation: prediction, confidence, matched components, rule.
        mode: The model's mode for the predicted squad when it was decided.
        recommendation: The model's recommendation with the threshold that was applied
            (the policy's when it sets one); in `shadow`, what the model would have done.
            None in mode `off` and when the model played no part.
        suggestion: The recommendation offered to Service Delivery (mode `suggest`).
    """

    action: Decision
    squad: str | None
    reason: EscalationReason | None
    squads_involved: list[str] = field(default_factory=list)
    open_swarm: bool = False
    ack_deadline: datetime | None = None
    detail: str = ""
    mode: ModelMode = ModelMode.AUTO
    recommendation: Recommendation | None = None
    suggestion: Recommendation | None = None


@functools.lru_cache(maxsize=64)
def _keyword_patterns(
    keywords: tuple[str, ...],
) -> tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...]:
    """Each keyword with its case-folded words and its compiled whole-word pattern."""
    out = []
    for keyword in keywords:
        words = tuple(keyword.casefold().split())
        if words:
            phrase = r"\s+".join(re.escape(w) for w in words)
            out.append((keyword, words, re.compile(rf"(?<!\w){phrase}(?!\w)")))
    return tuple(out)


def _keyword_hits(text: str, keywords: list[str]) -> list[str]:
    normalised = " ".join(text.split()).casefold()
    return [
        keyword
        for keyword, words, pattern in _keyword_patterns(tuple(keywords))
        # every word as a substring is necessary for a match and far cheaper to test
        if all(w in normalised for w in words) and pattern.search(normalised)
    ]


def _major_incident_signals(triaged: CaseTriaged, policy: Policy) -> list[str]:
    rules, case = policy.major_incident, triaged.case
    signals = []
    if case.priority in rules.priorities:
        signals.append(f"priority {case.priority.value}")
    signals += [f"keyword {k!r}" for k in _keyword_hits(case.text, rules.keywords)]
    wanted = {t.casefold() for t in rules.tags}
    signals += [f"tag {t!r}" for t in case.tags if t.casefold() in wanted]
    return signals


def _owners(result: TriageResult, catalogue: Catalogue) -> list[tuple[str, str | None]]:
    """(component, owner) for each matched component; the catalogue's owner wins."""
    pairs = []
    for matched in result.matched_components:
        if not matched.named:
            continue  # keyword-only evidence informs the prediction, not ownership
        known = catalogue.components.get(matched.component)
        pairs.append((matched.component, known.owner if known else matched.owner))
    return pairs


def _is_squad(name: str | None, catalogue: Catalogue) -> bool:
    squad = catalogue.squads.get(name) if name else None
    return squad is not None and not squad.service_delivery


def _close_candidates(result: TriageResult, margin: float) -> list[str]:
    ranked = sorted(result.candidates, key=lambda c: c.probability, reverse=True)
    if not ranked:
        return []
    top = ranked[0].probability
    return [c.squad for c in ranked if top - c.probability <= margin + _EPSILON]


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _describe(
    result: TriageResult, owners: list[tuple[str, str | None]], rec: Recommendation
) -> str:
    candidates = ", ".join(f"{c.squad} {c.probability:.2f}" for c in result.candidates)
    components = ", ".join(f"{c} ({o or 'no owner'})" for c, o in owners) or "none"
    return (
        f"predicted {result.squad or 'no squad'} at confidence {result.confidence:.2f} "
        f"({_threshold_text(rec)}); candidates: {candidates or 'none'}; "
        f"matched components: {components}; model {result.model_version}"
    )


def _threshold_text(rec: Recommendation) -> str:
    if rec.threshold is None:
        return (
            "no threshold: a rare squad the case does not name"
            if rec.threshold_source == "rare"
            else "threshold unknown"
        )
    source = {"policy": "policy", "explicit": "explicit"}.get(rec.threshold_source)
    if source is None:
        target = f" for precision {rec.target_precision:.2f}" if rec.target_precision else ""
        source = f"model{target}"
    return f"threshold {rec.threshold:.2f}, {source}"


def applied_recommendation(result: TriageResult, policy: Policy) -> Recommendation:
    """The model's recommendation with the threshold the policy applies: the policy's
    explicit one when it sets one (a rare squad the case does not name stays without),
    else the model's."""
    rec = result.recommended()
    explicit = policy.thresholds.for_squad(result.squad)
    if explicit is None or (rec.threshold is None and rec.threshold_source == "rare"):
        return rec
    return rec.model_copy(
        update={
            "threshold": explicit,
            "threshold_source": ThresholdSource.POLICY,
            "meets_threshold": result.confidence >= explicit,
        }
    )


def mode_of(squad: str | None, policy: Policy, demoted: Mapping[str, str]) -> tuple[ModelMode, str]:
    """The model's mode for `squad` and why: the policy's, or `suggest` when the precision
    watch demoted a squad the policy lets run `auto` (`demoted`: squad -> why)."""
    configured = policy.modes.for_squad(squad)
    source = "policy" if squad in policy.modes.squads else "policy default"
    if configured is ModelMode.AUTO and squad is not None and squad in demoted:
        return ModelMode.SUGGEST, demoted[squad]
    return configured, f"mode {configured.value} ({source})"


def decide(
    *,
    triaged: CaseTriaged,
    catalogue: Catalogue,
    policy: Policy,
    moved_away_from: frozenset[str] = frozenset(),
    demoted: Mapping[str, str] | None = None,
    now: datetime,
) -> RoutingDecision:
    """Decide whether to assign a triaged case or escalate it (rules in the module docstring).

    Args:
        triaged: The triaged case.
        catalogue: The current service catalogue.
        policy: The routing policy in force.
        moved_away_from: Squads a person already moved this case away from.
        demoted: Squads the precision watch demoted to `suggest`, with why.
        now: The decision time (the acknowledgement deadline counts from it).

    Returns:
        The decision.
    """
    result = triaged.result
    predicted = result.squad
    mode, mode_why = mode_of(predicted, policy, demoted or {})
    model_used = mode is not ModelMode.OFF
    owners = _owners(result, catalogue)
    close = _close_candidates(result, policy.cross_squad_margin)
    routed_by_model = mode in (ModelMode.AUTO, ModelMode.SUGGEST)
    from_model = [predicted, *close] if routed_by_model else []
    plausible = _unique(
        [s for s in [*from_model, *(o for _, o in owners)] if s and _is_squad(s, catalogue)]
    )
    involved = plausible[: policy.swarm.max_squads]
    rec = applied_recommendation(result, policy)
    detail = _describe(result, owners, rec)
    kept = rec if model_used else None

    def escalate(
        reason: EscalationReason, why: str, suggestion: Recommendation | None = None
    ) -> RoutingDecision:
        return RoutingDecision(
            action=Decision.ESCALATE,
            squad=None,
            reason=reason,
            squads_involved=list(involved),
            open_swarm=len(involved) > 1,
            detail=f"escalated ({reason.value}): {why}; {detail}",
            mode=mode,
            recommendation=kept,
            suggestion=suggestion,
        )

    signals = _major_incident_signals(triaged, policy)
    if signals:
        return escalate(EscalationReason.MAJOR_INCIDENT, "major incident: " + ", ".join(signals))

    unowned = [c for c, o in owners if not _is_squad(o, catalogue)]
    if predicted is None:
        return escalate(EscalationReason.UNOWNED, "triage predicted no squad")
    if predicted not in catalogue.squads:
        return escalate(EscalationReason.UNOWNED, f"squad {predicted!r} is not in the catalogue")
    if not _is_squad(predicted, catalogue):
        return escalate(EscalationReason.UNOWNED, f"{predicted!r} is Service Delivery")
    if unowned:
        return escalate(EscalationReason.UNOWNED, "no owning squad for " + ", ".join(unowned))

    owning = _unique([o for _, o in owners if o])
    close_squads = [s for s in _unique(close) if _is_squad(s, catalogue)]
    if result.spans_squads or len(owning) > 1 or len(close_squads) > 1:
        why = []
        if result.spans_squads:
            why.append("triage says the case spans squads")
        if len(owning) > 1:
            why.append("components owned by " + ", ".join(owning))
        if len(close_squads) > 1:
            why.append(
                f"candidates within {policy.cross_squad_margin:.2f}: " + ", ".join(close_squads)
            )
        return escalate(EscalationReason.CROSS_SQUAD, "; ".join(why))

    if predicted in moved_away_from:
        return escalate(
            EscalationReason.REASSIGNED_LOOP,
            f"a person already moved this case away from {predicted!r}",
        )

    if not routed_by_model:
        would = (
            f"; the model would have {'assigned' if rec.meets_threshold else 'escalated'} it"
            if mode is ModelMode.SHADOW
            else ""
        )
        return escalate(
            EscalationReason.RULES_ONLY,
            f"{predicted} is in {mode_why}: routed by the rules only{would}",
        )

    if not rec.meets_threshold:
        below = (
            f"confidence {result.confidence:.2f} below threshold {rec.threshold:.2f}"
            if rec.threshold is not None
            else f"confidence {result.confidence:.2f}, no threshold for {predicted}"
        )
        return escalate(EscalationReason.LOW_CONFIDENCE, below)

    if mode is ModelMode.SUGGEST:
        return escalate(
            EscalationReason.SUGGEST_MODE,
            f"{predicted} is in {mode_why}: suggested {predicted} for a person to confirm",
            suggestion=rec,
        )

    priority = triaged.case.priority
    deadline = policy.ack_deadline(priority, now)
    return RoutingDecision(
        action=Decision.ASSIGN,
        squad=predicted,
        reason=None,
        squads_involved=[predicted],
        open_swarm=False,
        ack_deadline=deadline,
        detail=f"assigned to {predicted} ({priority.value}, acknowledge by "
        f"{deadline.isoformat()}); {detail}",
        mode=mode,
        recommendation=rec,
    )

"""Training: from labelled history (optional) and the catalogue to a `TriageModel`.

`train_model` always adds pseudo-documents synthesised from the catalogue, so a squad
with little or no history is still predictable from its components' names, aliases and
keywords; with no history at all the model is a catalogue-only cold start. With history,
the configuration is chosen by cross-validation (`selection`), calibrated and given
thresholds from its out-of-fold predictions (`calibration`, `thresholds`). The model
served is the mean of the chosen configuration's fold models (a linear model again: one
weight matrix), so the out-of-fold figures describe the model that is served: on the
proxies, refitting on every case instead made the realised precision fall 1-2 pt below
what the out-of-fold predictions promised, with no gain in accuracy. A history larger
than the selection budget (`selection.MAX_SELECTION_CASES` cases, or
`selection.MAX_SELECTION_WORK` stored entries times squads) is cross-validated on a
stratified subsample; then the chosen configuration is refitted on every history case
instead, or, when that is more than `selection.MAX_FINAL_WORK`, on a stratified subsample
of as many cases as fit it (`final_rows`; every squad keeps `min(count, 10)` cases, every
pseudo document is kept). Only many-squad histories of long texts reach that budget: a
50,000-case history of full-length tickets in 68 squads is refitted on ~24,000 cases and
trains in under 60 CPU seconds on one core (at some cost in accuracy and coverage: see
the README's training-time figures); short texts and the 8-label public set are
refitted on every case. The returned report holds the out-of-fold figures.
"""

from __future__ import annotations

import csv
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from contracts.catalogue import Catalogue
from triage.classifier.calibration import fit_temperature, softmax
from triage.classifier.candidates import Candidate, Vectorised, candidates
from triage.classifier.errors import HistoryError, TrainingError
from triage.classifier.evaluate import EvaluationReport, evaluate_scores
from triage.classifier.features import CatalogueMatcher, Match, pseudo_documents
from triage.classifier.model import (
    DEFAULT_MARGIN,
    MAX_PROBABILITY,
    LabelledCase,
    TriageModel,
    other_reasons,
)
from triage.classifier.pipeline import (
    COLD_START_CATALOGUE_WEIGHT,
    HISTORY_CATALOGUE_WEIGHT,
    Evidence,
    Scorer,
    fit_logistic,
)
from triage.classifier.selection import (
    FOLDS,
    MAX_FINAL_WORK,
    case_budget,
    fit_linear,
    linear_weights,
    problems,
    select,
    subsample,
)
from triage.classifier.thresholds import DEFAULT_TARGET, MIN_EXAMPLES

#: History cases needed to cross-validate candidates (fewer: logistic regression).
MIN_HISTORY_TO_SELECT = 30
#: The cold-start configuration: word 1-2-grams and the catalogue block.
COLD_START = Candidate(
    "cold-start", char=False, words="tfidf", weighting="none", c=1.0, catalogue=True
)
REQUIRED_COLUMNS = ("title", "description", "squad")


def read_history_csv(path: Path) -> list[LabelledCase]:
    """Read labelled cases from a CSV with columns `title,description,squad` (others ignored).

    Raises:
        HistoryError: The file cannot be read, or a required column is missing.
    """
    try:
        with Path(path).open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise HistoryError(
                    f"{path}: missing column(s) {', '.join(missing)}; a history CSV needs a "
                    f"header with {', '.join(REQUIRED_COLUMNS)} (found: "
                    f"{', '.join(columns) or 'no header'})"
                )
            return [
                LabelledCase(
                    (row["title"] or "").strip(),
                    (row["description"] or "").strip(),
                    (row["squad"] or "").strip(),
                )
                for row in reader
            ]
    except OSError as exc:
        raise HistoryError(f"{path}: cannot read history: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise HistoryError(f"{path}: not a readable UTF-8 CSV: {exc}") from exc


def data_digest(examples: Sequence[LabelledCase]) -> str:
    """SHA-256 of the training examples (order-sensitive)."""
    digest = hashlib.sha256()
    for e in examples:
        digest.update(f"{e.title}\x1f{e.description}\x1f{e.squad}\x1e".encode())
    return digest.hexdigest()


def train_model(
    examples: Sequence[LabelledCase],
    catalogue: Catalogue,
    *,
    progress: bool = False,
    seed: int = 0,
    target: float = DEFAULT_TARGET,
    min_examples: int = MIN_EXAMPLES,
    on_step: Callable[[str], None] | None = None,
) -> tuple[TriageModel, EvaluationReport]:
    """Train a model from labelled cases and the catalogue.

    With enough history (`MIN_HISTORY_TO_SELECT` cases of two squads or more) the
    candidates are cross-validated, one is chosen (`selection`), calibrated on its
    out-of-fold scores, served as the mean of its fold models, and the thresholds for
    `target` are derived from the out-of-fold predictions (`thresholds`). Otherwise the
    model is a logistic regression on the history and the catalogue's pseudo documents,
    assigning only cases that name a squad's component.

    Args:
        examples: Labelled history; may be empty (catalogue-only cold start).
        catalogue: The service catalogue; labels must be its squads.
        progress: Show a progress display on the terminal.
        seed: Seed for the subsample, the folds and the models.
        target: Target precision of automatic assignments.
        min_examples: History cases a squad needs to be assigned from history alone.
        on_step: Called with the label of each stage as it starts (timing, logs).

    Returns:
        The model and the out-of-fold evaluation of the chosen configuration.

    Raises:
        TrainingError: Nothing usable to learn from.
    """
    started = time.perf_counter()
    usable, notes = _usable(examples, catalogue)
    pseudo = [LabelledCase("", text, squad) for text, squad in pseudo_documents(catalogue)]
    matcher = CatalogueMatcher(catalogue)
    trained_at = datetime.now(UTC).replace(microsecond=0)
    sha = data_digest(usable)
    version = f"{trained_at:%Y%m%dT%H%M%SZ}-{sha[:8]}"
    rows = [*usable, *pseudo]
    labels = [e.squad for e in rows]
    squads = sorted(set(labels))
    if len(squads) < 2:
        raise TrainingError(
            "nothing to learn from: need examples of at least two squads (history or owned "
            f"components in the catalogue), found {squads or 'none'}"
        )
    support = dict(Counter(e.squad for e in usable))
    with _progress(progress, on_step) as step:
        step("matching the catalogue")
        texts = [e.text for e in rows]
        matches = [matcher.find(t) for t in texts]
        if len(usable) >= MIN_HISTORY_TO_SELECT and len(support) >= 2:
            scorer, report, selection_info = _fit_selected(
                texts, matches, labels, len(usable), squads, support, seed, step
            )
        else:
            scorer, report, selection_info = _fit_cold(
                texts, matches, labels, bool(usable), squads, support, seed, step
            )
    model = TriageModel(
        version=version,
        squads=list(scorer.squads),
        metrics={},
        trained_at=trained_at,
        scorer=scorer,
        catalogue=catalogue,
        _matcher=matcher,
    )
    operating = model.operating_point(target, min_examples=min_examples)
    model.operating = operating
    if scorer.evidence is not None:
        ev = scorer.evidence
        assigned = model.assigned_mask(ev.predicted, ev.confidence, ev.eligible, operating)
        report.coverage = float(assigned.mean()) if len(assigned) else None
        report.precision = float(ev.correct[assigned].mean()) if assigned.any() else None
    report.target_precision = target
    report.notes.extend([*notes, *operating.notes])
    model.metrics = report.summary()
    model.info = {
        "training_data_sha256": sha,
        "catalogue_digest": catalogue.digest,
        "examples": len(usable),
        "pseudo_documents": len(pseudo),
        "estimator": scorer.kind,
        "seed": seed,
        "train_seconds": round(time.perf_counter() - started, 2),
        **selection_info,
    }
    return model, report


def _fit_selected(
    texts: list[str],
    matches: list[list[Match]],
    labels: list[str],
    n_history: int,
    squads: list[str],
    support: dict[str, int],
    seed: int,
    step: Callable[[str], None],
) -> tuple[Scorer, EvaluationReport, dict[str, Any]]:
    """Cross-validate the candidates, calibrate the winner, average its fold models."""
    evidence_found = any(matches[:n_history])
    pool = candidates(catalogue_evidence=evidence_found)
    step(f"vectorising {len(texts)} texts")
    vectorised = Vectorised(
        texts,
        matches,
        squads,
        HISTORY_CATALOGUE_WEIGHT,
        need_chars=any(c.char for c in pool),
        seed=seed,
    )
    y = np.asarray(labels)
    chosen = select(
        pool, vectorised.matrix, y, n_history, squads, seed=seed, step=step, clock=time.perf_counter
    )
    step("calibrating")
    index = {s: i for i, s in enumerate(squads)}
    truth = np.array([index[s] for s in y[chosen.rows]])
    temperature = fit_temperature(chosen.oof, truth)
    proba = softmax(chosen.oof, temperature)
    order = np.argsort(-proba, axis=1, kind="stable")
    # capped as `predict` reports it, so a threshold can be reached by served confidences
    top = np.minimum(proba[np.arange(len(proba)), order[:, 0]], MAX_PROBABILITY)
    second = proba[np.arange(len(proba)), order[:, 1]]
    found = [matches[r] for r in chosen.rows.tolist()]
    eligible = np.array(
        [
            not other_reasons(f, p1, p2, DEFAULT_MARGIN)
            for f, p1, p2 in zip(found, top.tolist(), second.tolist(), strict=True)
        ],
        dtype=bool,
    )
    evidence = Evidence(
        predicted=order[:, 0].astype(np.int32),
        confidence=top,
        correct=order[:, 0] == truth,
        eligible=eligible,
        truth=truth.astype(np.int32),
        support=support,
    )
    if chosen.fold_weights is not None:
        # the fold models' mean is the model the out-of-fold figures describe
        weights, bias = chosen.fold_weights
        final = f"mean of the {FOLDS} fold models"
    else:
        x = vectorised.matrix(chosen.chosen)
        fit_rows = final_rows(x, y, n_history, seed)
        step(f"fitting {chosen.chosen.name} on {len(fit_rows)} examples")
        weights, bias = linear_weights(
            fit_linear(x[fit_rows], y[fit_rows], chosen.chosen, seed), squads
        )
        kept = len(fit_rows) - (len(texts) - n_history)
        final = (
            f"refitted on all {n_history} history cases"
            if kept == n_history
            else f"refitted on {kept} of {n_history} history cases (stratified)"
        )
    scorer = Scorer(
        squads=squads,
        features=vectorised.feature_set(chosen.chosen),
        weights=np.ascontiguousarray(weights),
        intercepts=bias,
        temperature=temperature,
        kind=chosen.chosen.name,
        evidence=evidence,
    )
    report = evaluate_scores(y[chosen.rows].tolist(), squads, proba, threshold=None)
    report.notes.append(
        f"figures are out-of-fold ({FOLDS}-fold cross-validation on {len(chosen.rows)} "
        "history cases) for the chosen configuration"
    )
    info = {
        "selection": {
            "criterion": chosen.criterion,
            "chosen": chosen.chosen.name,
            "folds": FOLDS,
            "cases": len(chosen.rows),
            "candidates": [s.as_dict() for s in chosen.scores],
        },
        "temperature": round(temperature, 4),
        "final_model": final,
    }
    return scorer, report, info


def final_rows(
    x: sp.csr_matrix,
    y: np.ndarray,
    n_history: int,
    seed: int,
    *,
    max_work: int | None = None,
) -> np.ndarray:
    """Rows of `x` the chosen configuration is refitted on: every pseudo document and the
    history, or a stratified subsample of it (`selection.subsample`: every squad keeps
    `min(count, 10)` cases) when its stored entries times squads exceed `max_work`
    (default `MAX_FINAL_WORK`; see `selection`'s budget)."""
    budget = MAX_FINAL_WORK if max_work is None else max_work
    work = int(x.indptr[n_history]) * problems(y.tolist())
    history = subsample(y[:n_history].tolist(), case_budget(n_history, work, budget), seed)
    return np.concatenate([history, np.arange(n_history, x.shape[0])])


def _fit_cold(
    texts: list[str],
    matches: list[list[Match]],
    labels: list[str],
    has_history: bool,
    squads: list[str],
    support: dict[str, int],
    seed: int,
    step: Callable[[str], None],
) -> tuple[Scorer, EvaluationReport, dict[str, Any]]:
    """Too little history to cross-validate: logistic regression on all, no evidence."""
    step("fitting a logistic regression")
    weight = HISTORY_CATALOGUE_WEIGHT if has_history else COLD_START_CATALOGUE_WEIGHT
    vectorised = Vectorised(texts, matches, squads, weight, need_chars=False)
    x = vectorised.matrix(COLD_START)
    weights, bias = fit_logistic(x, labels, squads, seed)
    scorer = Scorer(
        squads=squads,
        features=vectorised.feature_set(COLD_START),
        weights=weights,
        intercepts=bias,
        temperature=1.0,
        kind="catalogue-logreg" if not has_history else "small-history-logreg",
    )
    note = (
        "catalogue-only cold start: no history to evaluate on"
        if not has_history
        else f"fewer than {MIN_HISTORY_TO_SELECT} history cases: no cross-validation"
    )
    return scorer, EvaluationReport(notes=[note]), {}


def _usable(
    examples: Sequence[LabelledCase], catalogue: Catalogue
) -> tuple[list[LabelledCase], list[str]]:
    allowed = {name for name, s in catalogue.squads.items() if not s.service_delivery}
    usable, unknown, empty = [], Counter[str](), 0
    for e in examples:
        if not (e.title or e.description):
            empty += 1
        elif e.squad not in allowed:
            unknown[e.squad or "(blank)"] += 1
        else:
            usable.append(e)
    notes = []
    if unknown:
        listed = ", ".join(f"{k} ({v})" for k, v in unknown.most_common())
        notes.append(
            f"skipped {sum(unknown.values())} case(s) whose squad is not an "
            f"owning squad in the catalogue: {listed}"
        )
    if empty:
        notes.append(f"skipped {empty} case(s) with no text")
    return usable, notes


@contextmanager
def _progress(
    enabled: bool, on_step: Callable[[str], None] | None = None
) -> Iterator[Callable[[str], None]]:
    hook = on_step or (lambda _label: None)
    if not enabled:
        yield hook
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task("training", total=None)

        def step(label: str) -> None:
            hook(label)
            bar.update(task, description=label)

        yield step

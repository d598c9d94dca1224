"""Training: from labelled history (optional) and the catalogue to a `TriageModel`.

`train_model` always adds pseudo-documents synthesised from the catalogue, so a squad
with little or no history is still predictable from its components' names, aliases and
keywords; with no history at all the model is a catalogue-only cold start. With history,
a stratified, seeded hold-out (20%) is scored first, then the model is refit on everything.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from contracts.catalogue import Catalogue
from triage.classifier.errors import HistoryError, TrainingError
from triage.classifier.evaluate import EvaluationReport, evaluate_model
from triage.classifier.features import CatalogueMatcher, pseudo_documents
from triage.classifier.model import LabelledCase, TriageModel
from triage.classifier.pipeline import (
    COLD_START_CATALOGUE_WEIGHT,
    HISTORY_CATALOGUE_WEIGHT,
    fit_scorer,
)

DEFAULT_THRESHOLD = 0.6
HOLDOUT = 0.2
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
    holdout: float = HOLDOUT,
) -> tuple[TriageModel, EvaluationReport]:
    """Train a model from labelled cases and the catalogue.

    Args:
        examples: Labelled history; may be empty (catalogue-only cold start).
        catalogue: The service catalogue; labels must be its squads.
        progress: Show a progress display on the terminal.
        seed: Seed for the hold-out split and the cross-validation folds.
        holdout: Share of the history held out for the returned report (0 to skip).

    Returns:
        The model (refit on all usable examples) and the held-out evaluation.

    Raises:
        TrainingError: Nothing usable to learn from.
    """
    usable, notes = _usable(examples, catalogue)
    pseudo = [LabelledCase("", text, squad) for text, squad in pseudo_documents(catalogue)]
    matcher = CatalogueMatcher(catalogue)
    trained_at = datetime.now(UTC).replace(microsecond=0)
    sha = data_digest(usable)
    version = f"{trained_at:%Y%m%dT%H%M%SZ}-{sha[:8]}"
    report = EvaluationReport(notes=["catalogue-only cold start: no history to hold out"])
    weight = HISTORY_CATALOGUE_WEIGHT if usable else COLD_START_CATALOGUE_WEIGHT
    with _progress(progress) as step:
        train_part, test_part = _split(usable, holdout, seed)
        if test_part:
            step("fitting on the training split")
            model = _fit(
                [*train_part, *pseudo], catalogue, matcher, seed, version, trained_at, weight
            )
            step("scoring the held-out split")
            report = evaluate_model(model, test_part, threshold=DEFAULT_THRESHOLD)
        step("fitting on all examples")
        model = _fit([*usable, *pseudo], catalogue, matcher, seed, version, trained_at, weight)
    report.notes.extend(notes)
    model.metrics = report.summary()
    model.info = {
        "training_data_sha256": sha,
        "catalogue_digest": catalogue.digest,
        "examples": len(usable),
        "pseudo_documents": len(pseudo),
        "estimator": model.scorer.kind,
        "catalogue_weight": weight,
        "seed": seed,
    }
    return model, report


def _fit(
    examples: Sequence[LabelledCase],
    catalogue: Catalogue,
    matcher: CatalogueMatcher,
    seed: int,
    version: str,
    trained_at: datetime,
    weight: float,
) -> TriageModel:
    if not examples:
        raise TrainingError(
            "nothing to learn from: no usable history and no owned components in the catalogue"
        )
    texts = [e.text for e in examples]
    matches = [matcher.find(t) for t in texts]
    scorer = fit_scorer(
        texts, [e.squad for e in examples], matches, seed=seed, catalogue_weight=weight
    )
    return TriageModel(
        version=version,
        squads=list(scorer.squads),
        metrics={},
        trained_at=trained_at,
        scorer=scorer,
        catalogue=catalogue,
        _matcher=matcher,
    )


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


def _split(
    examples: list[LabelledCase], holdout: float, seed: int
) -> tuple[list[LabelledCase], list[LabelledCase]]:
    from sklearn.model_selection import train_test_split

    counts = Counter(e.squad for e in examples)
    if holdout <= 0 or len(examples) < 10 or len(counts) < 2:
        return examples, []
    stratify = [e.squad for e in examples] if min(counts.values()) >= 2 else None
    test_size = max(holdout, len(counts) / len(examples)) if stratify else holdout
    train, test = train_test_split(
        examples, test_size=test_size, stratify=stratify, random_state=seed
    )
    return list(train), list(test)


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], None]]:
    if not enabled:
        yield lambda _label: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True
    ) as bar:
        task = bar.add_task("training", total=None)

        def step(label: str) -> None:
            bar.update(task, description=label)

        yield step

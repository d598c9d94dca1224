"""Retraining: labels + history -> training set -> challenger -> judged against the champion.

The training set is the history CSV (`HISTORY_PATH`, optional) plus the stored labels
(corrections, resolutions and imports). For each labelled case the case's title and
description (an imported label carries its own) are paired with the squad of its **latest**
label (by time, then by row id): a later label of the same case supersedes an earlier one.
A label also overrides every history row with the same text (whitespace-normalised title and
description). Labels whose squad is not a squad of the catalogue (removed or renamed) or is
Service Delivery are skipped and counted, as are history rows with such squads and labels of
cases triage does not have.

`retrain` holds out the most recent labelled cases (`holdout_size`, at most a fifth of the
training set), trains a challenger on everything older, and scores challenger and champion
on the holdout (`triage.promotion`). A challenger that is not worse is refit on every example
(so the newest corrections count), registered and promoted; a worse one is registered as
`rejected` and never served. Both scores and the verdict are stored with the version. Then
`prune` applies the retention rule (`MODEL_KEEP_VERSIONS`): older versions lose their
artifacts and keep their records.

`import_labels` stores the rows of a labelled CSV (`triage labels import`) as labels, once.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts.catalogue import Catalogue
from servicekit.audit import Audited
from servicekit.paging import as_int, decode_cursor, encode_cursor
from servicekit.utc import as_utc
from triage.domain import (
    Correction,
    Example,
    Label,
    LabelFilter,
    ModelRecord,
    TrainingCounts,
)
from triage.errors import ModelVersionNotFound
from triage.ports import CaseRepository, Classifier, ModelRegistry, ModelStore
from triage.promotion import HoldoutScore, PromotionRule, Verdict, judge, score

LABELS_CURSOR = "labels"

log = logging.getLogger(__name__)

RETRAIN_LEASE = "retrain"
"""The registry lease a retrain job holds while it runs (`triage.jobs`)."""


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """Examples to train on and how they were chosen.

    History rows come first (they carry no time), then the labelled cases oldest first (by
    label time, then row id): the last `labelled` examples are the labelled ones.
    """

    examples: list[Example]
    counts: TrainingCounts
    labelled: int = 0


def _key(title: str, description: str) -> tuple[str, str]:
    return " ".join(title.split()), " ".join(description.split())


def _rank(c: Correction, delivery: set[str]) -> tuple[bool, datetime, int]:
    """How a label ranks among the labels of its case: the highest one is what it trains as.

    A label naming Service Delivery (a resolution by it, or a hand-over to it) says who
    handled the case, not which squad owns its work, so it ranks below every label naming
    another squad: a triage lead's correction to `documents` survives the case being passed
    to Service Delivery and resolved there. Otherwise the later label wins (by time, then
    row id).
    """
    return c.label.squad not in delivery, c.label.created_at, c.id


def assemble_training_set(
    history: Sequence[Example], corrections: Sequence[Correction], catalogue: Catalogue
) -> TrainingSet:
    """Merge history rows and stored corrections into one training set (pure).

    Args:
        history: Rows of the history CSV, in file order.
        corrections: Stored labels with their cases' text, in any order.
        catalogue: The catalogue in force; only its owning squads are kept.

    Returns:
        The examples and the counts describing what was kept, replaced and skipped.
    """
    owning = {name for name, s in catalogue.squads.items() if not s.service_delivery}
    delivery = {name for name, s in catalogue.squads.items() if s.service_delivery}
    latest: dict[Any, Correction] = {}
    for c in corrections:
        prior = latest.get(c.label.case_id)
        if prior is None or _rank(c, delivery) > _rank(prior, delivery):
            latest[c.label.case_id] = c
    used: list[Example] = []
    unknown = missing = 0
    for c in sorted(latest.values(), key=lambda c: (c.label.created_at, c.id)):
        if c.title is None and c.description is None:
            missing += 1
        elif c.label.squad not in owning:
            unknown += 1
        else:
            used.append(Example(c.title or "", c.description or "", c.label.squad))
    corrected = {_key(e.title, e.description) for e in used}
    kept: list[Example] = []
    overridden = skipped = 0
    for row in history:
        if _key(row.title, row.description) in corrected:
            overridden += 1
        elif not (row.title or row.description) or row.squad not in owning:
            skipped += 1
        else:
            kept.append(row)
    counts = TrainingCounts(
        history_rows=len(history),
        history_used=len(kept),
        history_overridden=overridden,
        history_skipped=skipped,
        labels=len(corrections),
        corrections_used=len(used),
        superseded=len(corrections) - len(latest),
        skipped_unknown_squad=unknown,
        skipped_missing_case=missing,
    )
    return TrainingSet([*kept, *used], counts, labelled=len(used))


@dataclass(frozen=True, slots=True)
class LabelPage:
    """One page of corrections, newest first, and the cursor of the next one."""

    items: list[Correction]
    next_cursor: str | None


def list_labels(
    flt: LabelFilter, *, repo: CaseRepository, limit: int, cursor: str | None = None
) -> LabelPage:
    """A page of stored labels with their cases' text, newest first (keyset on the row id).

    Raises:
        InvalidCursor: The cursor is not a `next_cursor` of this listing.
    """
    (before,) = decode_cursor(cursor, LABELS_CURSOR, as_int) if cursor else (None,)
    rows = repo.corrections(flt, limit=limit + 1, before=before)
    more = len(rows) > limit
    rows = rows[:limit]
    return LabelPage(rows, encode_cursor(LABELS_CURSOR, rows[-1].id) if more and rows else None)


@dataclass(frozen=True, slots=True)
class RetrainOptions:
    """How a retrain holds out cases and judges its challenger, and how many versions it
    keeps afterwards (`keep_versions`, see `prune`; 0: every one)."""

    holdout_size: int = 500
    rule: PromotionRule = field(default_factory=PromotionRule)
    keep_versions: int = 10


@dataclass(frozen=True, slots=True)
class RetrainOutcome:
    """The registered version (promoted or rejected), the verdict and the training counts.

    `classifier` is the promoted model, loaded (None when the challenger was rejected): the
    caller serves it as it is rather than loading the artifact again.
    """

    record: ModelRecord
    verdict: Verdict
    counts: TrainingCounts
    classifier: Classifier | None = None
    pruned: list[str] = field(default_factory=list)


def holdout_count(data: TrainingSet, size: int) -> int:
    """How many of the newest labelled examples to hold out: `size`, at most a fifth of the
    training set and never more than the labelled examples."""
    return max(0, min(size, data.labelled, len(data.examples) // 5))


def holdout_score(classifier: Classifier, held: Sequence[Example]) -> HoldoutScore:
    """A model's figures on the held-out examples."""
    out = classifier.classify_texts([(e.title, e.description) for e in held])
    return score([e.squad for e in held], [s for s, _ in out], [d for _, d in out])


def _sha(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def retrain(
    *,
    repo: CaseRepository,
    store: ModelStore,
    registry: ModelRegistry,
    catalogue: Catalogue,
    champion: Classifier,
    options: RetrainOptions,
    job_id: str | None = None,
    progress: bool = False,
) -> RetrainOutcome:
    """Train a challenger, judge it against `champion` and register it (blocking).

    A promoted version is the registry's champion when this returns (the caller swaps in
    `RetrainOutcome.classifier`); a rejected one is kept with status `rejected`. Each model
    trained is loaded once, by the store when it checks what it saved. Raises
    `TrainingFailed`.
    """
    data = assemble_training_set(store.history(), repo.corrections(), catalogue)
    n = holdout_count(data, options.holdout_size)
    older, held = data.examples[: len(data.examples) - n], data.examples[len(data.examples) - n :]
    counts = replace(data.counts, holdout=n)
    trained = store.retrain(older if n else data.examples, catalogue, progress=progress)
    artifact = store.pack(trained.path)
    challenger: Classifier = trained.classifier
    theirs, mine = holdout_score(champion, held), holdout_score(challenger, held)
    verdict = judge(theirs, mine, options.rule)
    evaluation: dict[str, Any] = {
        "holdout": n,
        "champion_version": champion.version,
        "champion": theirs.as_dict(),
        "challenger": mine.as_dict(),
        "margin": options.rule.margin,
        "target_precision": options.rule.target_precision,
        "decision": "promoted" if verdict.promote else "rejected",
        "reasons": verdict.reasons,
        "trained_on": len(older) if n else len(data.examples),
    }
    now = datetime.now(UTC)
    # A challenger judged on the older cases is refit on all of them, the newest labels included.
    if verdict.promote and n:
        trained = store.retrain(data.examples, catalogue, progress=progress)  # loaded, or refused
        artifact = store.pack(trained.path)
        challenger = trained.classifier
        evaluation["refit_on"] = len(data.examples)
    record = ModelRecord(
        trained.version,
        now,
        "challenger" if verdict.promote else "rejected",
        dict(trained.metrics),
        evaluation,
        trained.path,
        _sha(artifact),
        job_id,
    )
    registry.add(record, artifact)
    if verdict.promote:
        # Only while this job holds the retrain lease: a job whose process is stopping (its
        # lease given up) or whose lease lapsed to another job promotes nothing.
        lease = (RETRAIN_LEASE, job_id) if job_id is not None else None
        record = registry.promote(trained.version, datetime.now(UTC), lease=lease)
        store.install(trained.version, artifact)
    pruned = _prune_after_retrain(
        registry, store, options.keep_versions, {champion.version, trained.version}
    )
    return RetrainOutcome(record, verdict, counts, challenger if verdict.promote else None, pruned)


def _prune_after_retrain(
    registry: ModelRegistry, store: ModelStore, keep: int, protect: set[str]
) -> list[str]:
    """`prune` after a retrain; a failure is logged, never the retrain's failure."""
    try:
        return [
            r.version
            for r in prune(registry=registry, store=store, keep=keep, protect=protect).versions
        ]
    except Exception:
        log.exception("pruning old model versions failed (the retrain stands)")
        return []


@dataclass(frozen=True, slots=True)
class PruneOutcome:
    """The versions pruned and the local folders deleted (or that would be, dry run)."""

    versions: list[ModelRecord]
    folders: list[str]


def prunable(
    records: Iterable[ModelRecord], *, keep: int, protect: Collection[str] = ()
) -> list[ModelRecord]:
    """The versions the retention rule prunes, newest first (pure).

    Kept: the `keep` newest versions not pruned yet (by registration time), the champion and
    every version in `protect`; `keep` 0 keeps everything.
    """
    if keep <= 0:
        return []
    live = sorted(
        (r for r in records if r.status != "pruned"), key=lambda r: r.created_at, reverse=True
    )
    kept = {r.version for r in live[:keep]} | set(protect)
    return [r for r in live if r.version not in kept and r.status != "champion"]


def prune(
    *,
    registry: ModelRegistry,
    store: ModelStore,
    keep: int,
    protect: Collection[str] = (),
    dry_run: bool = False,
) -> PruneOutcome:
    """Apply the retention rule (`MODEL_KEEP_VERSIONS`): delete old versions' artifacts.

    `prunable` chooses (the saved model of `store` is protected too); the registry deletes
    their artifact bytes and marks them `pruned` (rows, metrics, evaluations and decisions
    stay: the audit trail), and this instance's copies of every pruned version are deleted.
    With `dry_run` nothing changes and the outcome says what would go.
    """
    installed = store.installed_version()
    guarded = {*protect, *([installed] if installed else [])}
    records = registry.versions()
    chosen = prunable(records, keep=keep, protect=guarded)
    before = {r.version for r in records if r.status == "pruned"}
    if dry_run:
        folders = store.prune_files((before | {r.version for r in chosen}) - guarded, dry_run=True)
        return PruneOutcome(chosen, folders)
    done = set(registry.prune([r.version for r in chosen], datetime.now(UTC)))
    folders = store.prune_files((before | done) - guarded)
    if done or folders:
        log.info("pruned %d model version(s), deleted %d folder(s)", len(done), len(folders))
    return PruneOutcome([r for r in chosen if r.version in done], folders)


def drop_pruned_files(
    *, registry: ModelRegistry, store: ModelStore, protect: Collection[str] = ()
) -> list[str]:
    """Delete this instance's copies of versions the registry pruned (another instance or
    the CLI pruned them); the saved model and `protect` stay."""
    installed = store.installed_version()
    gone = {r.version for r in registry.versions() if r.status == "pruned"}
    return store.prune_files(gone - {*protect, *([installed] if installed else [])})


def register_saved(
    *,
    registry: ModelRegistry,
    store: ModelStore,
    loaded: Classifier,
    why: str,
    audit: Audited | None = None,
) -> ModelRecord:
    """Register the saved model (`loaded` from `MODEL_DIR`) and make it the champion
    (`audit`, if any, is written in the transaction that does)."""
    if registry.get(loaded.version) is None:
        artifact = store.pack()
        record = ModelRecord(
            loaded.version,
            datetime.now(UTC),
            "challenger",
            dict(loaded.metrics),
            {"decision": why},
            "",
            _sha(artifact),
        )
        registry.add(record, artifact)
    return registry.promote(loaded.version, datetime.now(UTC), audit=audit)


def install_champion(*, registry: ModelRegistry, store: ModelStore) -> str | None:
    """At start, with no saved model: install the registry's champion from its stored
    artifact, so a new instance needs neither a shared disk nor a training run of its own.

    Returns the version installed; None when a model is saved already, the registry has no
    champion, or its artifact cannot be read (then the instance trains, as without a registry).
    """
    if store.exists():
        return None
    champion = registry.champion()
    if champion is None:
        return None
    try:
        store.install(champion.version, _artifact(registry, champion.version))
    except ModelVersionNotFound as exc:
        log.warning("the champion cannot be installed (%s); training a model instead", exc)
        return None
    log.info("installed the registry's champion %s", champion.version)
    return champion.version


def adopt_champion(
    *, registry: ModelRegistry, store: ModelStore, catalogue: Catalogue, loaded: Classifier
) -> Classifier:
    """At start: serve the registry's champion, or register the loaded model as the first one.

    Returns the classifier to serve (`loaded` when it is the champion).
    """
    champion = registry.champion()
    if champion is None:
        register_saved(registry=registry, store=store, loaded=loaded, why="registered at start")
        return loaded
    if champion.version == loaded.version:
        return loaded
    return load_registered(champion.version, registry=registry, store=store, catalogue=catalogue)


def load_registered(
    version: str, *, registry: ModelRegistry, store: ModelStore, catalogue: Catalogue
) -> Classifier:
    """Load a registered version from its stored artifact and make it this instance's saved
    model (what a restart or a catalogue reload loads); `ModelVersionNotFound`,
    `ModelRefused`."""
    artifact = _artifact(registry, version)
    classifier = store.load_version(version, artifact, catalogue)
    store.install(version, artifact)
    return classifier


def _artifact(registry: ModelRegistry, version: str) -> bytes:
    """A version's artifact bytes; `ModelVersionNotFound` (saying so when it was pruned)."""
    artifact = registry.artifact(version)
    if artifact is not None:
        return artifact
    record = registry.get(version)
    if record is not None and record.status == "pruned":
        raise ModelVersionNotFound.pruned(version)
    raise ModelVersionNotFound(f"no model version {version}")


def promote(
    version: str,
    *,
    registry: ModelRegistry,
    store: ModelStore,
    catalogue: Catalogue,
    audit: Audited | None = None,
) -> tuple[ModelRecord, Classifier]:
    """Make a registered version the champion (promotion by hand, or a rollback), writing
    `audit` (who did it), if any, in the same transaction.

    The version is loaded first: one the catalogue refuses is not promoted (`ModelRefused`).
    """
    artifact = _artifact(registry, version)
    classifier = store.load_version(version, artifact, catalogue)
    record = registry.promote(version, datetime.now(UTC), audit=audit)
    store.install(version, artifact)
    return record, classifier


# -- bulk import of labels ------------------------------------------------------------------

TIME_COLUMNS = ("created_at", "time", "timestamp", "opened_at", "date")
REQUIRED = ("title", "description", "squad")
IMPORT_NAMESPACE = uuid.UUID("6f1d3f8e-2f49-4c52-9a1e-3c1b8f0e7a55")


class LabelFileError(Exception):
    """A label CSV that cannot be imported; `problems` lists them with their line numbers."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        shown = problems[:20]
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{path}: nothing imported\n" + "\n".join(shown) + more)
        self.problems = problems


def read_label_csv(path: Path, *, now: datetime | None = None) -> list[Label]:
    """Read a CSV of `title,description,squad` and an optional time column as labels.

    The time column is the first of `TIME_COLUMNS` present (ISO 8601; without a zone, UTC);
    without one, every row gets `now` and the file order. Every problem is reported with its
    line number and nothing is imported when there is one.

    Raises:
        LabelFileError: The file cannot be read, lacks a column, or has bad rows.
    """
    imported_at = now or datetime.now(UTC)
    labels: list[Label] = []
    problems: list[str] = []
    try:
        with Path(path).open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            missing = [c for c in REQUIRED if c not in columns]
            if missing:
                raise LabelFileError(
                    path,
                    [
                        f"line 1: missing column(s) {', '.join(missing)}; the header needs "
                        f"{', '.join(REQUIRED)} (found: {', '.join(columns) or 'no header'})"
                    ],
                )
            time_column = next((c for c in TIME_COLUMNS if c in columns), None)
            for row in reader:
                line = reader.line_num
                title = (row.get("title") or "").strip()
                description = (row.get("description") or "").strip()
                squad = (row.get("squad") or "").strip()
                if not squad:
                    problems.append(f"line {line}: no squad")
                    continue
                if not (title or description):
                    problems.append(f"line {line}: neither title nor description")
                    continue
                created = imported_at
                if time_column is not None:
                    try:
                        when = (row.get(time_column) or "").strip()
                        created = as_utc(datetime.fromisoformat(when))
                    except ValueError:
                        problems.append(
                            f"line {line}: {time_column} {row.get(time_column)!r} is not an "
                            "ISO 8601 time"
                        )
                        continue
                key = hashlib.sha256(
                    f"{title}\x1f{description}\x1f{squad}\x1f{created.isoformat()}".encode()
                ).hexdigest()
                labels.append(
                    Label(
                        case_id=uuid.uuid5(IMPORT_NAMESPACE, key),
                        squad=squad,
                        source="import",
                        created_at=created,
                        title=title,
                        description=description,
                        dedup_key=key,
                    )
                )
    except OSError as exc:
        raise LabelFileError(path, [f"cannot read: {exc.strerror or exc}"]) from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise LabelFileError(path, [f"not a readable UTF-8 CSV: {exc}"]) from exc
    if problems:
        raise LabelFileError(path, problems)
    return labels


def import_labels(
    labels: Sequence[Label],
    *,
    repo: CaseRepository,
    chunk: int = 500,
    advance: Callable[[int], None] | None = None,
) -> int:
    """Store imported labels in chunks, skipping those stored before; how many were new."""
    added = 0
    for start in range(0, len(labels), chunk):
        part = labels[start : start + chunk]
        with repo.transaction() as tx:
            known = tx.known_label_keys([lb.dedup_key for lb in part if lb.dedup_key])
            fresh: list[Label] = []
            seen: set[str | None] = set(known)
            for lb in part:
                if lb.dedup_key is not None and lb.dedup_key in seen:
                    continue
                seen.add(lb.dedup_key)
                fresh.append(lb)
            tx.add_labels(fresh, [])
        added += len(fresh)
        if advance is not None:
            advance(len(part))
    return added


def squads_unknown(labels: Iterable[Label], catalogue: Catalogue) -> dict[str, int]:
    """Imported squads that are not owning squads of the catalogue, with their row counts."""
    owning = {name for name, s in catalogue.squads.items() if not s.service_delivery}
    out: dict[str, int] = {}
    for lb in labels:
        if lb.squad not in owning:
            out[lb.squad] = out.get(lb.squad, 0) + 1
    return out

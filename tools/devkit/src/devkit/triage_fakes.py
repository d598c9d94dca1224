"""In-memory fakes of the ports, for fast tests: repository, classifier, model store.

The model registry has no fake: tests use the real `SqlModelRegistry` on a SQLite file.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from contracts import (
    Candidate,
    CaseSubmission,
    Decision,
    MatchedComponent,
    Recommendation,
    ThresholdSource,
    TriageResult,
)
from contracts.cases import Case
from contracts.catalogue import Catalogue
from contracts.envelope import OutboundEvent
from servicekit.db import make_engine
from triage.adapters.db import create_tables
from triage.adapters.registry import SqlModelRegistry
from triage.domain import (
    CaseFilter,
    Correction,
    Example,
    Label,
    LabelFilter,
    StoredCase,
    TrainedModel,
)
from triage.errors import ModelRefused, TrainingFailed


class KeywordClassifier:
    """A `Classifier` that scores squads by catalogue names, aliases and keywords in the text."""

    def __init__(self, catalogue: Catalogue, *, version: str = "keyword-1") -> None:
        self.catalogue = catalogue
        self.version = version
        self.squads = catalogue.owning_squads
        self.metrics: dict[str, Any] = {"kind": "keyword fake"}
        self.trained_at: datetime | None = datetime(2026, 1, 1, tzinfo=UTC)
        self.calls: list[int] = []
        self.default_threshold = 0.6
        self.operating_point: dict[str, Any] | None = None

    def predict(
        self, cases: Sequence[CaseSubmission], *, threshold: float | None, margin: float = 0.1
    ) -> list[TriageResult]:
        """Score each case; one call per batch is recorded in `calls`."""
        self.calls.append(len(cases))
        limit = self.default_threshold if threshold is None else threshold
        return [self._one(c, limit) for c in cases]

    def classify_texts(self, texts: Sequence[tuple[str, str]]) -> list[tuple[str | None, str]]:
        """(squad, decision) of each (title, description) at the default threshold."""
        out = []
        for title, description in texts:
            case = SimpleNamespace(title=title, description=description, component=None)
            r = self._one(case, self.default_threshold)  # type: ignore[arg-type]
            out.append((r.squad, r.decision.value))
        return out

    def _one(self, case: CaseSubmission, threshold: float) -> TriageResult:
        text = f"{case.title} {case.description} {case.component or ''}".lower()
        scores = dict.fromkeys(self.squads, 0.0)
        matched = []
        for comp in self.catalogue.components.values():
            terms = [comp.name, *comp.aliases, *comp.keywords]
            hits = [t for t in terms if re.search(rf"\b{re.escape(t.lower())}\b", text)]
            if hits and comp.owner:
                scores[comp.owner] += len(hits)
                matched.append(
                    MatchedComponent(component=comp.name, owner=comp.owner, evidence=hits)
                )
        total = sum(scores.values())
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        probs = [(s, (v / total) if total else 1.0 / max(len(scores), 1)) for s, v in ranked]
        squad, conf = probs[0] if probs else (None, 0.0)
        owners = {m.owner for m in matched}
        reasons = []
        if conf < threshold:
            reasons.append("low_confidence")
        if len(owners) > 1:
            reasons.append("cross_squad")
        action = Decision.ESCALATE if reasons else Decision.ASSIGN
        return TriageResult(
            squad=squad,
            confidence=round(conf, 4),
            candidates=[Candidate(squad=s, probability=round(p, 4)) for s, p in probs[:3]],
            matched_components=matched,
            spans_squads=len(owners) > 1,
            decision=action,
            reasons=reasons,
            model_version=self.version,
            recommendation=Recommendation(
                squad=squad,
                confidence=round(conf, 4),
                threshold=threshold,
                threshold_source=ThresholdSource.EXPLICIT,
                meets_threshold=conf >= threshold,
                action=action,
                reasons=list(reasons),
            ),
        )


class FakeModelStore:
    """A `ModelStore` building classifiers with `factory`; `refuse` makes `load` fail."""

    def __init__(
        self,
        factory: Callable[[Catalogue], Any] = KeywordClassifier,
        *,
        saved: bool = True,
        refuse: str | None = None,
        history_rows: Sequence[Example] = (),
        gate: threading.Event | None = None,
        fail_training: str | None = None,
    ) -> None:
        self.factory = factory
        self.saved = saved
        self.refuse = refuse
        self.trained = 0
        self.history_rows = list(history_rows)
        self.gate = gate
        self.fail_training = fail_training
        self.version: str | None = None
        self.retrained: list[list[Example]] = []
        self.installed: list[str] = []
        self.loads: list[str] = []  # versions loaded by `retrain` and `load_version`

    def exists(self) -> bool:
        """Whether a model was 'saved'."""
        return self.saved

    def load(self, catalogue: Catalogue) -> Any:
        """A new classifier, or `ModelRefused` when `refuse` is set."""
        if self.refuse:
            raise ModelRefused(f"model refused: {self.refuse}", reason=self.refuse)
        clf = self.factory(catalogue)
        if self.version is not None:  # a retrained 'model': same behaviour, new version
            clf = copy.copy(clf)
            clf.version = self.version
        return clf

    def train(self, catalogue: Catalogue) -> None:
        """Pretend to train and save."""
        self.trained += 1
        self.saved = True

    def history(self) -> list[Example]:
        """The rows given as `history_rows`."""
        return list(self.history_rows)

    def retrain(
        self, examples: Sequence[Example], catalogue: Catalogue, *, progress: bool = False
    ) -> TrainedModel:
        """Record the examples; wait for `gate` if set; fail with `fail_training` if set."""
        if self.gate is not None and not self.gate.wait(timeout=30):
            raise TrainingFailed("the test never opened the gate")
        if self.fail_training:
            raise TrainingFailed(f"training failed: {self.fail_training}", reason="fake")
        self.retrained.append(list(examples))
        version = f"retrained-{len(self.retrained)}"
        if self.refuse:  # the real store loads what it trained and refuses it the same way
            raise TrainingFailed(f"the new model was refused: {self.refuse}", reason=self.refuse)
        clf = copy.copy(self.factory(catalogue))
        clf.version = version
        self.loads.append(version)
        return TrainedModel(
            version, {"n": len(examples)}, f"versions/{version}", report=None, classifier=clf
        )

    def pack(self, path: str | None = None) -> bytes:
        """The 'artifact': the version's name (the saved one's without a path)."""
        return f"fake:{path or 'saved'}".encode()

    def load_version(self, version: str, artifact: bytes, catalogue: Catalogue) -> Any:
        """A classifier of `factory` carrying `version`; `refuse` makes it fail."""
        if self.refuse:
            raise ModelRefused(f"model refused: {self.refuse}", reason=self.refuse)
        clf = copy.copy(self.factory(catalogue))
        clf.version = version
        self.loads.append(version)
        return clf

    def install(self, version: str, artifact: bytes) -> None:
        """The version becomes the saved one."""
        self.version = version
        self.installed.append(version)

    def installed_version(self) -> str | None:
        """The last version installed (None before one was)."""
        return self.version

    def prune_files(self, versions: Collection[str], *, dry_run: bool = False) -> list[str]:
        """Nothing on disk: the pruned versions' would-be folders."""
        return [f"versions/{v}" for v in sorted(versions)]


class _MemoryTransaction:
    def __init__(self, repo: MemoryCaseRepository) -> None:
        self.repo = repo
        self.records: list[StoredCase] = []
        self.events: list[OutboundEvent] = []
        self.ids: list[str] = []
        self.new_labels: list[Label] = []

    def processed(self, event_ids: Sequence[str]) -> set[str]:
        return {e for e in event_ids if e in self.repo.processed_ids}

    def by_idempotency_keys(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredCase]:
        wanted = set(keys)
        return {
            r.scoped_key: r
            for r in self.repo.records.values()
            if r.scoped_key is not None and r.scoped_key in wanted
        }

    def by_external_refs(
        self, refs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredCase]:
        wanted = set(refs)
        return {
            r.scoped_ref: r
            for r in self.repo.records.values()
            if r.scoped_ref is not None and r.scoped_ref in wanted
        }

    def add(
        self,
        records: Sequence[StoredCase],
        events: Sequence[OutboundEvent],
        processed_ids: Sequence[str],
    ) -> None:
        self.records.extend(records)
        self.events.extend(events)
        self.ids.extend(processed_ids)

    def add_labels(self, labels: Sequence[Label], processed_ids: Sequence[str]) -> None:
        self.new_labels.extend(labels)
        self.ids.extend(processed_ids)

    def known_label_keys(self, keys: Sequence[str]) -> set[str]:
        stored = {lb.dedup_key for lb in [*self.repo.label_rows, *self.new_labels]}
        return {k for k in keys if k in stored}


class MemoryCaseRepository:
    """A `CaseRepository` in dicts; a transaction applies its writes only on success."""

    def __init__(self) -> None:
        self.records: dict[UUID, StoredCase] = {}
        self.outbox: list[OutboundEvent] = []
        self.processed_ids: set[str] = set()
        self.label_rows: list[Label] = []
        self.transactions = 0
        self.fail: Exception | None = None

    @contextmanager
    def transaction(self) -> Iterator[_MemoryTransaction]:
        """Stage writes; apply them when the block exits cleanly."""
        if self.fail is not None:
            raise self.fail
        tx = _MemoryTransaction(self)
        yield tx
        for r in tx.records:
            if r.scoped_key and any(o.scoped_key == r.scoped_key for o in self.records.values()):
                raise ValueError("unique violation: idempotency_key")
            self.records[r.case.id] = r
        self.outbox.extend(tx.events)
        self.processed_ids.update(tx.ids)
        self.label_rows.extend(tx.new_labels)
        self.transactions += 1

    def get(self, case_id: UUID, *, submitted_by: str | None = None) -> Case | None:
        """One case, or None (also when `submitted_by` is given and did not submit it)."""
        rec = self.records.get(case_id)
        if rec is None or (submitted_by is not None and rec.submitted_by != submitted_by):
            return None
        return rec.case

    def find(self, flt: CaseFilter, *, limit: int, before: UUID | None = None) -> list[Case]:
        """Matching cases, newest first."""
        out = []
        for rec in sorted(self.records.values(), key=lambda r: r.case.id, reverse=True):
            c = rec.case
            if before is not None and c.id >= before:
                continue
            if flt.squad is not None and c.triage.squad != flt.squad:
                continue
            if flt.decision is not None and c.triage.decision != flt.decision:
                continue
            if flt.source is not None and c.submission.source != flt.source:
                continue
            if flt.priority is not None and c.submission.priority != flt.priority:
                continue
            if flt.submitted_by is not None and rec.submitted_by != flt.submitted_by:
                continue
            if flt.received_after is not None and c.received_at < flt.received_after:
                continue
            if flt.received_before is not None and c.received_at >= flt.received_before:
                continue
            out.append(c)
            if len(out) == limit:
                break
        return out

    def labels(self) -> list[Label]:
        """Every label."""
        return list(self.label_rows)

    def corrections(
        self, flt: LabelFilter | None = None, *, limit: int | None = None, before: int | None = None
    ) -> list[Correction]:
        """Labels (row id = position + 1) with their cases' text, newest first."""
        flt = flt or LabelFilter()
        out = []
        for n in range(len(self.label_rows), 0, -1):
            lb = self.label_rows[n - 1]
            if before is not None and n >= before:
                continue
            if flt.squad is not None and lb.squad != flt.squad:
                continue
            if flt.since is not None and lb.created_at < flt.since:
                continue
            rec = self.records.get(lb.case_id)
            sub = rec.case.submission if rec else None
            out.append(
                Correction(
                    id=n,
                    label=lb,
                    title=sub.title if sub else lb.title,
                    description=sub.description if sub else lb.description,
                    case_squad=rec.case.triage.squad if rec else None,
                )
            )
            if limit is not None and len(out) == limit:
                break
        return out

    def ping(self) -> None:
        """Raise `fail` if set."""
        if self.fail is not None:
            raise self.fail


def sqlite_registry(url: str) -> SqlModelRegistry:
    """The real model registry on the SQLite database at `url`, its tables created."""
    engine = make_engine(url)
    create_tables(engine)
    return SqlModelRegistry(engine)

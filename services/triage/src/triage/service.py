"""Service functions of triage: take cases in, classify, page through them, swap models.

Collaborators are passed keyword-only; everything here is blocking and framework-free (the
entrypoints run it in a thread and translate errors).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from contracts import CaseSubmission, TriageResult, new_id
from contracts.cases import Case
from contracts.catalogue import Catalogue, load_catalogue
from contracts.events import CaseReassigned, CaseResolved
from servicekit.paging import as_uuid, decode_cursor, encode_cursor
from triage.domain import (
    Accepted,
    CaseFilter,
    Duplicate,
    Intake,
    Label,
    StoredCase,
    triaged_event,
)
from triage.errors import CaseNotFound, IdempotencyConflict, ModelRefused
from triage.ports import CaseRepository, ModelState, ModelStore, ScopedKey, WriteConflict

log = logging.getLogger(__name__)

Outcome = Accepted | Duplicate | IdempotencyConflict
CASES_CURSOR = "cases"


@dataclass(frozen=True, slots=True)
class TriageOptions:
    """How triage classifies cases (decision threshold, span margin) and where their events
    go. Not a policy: `Policy` is the router's routing policy."""

    threshold: float | None = None  # None: the model's per-squad thresholds
    margin: float = 0.1
    triaged_topic: str = "support.case.triaged.v1"


@dataclass(frozen=True, slots=True)
class Page:
    """One page of cases and the cursor of the next one (None on the last page)."""

    cases: list[Case]
    next_cursor: str | None


def _replay(prior: StoredCase, item: Intake) -> Accepted | IdempotencyConflict:
    if item.same_request(prior.request_hash):
        return Accepted(prior.case, replayed=True)
    if item.idempotency_key:
        return IdempotencyConflict(
            f"key {item.idempotency_key!r} was used for case {prior.case.id} with a different body"
        )
    return IdempotencyConflict(
        f"external_ref {item.submission.external_ref!r} was used for case {prior.case.id} with "
        "a different body"
    )


def take_in(
    items: Sequence[Intake],
    *,
    repo: CaseRepository,
    state: ModelState,
    options: TriageOptions,
) -> list[Outcome]:
    """Classify and store a batch of cases with their outbox events in one transaction.

    De-duplicates by Kafka event id (`Duplicate`) and by idempotency key or external_ref,
    each within the submitter's scope (`Intake.scope`): `Accepted(replayed=True)` for the
    same body, `IdempotencyConflict` for another one, within the batch and against what is
    stored. Returns one outcome per item, in order.

    Another replica may store the same idempotency key or external_ref between this
    transaction's read and its insert; the repository then refuses the insert
    (`WriteConflict`) and the batch is taken in once more: the second read finds the stored
    case and answers a replay (or an `IdempotencyConflict`) instead of an error.
    """
    try:
        return _take_in(items, repo=repo, state=state, options=options)
    except WriteConflict:
        log.info("intake raced another writer on a unique key; reading again")
        return _take_in(items, repo=repo, state=state, options=options)


def _take_in(
    items: Sequence[Intake], *, repo: CaseRepository, state: ModelState, options: TriageOptions
) -> list[Outcome]:
    outcomes: list[Outcome | None] = [None] * len(items)
    now = datetime.now(UTC)
    with repo.transaction() as tx:
        event_ids = [i.event_id for i in items if i.event_id]
        seen = tx.processed(event_ids) if event_ids else set()
        keys = [k for k in (i.scoped_key for i in items) if k]
        refs = [r for r in (i.scoped_ref for i in items) if r]
        by_key = tx.by_idempotency_keys(keys) if keys else {}
        by_ref = tx.by_external_refs(refs) if refs else {}
        fresh: list[int] = []
        alias: dict[int, int] = {}
        pending_key: dict[ScopedKey, int] = {}
        pending_ref: dict[ScopedKey, int] = {}
        new_event_ids: list[str] = []
        for n, item in enumerate(items):
            if item.event_id:
                if item.event_id in seen:
                    outcomes[n] = Duplicate(item.event_id)
                    continue
                seen.add(item.event_id)
                new_event_ids.append(item.event_id)
            key, ref = item.scoped_key, item.scoped_ref
            prior = by_key.get(key) if key else None
            if prior is None and ref:
                prior = by_ref.get(ref)
            if prior is not None:
                outcomes[n] = _replay(prior, item)
                continue
            earlier = pending_key.get(key) if key else None
            if earlier is None and ref:
                earlier = pending_ref.get(ref)
            if earlier is not None:
                alias[n] = earlier
                continue
            fresh.append(n)
            if key:
                pending_key[key] = n
            if ref:
                pending_ref[ref] = n
        results: list[TriageResult] = []
        if fresh:
            results = state.classifier.predict(
                [items[n].submission for n in fresh],
                threshold=options.threshold,
                margin=options.margin,
            )
        records: dict[int, StoredCase] = {}
        for n, result in zip(fresh, results, strict=True):
            case = Case(id=new_id(), received_at=now, submission=items[n].submission, triage=result)
            records[n] = StoredCase(
                case,
                items[n].hash,
                items[n].idempotency_key,
                scope=items[n].scope,
                submitted_by=items[n].submitted_by,
            )
            outcomes[n] = Accepted(case)
        for n, m in alias.items():
            outcomes[n] = _replay(records[m], items[n])
        tx.add(
            list(records.values()),
            [triaged_event(r.case, topic=options.triaged_topic) for r in records.values()],
            new_event_ids,
        )
    return [o for o in outcomes if o is not None]


def record_corrections(
    items: Sequence[tuple[str, CaseReassigned | CaseResolved]], *, repo: CaseRepository
) -> int:
    """Store reassignments and resolutions (event id, payload) as training labels.

    A reassignment is a correction (`source="correction"`); a resolution names the squad that
    owned the case at the end (`source="resolution"`; one resolved without a squad gives no
    label). Returns how many labels were new.
    """
    with repo.transaction() as tx:
        seen = tx.processed([eid for eid, _ in items])
        labels, ids = [], []
        for eid, ev in items:
            if eid in seen:
                continue
            seen.add(eid)
            ids.append(eid)
            if isinstance(ev, CaseReassigned):
                labels.append(
                    Label(
                        case_id=ev.case_id,
                        squad=ev.to_squad,
                        source="correction",
                        created_at=ev.reassigned_at,
                        from_squad=ev.from_squad,
                        predicted_squad=ev.predicted_squad,
                        by=ev.by,
                    )
                )
            elif ev.squad is not None:
                labels.append(
                    Label(
                        case_id=ev.case_id,
                        squad=ev.squad,
                        source="resolution",
                        created_at=ev.resolved_at,
                        by=ev.by,
                    )
                )
        tx.add_labels(labels, ids)
    return len(labels)


def predict(
    submissions: Sequence[CaseSubmission], *, state: ModelState, options: TriageOptions
) -> list[TriageResult]:
    """Classify without storing anything."""
    if not submissions:
        return []
    return state.classifier.predict(
        list(submissions), threshold=options.threshold, margin=options.margin
    )


def get_case(case_id: UUID, *, repo: CaseRepository, submitted_by: str | None = None) -> Case:
    """One case (only if `submitted_by` submitted it, when given); `CaseNotFound` when there
    is none."""
    case = repo.get(case_id, submitted_by=submitted_by)
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    return case


def list_cases(
    flt: CaseFilter, *, repo: CaseRepository, limit: int, cursor: str | None = None
) -> Page:
    """A page of cases, newest first (keyset on the time-ordered id).

    Raises:
        InvalidCursor: The cursor is not a `next_cursor` of this listing.
    """
    (before,) = decode_cursor(cursor, CASES_CURSOR, as_uuid) if cursor else (None,)
    rows = repo.find(flt, limit=limit + 1, before=before)
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(CASES_CURSOR, rows[-1].id) if more and rows else None)


def read_catalogue(path: Path, service_delivery_group: str | None = None) -> Catalogue:
    """Load the catalogue and log its report; `CatalogueError` lists every problem."""
    catalogue = load_catalogue(path, service_delivery_group=service_delivery_group)
    catalogue.report.log_to(log)
    return catalogue


def start_state(
    *, store: ModelStore, catalogue_path: Path, service_delivery_group: str | None = None
) -> ModelState:
    """The state at start: the catalogue, and the saved model (trained first when absent).

    A saved model in an artifact format this triage no longer reads (`outdated_format`)
    is replaced by a newly trained one, so an upgrade starts; any other refusal raises.
    """
    catalogue = read_catalogue(catalogue_path, service_delivery_group)
    if not store.exists():
        log.info("no saved model; training one")
        store.train(catalogue)
    try:
        return ModelState(store.load(catalogue), catalogue)
    except ModelRefused as exc:
        if exc.reason != "outdated_format":
            raise
        log.warning(
            "the saved model was written by an earlier triage (%s); training a new one", exc
        )
        store.train(catalogue)
        return ModelState(store.load(catalogue), catalogue)


def reload_model(*, store: ModelStore, current: ModelState) -> ModelState:
    """Load the saved model again; raises `ModelRefused` (the caller keeps `current`)."""
    return ModelState(store.load(current.catalogue), current.catalogue)


def reload_catalogue(
    *,
    store: ModelStore,
    catalogue_path: Path,
    current: ModelState,
    service_delivery_group: str | None = None,
) -> ModelState:
    """Load the catalogue again (and the model against it); raises and keeps `current`."""
    catalogue = read_catalogue(catalogue_path, service_delivery_group)
    return ModelState(store.load(catalogue), catalogue)

"""Fixtures for the classifier, catalogue and triage CLI unit tests, and a triage result
builder the router tests share.

A small catalogue (three squads, Service Delivery, six components of which one is
unowned) is written as YAML into a temporary folder, and labelled cases for it are built
here from per-component phrases, seeded, so the tests never need `../shared`.
"""

from __future__ import annotations

import csv
import random
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from contracts.cases import (
    Candidate,
    Decision,
    MatchedComponent,
    Recommendation,
    ThresholdSource,
    TriageResult,
)
from contracts.catalogue import Catalogue, load_catalogue
from triage.classifier import LabelledCase, TriageModel, train_model

ROOT = Path(__file__).resolve().parents[2]

SMALL_CATALOGUE = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: checkout, title: Checkout, description: Basket and order placement.}
spec: {type: team}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: payments, title: Payments, description: Card payments and refunds.}
spec: {type: team}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: delivery, title: Delivery, description: Getting cars to customers.}
spec: {type: team}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: service-delivery, title: Service Delivery}
spec: {type: service-delivery}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: basket-service
  description: Holds what the customer is about to buy.
  annotations:
    support-triage/keywords: basket, cart
    support-triage/aliases: shopping trolley
spec: {owner: checkout}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: order-api
  description: Places orders and confirms them.
  annotations:
    support-triage/keywords: order confirmation, place order
    support-triage/aliases: ordering
spec: {owner: checkout}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payment-gateway
  description: Authorises card payments.
  annotations:
    support-triage/keywords: card declined, charged twice
    support-triage/aliases: psp adapter, zahlwerk
spec: {owner: payments}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: refund-service
  description: Pays money back.
  annotations:
    support-triage/keywords: refund, money back
spec: {owner: payments}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: delivery-slots
  description: Books delivery slots.
  annotations:
    support-triage/keywords: delivery slot, reschedule delivery
    support-triage/aliases: slot booker
spec: {owner: delivery}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: legacy-cms
  description: Old help pages, nobody owns it.
  annotations:
    support-triage/keywords: help article
    support-triage/aliases: old cms
spec: {}
"""

PHRASES = {
    "checkout": [
        "items vanish from my basket",
        "cannot place the order, button greyed out",
        "no order confirmation after paying",
        "cart shows wrong quantity",
        "checkout page freezes on the last step",
    ],
    "payments": [
        "my card was declined twice",
        "I was charged twice for one car",
        "still waiting for the refund",
        "payment fails with an error from the bank",
        "money back has not arrived",
    ],
    "delivery": [
        "no delivery slot available next week",
        "I need to reschedule delivery",
        "the truck never arrived",
        "driver could not find the address",
        "delivery date keeps moving",
    ],
}
FILLERS = ["hi", "please help", "since yesterday", "on the app", "thanks", "urgent", ""]


def write_catalogue(folder: Path, text: str = SMALL_CATALOGUE) -> Path:
    """Write `text` as one catalogue file in `folder` and return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalogue.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def make_history(rows: int, seed: int = 1) -> list[LabelledCase]:
    """Seeded labelled cases for the small catalogue."""
    rng = random.Random(seed)
    squads = sorted(PHRASES)
    out = []
    for _ in range(rows):
        squad = rng.choice(squads)
        phrase = rng.choice(PHRASES[squad])
        body = " ".join(w for w in (rng.choice(FILLERS), phrase, rng.choice(FILLERS)) if w)
        out.append(LabelledCase(phrase.split(",")[0][:40], body, squad))
    return out


def write_history_csv(path: Path, cases: list[LabelledCase]) -> Path:
    """Write cases as a history CSV with the demo's columns."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "description", "squad", "priority"])
        for i, c in enumerate(cases):
            writer.writerow([f"C{i}", c.title, c.description, c.squad, "P3"])
    return path


@pytest.fixture(scope="session")
def small_catalogue_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder holding the small catalogue."""
    return write_catalogue(tmp_path_factory.mktemp("catalogue"))


@pytest.fixture(scope="session")
def small_catalogue(small_catalogue_dir: Path) -> Catalogue:
    """The small catalogue, loaded."""
    return load_catalogue(small_catalogue_dir)


@pytest.fixture(scope="session")
def trained(small_catalogue: Catalogue) -> tuple[TriageModel, object]:
    """A model trained on 300 seeded cases of the small catalogue, with its report."""
    return train_model(make_history(300), small_catalogue, seed=3)


@pytest.fixture(scope="session")
def cold_model(small_catalogue: Catalogue) -> TriageModel:
    """A catalogue-only model (no history)."""
    model, _ = train_model([], small_catalogue)
    return model


@pytest.fixture(scope="session")
def history() -> Callable[..., list[LabelledCase]]:
    """`make_history(rows, seed=1)`, for tests that need their own cases."""
    return make_history


ResultFactory = Callable[..., TriageResult]


@pytest.fixture(scope="session")
def make_result() -> ResultFactory:
    """Build a triage result (model `test-1`) from plain values.

    The recommendation carries the model's `threshold` for the squad (0.6 unless given;
    None: a rare squad the case does not name) for a 0.9 target precision, and says whether
    `confidence` meets it. Without `candidates` the predicted squad is the only candidate,
    at `confidence`; each
    component is a (name, owner) pair whose evidence is its own name.
    """

    def build(
        *,
        squad: str | None,
        confidence: float,
        candidates: list[tuple[str, float]] | None,
        components: list[tuple[str, str | None]],
        spans_squads: bool,
        threshold: float | None = 0.6,
    ) -> TriageResult:
        if candidates is None:
            candidates = [(squad, confidence)] if squad else []
        meets = threshold is not None and confidence >= threshold
        reasons = [] if meets else ["low_confidence"]
        action = Decision.ASSIGN if meets else Decision.ESCALATE
        return TriageResult(
            squad=squad,
            confidence=confidence,
            candidates=[Candidate(squad=s, probability=p) for s, p in candidates],
            matched_components=[
                MatchedComponent(component=c, owner=o, evidence=[c]) for c, o in components
            ],
            spans_squads=spans_squads,
            decision=action,
            reasons=reasons,
            model_version="test-1",
            recommendation=Recommendation(
                squad=squad,
                confidence=confidence,
                threshold=threshold,
                threshold_source=ThresholdSource.OWN if threshold else ThresholdSource.RARE,
                target_precision=0.9,
                meets_threshold=meets,
                action=action,
                reasons=reasons,
            ),
        )

    return build

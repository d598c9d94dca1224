"""Classifier benchmark: baseline TF-IDF word 1-2-grams + LinearSVC vs the triage model.

Data: `../shared/data/it_service_tickets.csv.gz` (47,837 real IT tickets, columns
`Document`, `Topic_group`) when present, else `demo/history.csv` (synthetic: figures are
then for speed only). One stratified, seeded 80/20 split; both models see the same data.
The triage model is trained through the public `train_model` with a catalogue of one
group per label and no components (the public set has no catalogue); it chooses its
configuration by cross-validation on the training split and decides at the default
target precision (0.90) with its per-squad thresholds. `python -m bench
classifier_proxies` runs the harder proxies over several seeds.

Figures: accuracy, macro-F1, top-3 accuracy, coverage at >= 90% precision (largest share
auto-assignable, most confident first; the baseline ranks by its top decision value),
batch predictions/s on one core (threads limited to 1; ours through `TriageModel.predict`,
results included), single-case latency p50/p99, model file size. Times are CPU seconds of
this process (`time.process_time`; one thread), so other work on a shared machine does not
distort them; pin the process to one core to be sure (`taskset -c 0`).
"""

from __future__ import annotations

import csv
import gzip
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from contracts.catalogue import Catalogue, Squad, load_catalogue
from triage.classifier import CaseText, LabelledCase, read_history_csv, save_model, train_model
from triage.classifier.evaluate import evaluate_scores

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = Path(
    os.environ.get("BENCH_TICKETS", ROOT.parent / "shared/data/it_service_tickets.csv.gz")
)
DEMO_HISTORY = ROOT / "demo" / "history.csv"
DEMO_CATALOGUE = ROOT / "demo" / "catalogue"
SEED = 0
BATCH = 1000
SINGLE = 500


def _public() -> list[LabelledCase]:
    with gzip.open(PUBLIC, "rt", encoding="utf-8", newline="") as handle:
        return [LabelledCase("", r["Document"], r["Topic_group"]) for r in csv.DictReader(handle)]


def _label_catalogue(labels: Sequence[str]) -> Catalogue:
    squads = {s: Squad(name=s, title=s) for s in sorted(set(labels))}
    squads["service-delivery"] = Squad(
        name="service-delivery", title="Service Delivery", service_delivery=True
    )
    return Catalogue(squads=squads, components={}, digest="bench", source="bench")


def _rate(n: int, fn: Callable[[], object]) -> float:
    started = time.process_time()
    fn()
    return n / (time.process_time() - started)


def _latency(texts: Sequence[str], fn: Callable[[str], object]) -> tuple[float, float]:
    timings = []
    for text in texts:
        started = time.process_time()
        fn(text)
        timings.append((time.process_time() - started) * 1000)
    q = statistics.quantiles(timings, n=100)
    return q[49], q[98]


def _size(obj_or_dir: object) -> int:
    if isinstance(obj_or_dir, Path):
        return sum(p.stat().st_size for p in obj_or_dir.iterdir())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "baseline.joblib"
        joblib.dump(obj_or_dir, path, compress=3)
        return path.stat().st_size


def run() -> None:
    """Train both models, measure, and print a table with ratios."""
    if PUBLIC.is_file():
        examples = _public()
        catalogue = _label_catalogue([e.squad for e in examples])
        source = f"{PUBLIC.name} ({len(examples)} real tickets)"
    else:
        print(f"skip: {PUBLIC} not found; using synthetic {DEMO_HISTORY.name} (speed only)")
        examples = read_history_csv(DEMO_HISTORY)
        catalogue = load_catalogue(DEMO_CATALOGUE)
        source = f"{DEMO_HISTORY.name} ({len(examples)} synthetic cases)"
    train, test = train_test_split(
        examples, test_size=0.2, stratify=[e.squad for e in examples], random_state=SEED
    )
    truth = [e.squad for e in test]
    texts = [e.text for e in test]
    cases = [CaseText(e.title, e.description) for e in test]
    print(
        f"data: {source}; train {len(train)}, test {len(test)}; scikit-learn "
        f"{sklearn.__version__}; threads limited to 1; times in CPU seconds",
        flush=True,
    )

    with threadpool_limits(limits=1):
        started = time.process_time()
        vec = TfidfVectorizer(ngram_range=(1, 2))
        svc = LinearSVC().fit(vec.fit_transform([e.text for e in train]), [e.squad for e in train])
        base_fit = time.process_time() - started
        started = time.process_time()
        model, _ = train_model(train, catalogue, seed=SEED)
        ours_fit = time.process_time() - started
        print(
            f"fit: baseline {base_fit:.1f} s, ours {ours_fit:.1f} s (chose {model.scorer.kind} "
            f"by {model.info['selection']['folds']}-fold CV on "
            f"{model.info['selection']['cases']} cases)",
            flush=True,
        )

        scores = svc.decision_function(vec.transform(texts))
        base = evaluate_scores(truth, list(svc.classes_), scores)
        decided = model.predict(cases)
        assigned = np.array([r.decision == "assign" for r in decided])
        ours = evaluate_scores(truth, model.squads, model.predict_proba(cases), assigned=assigned)

        def base_batch() -> None:
            with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
                for i in range(0, len(texts), BATCH):
                    svc.decision_function(vec.transform(texts[i : i + BATCH]))

        def ours_batch() -> None:
            for i in range(0, len(cases), BATCH):
                model.predict(cases[i : i + BATCH])

        base_rate = max(_rate(len(texts), base_batch) for _ in range(2))
        ours_rate = max(_rate(len(cases), ours_batch) for _ in range(2))

        def base_one(text: str) -> None:
            with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
                svc.decision_function(vec.transform([text]))

        sample = texts[:SINGLE]
        base_p50, base_p99 = _latency(sample, base_one)
        ours_p50, ours_p99 = _latency(sample, lambda t: model.predict([CaseText("", t)]))
    with tempfile.TemporaryDirectory() as tmp:
        save_model(model, Path(tmp))
        ours_size = _size(Path(tmp))
    base_size = _size({"vectorizer": vec, "svc": svc})

    rows = [
        ("accuracy", base.accuracy, ours.accuracy, "pct"),
        ("macro-F1", base.macro_f1, ours.macro_f1, "pct"),
        ("top-3 accuracy", base.top3_accuracy, ours.top3_accuracy, "pct"),
        ("coverage at >=90% precision", base.coverage_at_90, ours.coverage_at_90, "pct"),
        ("batch predictions/s (1 core)", base_rate, ours_rate, "rate"),
        ("single case p50 (ms)", base_p50, ours_p50, "ms"),
        ("single case p99 (ms)", base_p99, ours_p99, "ms"),
        ("model size (MB, joblib)", base_size / 1e6, ours_size / 1e6, "mb"),
    ]
    print(f"\n{'':32s}{'baseline':>12s}{'ours':>12s}{'ours/base':>11s}{'diff':>10s}")
    for name, b, o, kind in rows:
        assert b is not None and o is not None
        if kind == "pct":
            print(f"{name:32s}{100 * b:11.2f}%{100 * o:11.2f}%{o / b:11.3f}{100 * (o - b):+9.2f}pt")
        elif kind == "rate":
            print(f"{name:32s}{b:12,.0f}{o:12,.0f}{o / b:11.3f}")
        else:
            print(f"{name:32s}{b:12.2f}{o:12.2f}{o / b:11.3f}")
    if ours.coverage is not None and ours.precision is not None:
        print(
            f"ours at target precision {model.operating.target if model.operating else '-'}: "
            f"{100 * ours.coverage:.1f}% of cases assigned, "
            f"{100 * ours.precision:.1f}% of them right (the baseline has no probability to "
            "put a threshold on)"
        )
    print(
        "\nbaseline: TfidfVectorizer(ngram_range=(1, 2)) + LinearSVC(), decision values; "
        "ours: triage.classifier via TriageModel.predict (calibrated probabilities)"
    )
    print(f"fit seconds: baseline {base_fit:.1f}, ours {ours_fit:.1f} ({ours_fit / base_fit:.1f}x)")


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    run()

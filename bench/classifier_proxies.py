"""Classifier on harder proxies of a real assignment history, several seeds each.

`python -m bench classifier_proxies` (`SEEDS` and `PROXIES` env variables narrow it, e.g.
`SEEDS=0 PROXIES=synthetic`; the slow `long` proxy runs only when named). For every proxy
of `bench.proxies` and seed: a stratified 80/20 split (squads with one case join the
training side), then in the same run, on one core:

* the plain baseline: `TfidfVectorizer(ngram_range=(1, 2))` + `LinearSVC()`;
* ours: `train_model` (cross-validated choice, calibration, thresholds for the default
  target precision 0.90), and `TriageModel.predict` for the decisions.

Columns: accuracy and macro-F1 of both (macro over the squads of the test split),
`cov` = share of test cases with `decision=assign`, `prec` = share of those right (the
owners' bar: cov >= 45% at prec >= 88%), `oof` = coverage/precision the training run
expected, training seconds of both, batch predictions/s of both (1,000 per call, ours with
decisions); times are CPU seconds of this process (`time.process_time`, one thread).
Nothing here is asserted; the figures are for comparing within one run.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from bench.classifier import PUBLIC, _label_catalogue
from bench.proxies import SLOW, Proxy, proxies, read_public
from triage.classifier import CaseText, LabelledCase, train_model

SEEDS = [int(s) for s in os.environ.get("SEEDS", "0,1,2").split(",")]
BATCH = 1000


def split(
    examples: Sequence[LabelledCase], seed: int
) -> tuple[list[LabelledCase], list[LabelledCase]]:
    """Stratified 80/20; squads with a single case stay in training."""
    rng = random.Random(seed)
    by: dict[str, list[LabelledCase]] = {}
    for e in examples:
        by.setdefault(e.squad, []).append(e)
    train: list[LabelledCase] = []
    test: list[LabelledCase] = []
    for name in sorted(by):
        rows = by[name]
        rng.shuffle(rows)
        cut = round(len(rows) * 0.2) if len(rows) > 1 else 0
        test.extend(rows[:cut])
        train.extend(rows[cut:])
    rng.shuffle(train)
    return train, test


def _macro(truth: np.ndarray, pred: np.ndarray) -> float:
    return float(
        f1_score(truth, pred, labels=sorted(set(truth.tolist())), average="macro", zero_division=0)
    )


def _rate(n: int, fn: object) -> float:
    best = 0.0
    for _ in range(2):
        started = time.process_time()
        fn()  # type: ignore[operator]
        best = max(best, n / (time.process_time() - started))
    return best


def one(name: str, examples: list[LabelledCase], seed: int) -> dict[str, float]:
    """Figures of both models on one proxy and seed."""
    train, test = split(examples, seed)
    truth = np.asarray([e.squad for e in test])
    texts = [e.text for e in test]
    cases = [CaseText(e.title, e.description) for e in test]
    started = time.process_time()
    vec = TfidfVectorizer(ngram_range=(1, 2))
    svc = LinearSVC().fit(vec.fit_transform([e.text for e in train]), [e.squad for e in train])
    base_fit = time.process_time() - started
    base_pred = svc.predict(vec.transform(texts))
    started = time.process_time()
    model, report = train_model(train, _label_catalogue([e.squad for e in examples]), seed=seed)
    ours_fit = time.process_time() - started
    results = model.predict(cases)
    pred = np.asarray([r.squad for r in results])
    confidence = np.asarray([r.confidence for r in results])
    assigned = np.asarray([r.decision == "assign" for r in results])
    base_rate = _rate(
        len(texts),
        lambda: [
            svc.decision_function(vec.transform(texts[i : i + BATCH]))
            for i in range(0, len(texts), BATCH)
        ],
    )
    ours_rate = _rate(
        len(cases),
        lambda: [model.predict(cases[i : i + BATCH]) for i in range(0, len(cases), BATCH)],
    )
    return {
        "n": len(train),
        "squads": len({e.squad for e in train}),
        "base_acc": float((base_pred == truth).mean()),
        "base_f1": _macro(truth, base_pred),
        "acc": float((pred == truth).mean()),
        "f1": _macro(truth, pred),
        "cov": float(assigned.mean()),
        "prec": float((pred[assigned] == truth[assigned]).mean()) if assigned.any() else np.nan,
        "best": best_coverage(confidence, pred == truth, 0.9),
        "oof_cov": report.coverage or 0.0,
        "oof_prec": report.precision or float("nan"),
        "base_fit": base_fit,
        "fit": ours_fit,
        "base_rate": base_rate,
        "rate": ours_rate,
        "chosen": model.scorer.kind,  # type: ignore[dict-item]
    }


def best_coverage(confidence: np.ndarray, correct: np.ndarray, target: float) -> float:
    """The largest share of cases assignable, most confident first, at `target` precision
    on these very cases (an oracle cut: what any threshold could reach at best)."""
    order = np.argsort(-confidence, kind="stable")
    precision = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    ok = np.flatnonzero(precision >= target)
    return float((ok[-1] + 1) / len(order)) if len(ok) else 0.0


HEADER = (
    f"{'proxy':10s}{'seed':>5s}{'cases':>7s}{'squads':>7s} | {'base acc':>8s}{'f1':>7s} | "
    f"{'ours acc':>8s}{'f1':>7s}{'cov':>7s}{'prec':>7s}{'best':>6s}{'oof cov':>8s}{'prec':>7s} | "
    f"{'fit s':>6s}{'base':>6s} | {'pred/s':>7s}{'base':>7s} | chosen"
)


def _row(name: str, seed: object, r: dict[str, float]) -> str:
    return (
        f"{name:10s}{seed!s:>5s}{r['n']:7.0f}{r['squads']:7.0f} | {r['base_acc']:8.3f}"
        f"{r['base_f1']:7.3f} | {r['acc']:8.3f}{r['f1']:7.3f}{r['cov']:7.3f}{r['prec']:7.3f}"
        f"{r['best']:6.3f}"
        f"{r['oof_cov']:8.3f}{r['oof_prec']:7.3f} | {r['fit']:6.1f}{r['base_fit']:6.1f} | "
        f"{r['rate']:7.0f}{r['base_rate']:7.0f} | {r.get('chosen', '')}"
    )


def wanted_proxies() -> tuple[dict[str, Proxy], list[str]]:
    """The proxies available here and the names to run: those `PROXIES` names, else every
    one but the slow ones (says so when the public set is missing)."""
    public = read_public(PUBLIC) if PUBLIC.is_file() else None
    if public is None:
        print(f"skip: {PUBLIC} not found; only the synthetic proxy runs")
    found = proxies(public)
    wanted = os.environ.get("PROXIES")
    names = [n for n in found if (n in wanted.split(",") if wanted else n not in SLOW)]
    return found, names


def run() -> None:
    """Every proxy and seed, then the mean per proxy."""
    found, names = wanted_proxies()
    print(HEADER, flush=True)
    with threadpool_limits(limits=1):
        for name in names:
            rows = []
            for seed in SEEDS:
                rows.append(one(name, found[name](seed), seed))
                print(_row(name, seed, rows[-1]), flush=True)
            if len(rows) > 1:
                mean = {k: statistics.fmean(r[k] for r in rows) for k in rows[0] if k != "chosen"}
                chosen = Counter(str(r["chosen"]) for r in rows).most_common()
                mean["chosen"] = ", ".join(f"{k} x{v}" for k, v in chosen)  # type: ignore[assignment]
                print(_row(name, "mean", mean), flush=True)
    print(
        "\ncov/prec: share of test cases decided `assign` at the default target precision "
        "(0.90) and the share of those right; best: the largest share any cut on confidence "
        "reaches at 90% precision on the test cases themselves; oof: what training expected "
        "from its out-of-fold predictions"
    )


if __name__ == "__main__":
    run()

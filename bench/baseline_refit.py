"""The baseline as the chosen candidate: served fold mean against a refit on every case.

`python -m bench baseline_refit` (`SEEDS` and `PROXIES` narrow it as in
`bench.classifier_proxies`, same splits). For every proxy and seed, `train_model` runs with
the candidate pool restricted to `candidates.BASELINE` (the selection step is wrapped for
this run only, so the baseline is what cross-validation "chooses"), and the trained model
is scored on the test split twice, with the same temperature and per-squad thresholds
(both come from the out-of-fold scores):

* `fold` - as served: the mean of the baseline's fold models (each on 2/3 of the history);
* `refit` - the baseline refitted on every training case and pseudo document
  (`train.final_rows`), its weights swapped into the same scorer.

Columns: accuracy, macro-F1, coverage (`decision=assign`) and realised precision of both,
the precision the out-of-fold evidence promised, the CPU seconds of the (baseline-only)
training and of the extra refit. The CPU of a normal training run (every candidate) is
`bench.classifier_proxies`' `fit s`. Nothing here is asserted.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

import triage.classifier.train as train_module
from bench.classifier import _label_catalogue
from bench.classifier_proxies import SEEDS, _macro, split, wanted_proxies
from triage.classifier import CaseText, LabelledCase, TriageModel
from triage.classifier.candidates import BASELINE, Candidate
from triage.classifier.selection import Selection, fit_linear, linear_weights

KEYS = (
    "fold_acc", "refit_acc", "fold_f1", "refit_f1", "fold_cov", "refit_cov",
    "fold_prec", "refit_prec", "oof_prec", "fit", "refit",
)  # fmt: skip


@contextmanager
def baseline_only(seen: dict[str, Any]) -> Iterator[None]:
    """Within the block, `train_model` cross-validates the baseline alone; the training
    matrix, labels and squads it selected on are left in `seen`."""
    select = train_module.select

    def only_baseline(
        pool: Sequence[Candidate],
        matrix: Callable[[Candidate], Any],
        y: np.ndarray,
        n_history: int,
        squads: list[str],
        **kwargs: Any,
    ) -> Selection:
        seen.update(matrix=matrix, y=y, n_history=n_history, squads=squads)
        return select([BASELINE], matrix, y, n_history, squads, **kwargs)

    train_module.select = only_baseline
    try:
        yield
    finally:
        train_module.select = select


def _figures(model: TriageModel, cases: list[CaseText], truth: np.ndarray) -> dict[str, float]:
    results = model.predict(cases)
    pred = np.asarray([r.squad for r in results])
    assigned = np.asarray([r.decision == "assign" for r in results])
    return {
        "acc": float((pred == truth).mean()),
        "f1": _macro(truth, pred),
        "cov": float(assigned.mean()),
        "prec": float((pred[assigned] == truth[assigned]).mean()) if assigned.any() else np.nan,
    }


def one(examples: list[LabelledCase], seed: int) -> dict[str, float]:
    """Both forms of the chosen baseline on one proxy and seed."""
    train, test = split(examples, seed)
    truth = np.asarray([e.squad for e in test])
    cases = [CaseText(e.title, e.description) for e in test]
    seen: dict[str, Any] = {}
    started = time.process_time()
    with baseline_only(seen):
        model, report = train_module.train_model(
            train, _label_catalogue([e.squad for e in examples]), seed=seed
        )
    fit = time.process_time() - started
    fold = _figures(model, cases, truth)
    started = time.process_time()
    x, y = seen["matrix"](BASELINE), seen["y"]
    rows = train_module.final_rows(x, y, seen["n_history"], seed)
    weights, bias = linear_weights(fit_linear(x[rows], y[rows], BASELINE, seed), seen["squads"])
    refit_cpu = time.process_time() - started
    model.scorer = dataclasses.replace(
        model.scorer, weights=np.ascontiguousarray(weights), intercepts=bias
    )
    refit = _figures(model, cases, truth)
    return {
        **{f"fold_{k}": v for k, v in fold.items()},
        **{f"refit_{k}": v for k, v in refit.items()},
        "oof_prec": report.precision or np.nan,
        "fit": fit,
        "refit": refit_cpu,
    }


def _row(name: str, seed: object, r: dict[str, float]) -> str:
    return f"{name:10s}{seed!s:>5s} " + "".join(f"{r[k]:11.4f}" for k in KEYS)


def run() -> None:
    """Every proxy and seed, then the mean per proxy."""
    found, names = wanted_proxies()
    print(f"{'proxy':10s}{'seed':>5s} " + "".join(f"{k:>11s}" for k in KEYS), flush=True)
    with threadpool_limits(limits=1):
        for name in names:
            rows = []
            for seed in SEEDS:
                rows.append(one(found[name](seed), seed))
                print(_row(name, seed, rows[-1]), flush=True)
            if len(rows) > 1:
                mean = {k: statistics.fmean(r[k] for r in rows) for k in KEYS}
                print(_row(name, "mean", mean), flush=True)


if __name__ == "__main__":
    run()

"""Training time of `train_model` for a 6k-case and a 50k-case many-class history.

`python -m bench train_time` (run it pinned to one core: `taskset -c 0 .venv/bin/python -m
bench train_time`). The budget in issue 7: <= 20 s for 6k cases, <= 60 s for 50k, on one
core. Histories, built from the public IT-tickets set relabelled into its ~70 subgroups
(`bench.proxies.subgroups`; without the public set only the synthetic 6k history runs):

* `6k short` - 6,000 cases drawn from the subgroups, texts cut to 6-20 words (as the desk
  proxy and a real incident history: short texts), 5% label noise;
* `50k short` - the same for 50,000 cases (drawn with replacement: each drawn case keeps
  a different random cut of its text);
* `50k long` - the whole public set (47,837 full-length texts, often 100+ words) plus
  2,163 cut copies: the worst case here, ~6x the n-gram entries per case of `50k short`;
* `6k synthetic` - `bench.proxies.synthetic_history` with 6,000 cases and 60 groups.

Printed per history: cases, squads, CPU seconds of this process (`time.process_time`;
threads limited to 1, so CPU seconds are one core's work, whatever else the machine
runs), wall seconds, the configuration chosen and the CPU seconds of each stage.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from itertools import pairwise

from threadpoolctl import threadpool_limits

from bench.classifier import PUBLIC, _label_catalogue
from bench.proxies import add_label_noise, read_public, subgroups, synthetic_history, truncate
from triage.classifier import LabelledCase, train_model


def histories() -> dict[str, Callable[[], list[LabelledCase]]]:
    """The histories timed, by name (built lazily)."""
    found: dict[str, Callable[[], list[LabelledCase]]] = {}
    if PUBLIC.is_file():
        split = subgroups(read_public(PUBLIC))

        def short(n: int) -> Callable[[], list[LabelledCase]]:
            def build() -> list[LabelledCase]:
                rng = random.Random(n)
                drawn = rng.choices(split, k=n)
                return add_label_noise(truncate(drawn, rng, 6, 20), 0.05, rng)

            return build

        def long() -> list[LabelledCase]:
            rng = random.Random(0)
            extra = truncate(rng.sample(split, 50000 - len(split)), rng, 6, 20)
            out = [*split, *extra]
            rng.shuffle(out)
            return out

        found |= {"6k short": short(6000), "50k short": short(50000), "50k long": long}
    found["6k synthetic"] = lambda: synthetic_history(0, n=6000)
    return found


def run() -> None:
    """Train on every history and print the seconds."""
    if not PUBLIC.is_file():
        print(f"skip: {PUBLIC} not found; only the synthetic history runs")
    print("budget (issue 7): <= 20 s for 6k cases, <= 60 s for 50k, one core", flush=True)
    print(f"{'history':14s}{'cases':>7s}{'squads':>7s}{'cpu s':>8s}{'wall s':>8s}  chosen; stages")
    with threadpool_limits(limits=1):
        for name, build in histories().items():
            examples = build()
            stages: list[tuple[str, float]] = []
            mark = stages.append
            catalogue = _label_catalogue([e.squad for e in examples])
            wall, cpu = time.perf_counter(), time.process_time()
            model, _ = train_model(
                examples,
                catalogue,
                seed=0,
                on_step=lambda label, mark=mark: mark((label, time.process_time())),
            )
            cpu_end = time.process_time()
            wall = time.perf_counter() - wall
            marks = [*stages, ("end", cpu_end)]
            spent = ", ".join(
                f"{label.split(' (')[0]} {end - start:.1f}"
                for (label, start), (_, end) in pairwise(marks)
            )
            print(
                f"{name:14s}{len(examples):7d}{len({e.squad for e in examples}):7d}"
                f"{cpu_end - cpu:8.1f}{wall:8.1f}  {model.scorer.kind}; {spent}",
                flush=True,
            )


if __name__ == "__main__":
    run()

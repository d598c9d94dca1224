"""Run the benchmarks: `python -m bench [name ...]` (all modules with `run()` by default)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench


def main(argv: list[str]) -> int:
    """Run the named benchmark modules (all when none are named); return an exit status."""
    found = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_")
    )
    names = argv or found
    unknown = [n for n in names if n not in found]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(found)}")
        return 2
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        run = getattr(module, "run", None)
        if run is None:
            continue
        print(f"== bench.{name} ==", flush=True)
        started = time.perf_counter()
        run()
        print(f"== bench.{name} done in {time.perf_counter() - started:.1f} s ==\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
